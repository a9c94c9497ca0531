"""The `ktb` command: train, evaluate, predict, tune and export from a shell.

`ktb translate train|evaluate|predict|export` (translate.py) runs the
Transformer from a parallel corpus to a TF Serving SavedModel; `ktb bit
train|evaluate|export` (bit.py) fine-tunes BiT with the HyperRule; `ktb tune
transformer|bit` (tune.py) runs a KerasTuner search. `ktb --help` and each
group's `--help` answer without importing TensorFlow: each command module
imports it in its handlers.

From Python, `keras_transformer_bit.cli.main.main(argv)` runs a command line
and returns its exit status; `build_parser()` returns the `argparse` parser.

Example:
>>> from keras_transformer_bit.cli import build_parser
>>> args = build_parser().parse_args(["translate", "export", "--model-dir", "runs/x"])
>>> args.translate_command, args.output
('export', None)
"""

from keras_transformer_bit.cli.main import build_parser

__all__ = ["build_parser"]
