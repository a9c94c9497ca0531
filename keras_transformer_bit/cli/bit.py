"""`ktb bit train|evaluate|export`: fine-tune BiT with the HyperRule and serve it.

Examples:
    ktb bit train --data fashion_mnist --model-dir runs/fmnist --preset bit_tiny \\
        --shots 10 --crop-size 32 --batch-size 64 --schedule-scale 0.2
    ktb bit train --data tfds:oxford_iiit_pet --model-dir runs/pets \\
        --preset bit_m_r50x1 --weights imagenet21k --micro-batch-size 32
    ktb bit evaluate --model-dir runs/pets
    ktb bit export --model-dir runs/pets --output exported/pets

Training writes a backup into MODEL_DIR after each of `--num-epochs` epochs
(the HyperRule schedule is split, unchanged, into that many parts): the same
command run again after a crash resumes at the last finished epoch, and run
again after the end says the run is finished and trains nothing. A run keeps
its training flags: the same MODEL_DIR with another value of one of them
(--data, --preset, --weights, --shots, --seed, --batch-size, --crop-size,
--schedule-scale, ...) is refused, naming the flag and both values; train
into a new MODEL_DIR instead. Paths are compared resolved (absolute, with
`folder:` and a checkpoint's `.npz` left implicit), and the run records a
fingerprint of its training data (files and sizes per class), so resuming on
another folder, or on a folder whose files changed, is refused too.

`ktb bit export` writes MODEL_DIR/export/1, then 2, ...: TF Serving serves
the highest numbered subdirectory of its model base path (docs/serving.md).

Several hosts: run the same `ktb bit train ... --strategy multi_worker` on
every host, each with its own TF_CONFIG (worker 0 is the chief), and a
MODEL_DIR on storage all hosts share (docs/scaling.md, section 3):

    export TF_CONFIG='{"cluster": {"worker": ["hostA:2222", "hostB:2222"]},
                       "task": {"type": "worker", "index": 0}}'   # 1 on hostB
    ktb bit train --data fashion_mnist --model-dir $SHARED/runs/fmnist \\
        --preset bit_tiny --strategy multi_worker

Keras `fit` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585), so that path trains with
`ktb.distribute.CustomTrainingLoop`: the same model, loss, optimizer, schedule
and batches, each global batch split over the workers; the chief writes the
checkpoints, model.keras and bit_config.json.
"""

import argparse
import json
import os
import warnings

DATA_HELP = (
    "'fashion_mnist' (Debian dataset-fashion-mnist), 'tfds:NAME' (TensorFlow "
    "Datasets), or 'folder:PATH' / PATH (one subfolder per class; a folder "
    "has no splits, so evaluate with the test folder)"
)
EXPORT_DIRNAME = "export"
# The splits of --data for `ktb bit evaluate`, but TFDS's, which TFDS checks.
SPLITS = ("train", "test")


def load_split(data, split):
    """Reads `--data` for `split` ("train" or "test") as a `LabeledImages`."""
    from keras_transformer_bit.training.bit_run import load_split as load

    return load(data, split, "--data")


