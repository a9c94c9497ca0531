"""The `ktb` command.

Each command group lives in its own module exposing `add_parser(subparsers)`; the
parser it adds carries a `handler` default that receives the parsed arguments.

Examples:
    ktb translate train --data ding --model-dir runs/de_en --budget-minutes 20
    ktb bit train --data fashion_mnist --model-dir runs/fmnist --preset bit_tiny

Training scales with `--strategy`: `mirrored` (every local GPU) or
`multi_worker` (the same command on every host, each with its TF_CONFIG;
docs/scaling.md).
"""

import argparse
import importlib
import os
import sys

# Command group name -> module under keras_transformer_bit.cli.
COMMAND_MODULES = {
    "translate": "keras_transformer_bit.cli.translate",
    "bit": "keras_transformer_bit.cli.bit",
    "tune": "keras_transformer_bit.cli.tune",
}


def build_parser():
    """Returns the `ktb` argument parser, one subcommand group per module.

    A group whose module cannot be imported (an optional dependency missing)
    is left out. Parsing imports no TensorFlow; the handlers do.
    """
    parser = argparse.ArgumentParser(
        prog="ktb",
        description="Train, evaluate, tune and export Transformer and BiT models. "
        "Training takes --strategy one_device, mirrored or multi_worker "
        "(TF_CONFIG on every host; see docs/scaling.md).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args) or 0
    except Exception as error:
        # Imported here: the handlers import TensorFlow, the parser does not.
        from keras_transformer_bit.distribute.cluster_error import (
            WORKER_FAILURE_EXIT_CODE,
            ClusterError,
        )

        if not isinstance(error, ClusterError):
            raise
        # A lost worker is not a bug of this process: no traceback, and the
        # status a scheduler restarts on (docs/scaling.md).
        print(f"ERROR: {error}", file=sys.stderr, flush=True)
        return WORKER_FAILURE_EXIT_CODE


# Errors that mean "the command line or its inputs are wrong": one line, no
# traceback (set KTB_TRACEBACK=1 to see it).
_USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError)


def run(argv=None):
    """The `ktb` console script: `main`, with user errors as one line.

    A bad flag or input (`ValueError`, `TypeError`, a missing file) prints
    `ktb: error: ...` and exits 2, as argparse does; Ctrl-C prints how to
    resume and exits 130. `main` itself raises, for callers and tests.
    """
    try:
        return main(argv)
    except KeyboardInterrupt:
        print(
            "\nktb: interrupted. Run the same command again to go on: training "
            "resumes from its last backup (a run stopped before its first "
            "backup starts over).",
            file=sys.stderr,
        )
        return 130
    except _USER_ERRORS as error:
        if os.environ.get("KTB_TRACEBACK"):
            raise
        print(f"ktb: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