def _add_common(parser):
    parser.add_argument("--data", required=True, help=DATA_HELP)
    parser.add_argument("--model-dir", required=True, help="where the run lives")
    parser.add_argument(
        "--strategy",
        default="auto",
        help="auto, one_device, mirrored, or multi_worker (train only; one "
        "process per host, each with its TF_CONFIG)",
    )
    parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 on GPU, mixed_bfloat16 on CPU",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="train: examples per update (default: the rule's 512; see "
        "--batch-scaling); evaluate: examples per batch (default: 256)",
    )


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "bit", help="BiT: fine-tune with the HyperRule, evaluate, export"
    )
    commands = parser.add_subparsers(dest="bit_command", metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="fine-tune with the BiT-HyperRule",
        description=__doc__,  # examples, backups, the multi-worker recipe
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(train)
    train.add_argument("--preset", default="bit_m_r50x1")
    train.add_argument("--weights", default=None, help="preset weights tag or .npz")
    train.add_argument("--shots", type=int, default=None, help="examples per class")
    train.add_argument(
        "--seed",
        type=int,
        default=0,
        help="an int in [0, 2**32 - 1] seeding few-shot sampling, shuffling, "
        "augmentation and the initial weights (default: 0)",
    )
    train.add_argument(
        "--micro-batch-size",
        type=int,
        default=None,
        help="accumulate gradients to the rule's batch of 512",
    )
    train.add_argument(
        "--batch-scaling",
        choices=["official", "linear"],
        default="official",
        help="with --batch-size: 'official' keeps the batch-512 learning rate "
        "and steps, as big_transfer's bit_tf2 code does; 'linear' scales the "
        "learning rate by batch/512 and the steps by 512/batch",
    )
    train.add_argument(
        "--eval-every",
        type=int,
        default=None,
        help="evaluate on --eval-data every this many updates (like the "
        "official --eval_every); also splits the schedule into epochs",
    )
    train.add_argument(
        "--eval-data",
        default=None,
        help="the evaluation set for --eval-every, as --data (default: the "
        "test split of --data; required for folders)",
    )
    train.add_argument(
        "--crop-size",
        type=int,
        default=None,
        help="override the rule's resolution (keeps its resize/crop ratio)",
    )
    train.add_argument(
        "--schedule-scale",
        type=float,
        default=1.0,
        help="run this fraction of the schedule (smoke runs, budgets)",
    )
    train.add_argument(
        "--num-epochs",
        type=int,
        default=None,
        help="split the schedule into this many epochs, each ending with a "
        "backup that a restarted run resumes from (default: bit_fine_tune's, 10)",
    )
    train.add_argument(
        "--worker-timeout",
        type=float,
        default=600,
        help="multi_worker: seconds without a finished training step after "
        "which a worker gives up and exits with status 75",
    )
    train.add_argument(
        "--shard-files",
        action="store_true",
        help="multi_worker: each worker reads, decodes and augments only its "
        "share of the training images instead of every global batch (docs/scaling.md)",
    )
    train.set_defaults(handler=train_command)

    evaluate = commands.add_parser("evaluate", help="test accuracy of a trained run")
    _add_common(evaluate)
    evaluate.add_argument(
        "--split",
        default="test",
        help="'train' or 'test' (default) for fashion_mnist; any TFDS split "
        "for tfds:NAME; a folder is evaluated whole, and the split ('train' "
        "or 'test') only names the result file, SPLIT_metrics.json",
    )
    evaluate.set_defaults(handler=evaluate_command)

    export = commands.add_parser("export", help="SavedModel taking image bytes")
    export.add_argument("--model-dir", required=True)
    export.add_argument(
        "--output",
        default=None,
        help="SavedModel directory (default: MODEL_DIR/export/N, the next "
        "version). TF Serving loads numbered version directories under its "
        "--model_base_path: export to BASE/1, BASE/2, ... and serve BASE. "
        "An existing path is refused (nothing is ever deleted or replaced), "
        "as is MODEL_DIR itself or a directory containing it",
    )
    export.set_defaults(handler=export_command)
    return parser


def _setup(args):
    from keras_transformer_bit import distribute

    if args.mixed_precision:
        distribute.set_mixed_precision("auto")
    strategy = distribute.get_strategy(args.strategy)
    # Only `evaluate` gets here (`train` runs through BiTRun, which has a
    # multi-worker path).
    distribute.check_strategy_supports_fit(strategy, f"ktb bit {args.bit_command}")
    return strategy


def _read_config(model_dir):
    from keras_transformer_bit.training.bit_run import CONFIG_FILE, FLAGS_FILE
    from keras_transformer_bit.utils.gfile import gfile

    path = os.path.join(model_dir, CONFIG_FILE)
    if not gfile.exists(path) and gfile.exists(os.path.join(model_dir, FLAGS_FILE)):
        raise FileNotFoundError(
            f"--model-dir {model_dir} holds an unfinished run of `ktb bit train` "
            f"(it has {FLAGS_FILE} but no {CONFIG_FILE} yet: it was stopped "
            "before the end). Rerun the same `ktb bit train` command to resume "
            "it, then evaluate or export it."
        )
    if not gfile.exists(path):
        raise FileNotFoundError(
            f"{path} not found: --model-dir must hold a run of `ktb bit train`."
        )
    with gfile.GFile(path, "r") as file:
        return json.load(file)


def _load_model(model_dir):
    import keras

    # Registers the BiT classes (and the schedules) for load_model.
    from keras_transformer_bit import models, recipes  # noqa: F401
    from keras_transformer_bit.training.bit_run import MODEL_FILE

    return keras.saving.load_model(os.path.join(model_dir, MODEL_FILE), compile=False)


def _flag_text(name, value):
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"no {flag}"
    return f"{flag} {'(not given)' if value is None else value}"


def bit_run(args):
    """The `ktb.training.BiTRun` of `ktb bit train`'s flags."""
    from keras_transformer_bit.training.bit_run import SETTINGS, BiTRun

    # Messages name the settings by their flags.
    keys = (*SETTINGS, "model_dir", "strategy", "worker_timeout")
    names = {key: "--" + key.replace("_", "-") for key in keys}
    return BiTRun(
        args.model_dir,
        strategy=args.strategy,
        names=names,
        describe=_flag_text,
        **{name: getattr(args, name) for name in SETTINGS},
    )


def check_split(data, split):
    """Refuses a `--split` that `--data` does not have, naming the valid ones."""
    if data.startswith("tfds:") or split in SPLITS:
        return  # TFDS checks its own split names (and slices)
    what = (
        "fashion_mnist has the splits"
        if data == "fashion_mnist"
        else "a folder is evaluated whole; its --split only names the result "
        "file and must be one of"
    )
    raise ValueError(
        f"--split must be one of {list(SPLITS)} ({what} {', '.join(SPLITS)}). "
        f"Received: --split {split!r}"
    )


def default_export_path(model_dir):
    """The next TF Serving version under `model_dir/export`: 1, then 2, ...

    Example:
    >>> default_export_path("runs/pets")  # with no export there yet
    'runs/pets/export/1'
    """
    from keras_transformer_bit.export import next_version_path

    return next_version_path(os.path.join(model_dir, EXPORT_DIRNAME))


def train_command(args):
    """`ktb bit train`: the flags, then one `BiTRun`."""
    bit_run(args).train(worker_timeout=args.worker_timeout, verbose=2)
    return 0


def evaluate_command(args):
    from keras_transformer_bit import recipes
    from keras_transformer_bit.utils import check_positive_int, write_text_atomically

    if args.batch_size is not None:
        check_positive_int("--batch-size", args.batch_size)
    check_split(args.data, args.split)
    strategy = _setup(args)
    config = _read_config(args.model_dir)
    with strategy.scope():
        classifier = _load_model(args.model_dir)
    if getattr(classifier, "class_names", None) is None:
        # A run saved before models carried their class names: the run's own.
        classifier.class_names = config.get("class_names")
    test = load_split(args.data, args.split)  # matched to the model by name
    result = recipes.bit_evaluate(
        classifier,
        test,
        config["crop_size"],
        batch_size=256 if args.batch_size is None else args.batch_size,
    )
    print(json.dumps(result))
    write_text_atomically(
        os.path.join(args.model_dir, f"{args.split}_metrics.json"), json.dumps(result)
    )
    return 0


def _normalized(path):
    from keras_transformer_bit.utils.gfile import is_remote

    path = str(path)
    if is_remote(path):
        scheme, rest = path.split("://", 1)
        return f"{scheme}://" + os.path.normpath("/" + rest).lstrip("/")
    return os.path.realpath(path)


def check_export_output(output, model_dir):
    """Refuses an `--output` that is, contains or already exists as a path.

    Raises:
        ValueError: when `output` is `model_dir` or a directory above it.
        FileExistsError: when `output` exists (naming the next free version).
    """
    from keras_transformer_bit.export import check_new_export_path

    output_path, run_path = _normalized(output), _normalized(model_dir)
    if output_path == run_path or run_path.startswith(output_path.rstrip("/") + "/"):
        what = "is" if output_path == run_path else "contains"
        raise ValueError(
            f"--output {output} {what} the --model-dir {model_dir}: the export "
            "would take the place of the run. Leave --output out to export "
            f"to {default_export_path(model_dir)}, or choose a path outside "
            "the run."
        )
    check_new_export_path(output)


def export_command(args):
    from keras_transformer_bit.export import export_image_classifier

    output = args.output or default_export_path(args.model_dir)
    check_export_output(output, args.model_dir)
    config = _read_config(args.model_dir)
    version = os.path.basename(os.path.normpath(output))
    if not version.isdigit():
        warnings.warn(
            f"--output {output} does not end in a version number: TF Serving "
            "serves only numbered subdirectories of its --model_base_path "
            f"(BASE/1, BASE/2, ...), so it would not find this export. To serve "
            f"it, export to e.g. {os.path.join(output, '1')} and give TF Serving "
            f"{output}.",
            UserWarning,
            stacklevel=2,
        )
    classifier = _load_model(args.model_dir)
    export_image_classifier(
        classifier,
        output,
        image_size=config["crop_size"],
        class_names=config["class_names"],
    )
    print(f"Exported {output}")
    return 0
