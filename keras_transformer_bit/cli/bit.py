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
import dataclasses
import json
import os
import warnings

DATA_HELP = (
    "'fashion_mnist' (Debian dataset-fashion-mnist), 'tfds:NAME' (TensorFlow "
    "Datasets), or 'folder:PATH' / PATH (one subfolder per class; a folder "
    "has no splits, so evaluate with the test folder)"
)
CONFIG_FILE = "bit_config.json"
MODEL_FILE = "model.keras"
# The training flags of a run in progress; merged into CONFIG_FILE at the end.
FLAGS_FILE = "bit_train_flags.json"
EXPORT_DIRNAME = "export"
# Flags that decide what a run trains, by argparse name. A rerun in the same
# --model-dir must repeat them (--strategy and --worker-timeout may change).
TRAINING_FLAGS = (
    "data",
    "eval_data",
    "preset",
    "weights",
    "shots",
    "seed",
    "batch_size",
    "micro_batch_size",
    "batch_scaling",
    "eval_every",
    "crop_size",
    "schedule_scale",
    "num_epochs",
    "shard_files",
    "mixed_precision",
)
# The splits of --data for `ktb bit evaluate`, but TFDS's, which TFDS checks.
SPLITS = ("train", "test")


def load_split(data, split):
    """Reads `--data` for `split` ("train" or "test") as a `LabeledImages`."""
    from keras_transformer_bit import data as ktb_data

    if data == "fashion_mnist":
        return ktb_data.load_fashion_mnist(split)
    if data.startswith("tfds:"):
        return ktb_data.load_tfds_images(data[len("tfds:") :], split)
    path = data[len("folder:") :] if data.startswith("folder:") else data
    if os.path.isdir(path):
        return ktb_data.load_image_folder(path)
    raise ValueError(f"--data must be {DATA_HELP}. Received: --data={data!r}")


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
    if args.bit_command != "train":  # train has a multi-worker path
        distribute.check_strategy_supports_fit(strategy, f"ktb bit {args.bit_command}")
    return strategy


def _read_config(model_dir):
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

    return keras.saving.load_model(os.path.join(model_dir, MODEL_FILE), compile=False)


def _check_train_flags(args):
    """Refuses zero and negative sizes before any data is read."""
    from keras_transformer_bit.utils import check_positive_int, check_seed

    # `is not None`, never truthiness: `--shots 0` must fail, not mean "all".
    for flag in (
        "--shots",
        "--batch-size",
        "--micro-batch-size",
        "--crop-size",
        "--num-epochs",
        "--eval-every",
    ):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            check_positive_int(flag, value)
    check_seed(args.seed, "--seed", allow_none=False)
    if not 0 < args.schedule_scale <= 1:
        raise ValueError(
            "--schedule-scale must be in (0, 1] (the fraction of the schedule "
            f"to run). Received: --schedule-scale={args.schedule_scale}"
        )
    if args.eval_every is not None and args.num_epochs is not None:
        raise ValueError(
            "Pass either --num-epochs or --eval-every: both set the length of "
            f"an epoch. Received: --num-epochs={args.num_epochs}, "
            f"--eval-every={args.eval_every}"
        )
    if args.eval_every is not None and args.eval_data is None:
        if args.data != "fashion_mnist" and not args.data.startswith("tfds:"):
            raise ValueError(
                "--eval-every needs --eval-data with a folder: a folder has no "
                f"test split. Received: --data={args.data!r}, --eval-data=None"
            )


def _check_train_strategy(args, strategy):
    """Refuses flags that do not fit the strategy, before any data is read.

    Every batch (each micro-batch with `--micro-batch-size`) is split evenly
    over the replicas; an uneven split fails inside training (Keras cannot add
    the replicas' gradients of different shapes).
    """
    from keras_transformer_bit import distribute

    replicas = strategy.num_replicas_in_sync
    for flag in ("--batch-size", "--micro-batch-size"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None and value % replicas:
            below = max(replicas, value // replicas * replicas)
            raise ValueError(
                f"{flag} {value} does not split evenly over the {replicas} "
                f"replicas of {distribute.describe_strategy(strategy)}: pass a "
                f"multiple of {replicas}, e.g. {flag} {below} or "
                f"{below + replicas}."
            )
    if args.shard_files and not distribute.needs_custom_training_loop(strategy):
        raise ValueError(
            "--shard-files splits the image files over the workers of "
            "--strategy multi_worker; this run has one process "
            f"({distribute.describe_strategy(strategy)}). Leave --shard-files "
            f"out, or train with --strategy multi_worker. Received: --strategy "
            f"{args.strategy} --shard-files"
        )


def _flag_text(name, value):
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"no {flag}"
    return f"{flag} {'(not given)' if value is None else value}"


def resolved_data(data):
    """`--data` as a run records it: a folder as its absolute, real path.

    `folder:PATH`, `PATH`, `./PATH` and the absolute path of the same folder
    are one value, and the same relative PATH typed in another directory is
    another value. `fashion_mnist` and `tfds:NAME` are kept as they are.

    Example:
    >>> resolved_data("tfds:oxford_iiit_pet")
    'tfds:oxford_iiit_pet'
    """
    if data is None or data == "fashion_mnist" or data.startswith("tfds:"):
        return data
    return os.path.realpath(
        data[len("folder:") :] if data.startswith("folder:") else data
    )


def resolved_weights(weights):
    """`--weights` as a run records it: a local file as its absolute path.

    A file is named with its `.npz` suffix, which `from_preset` lets users
    leave out; a weights tag (`imagenet21k`) or a URL is kept as it is.

    Example:
    >>> resolved_weights("imagenet21k")
    'imagenet21k'
    """
    if weights is None or "://" in weights:
        return weights
    for path in (weights, weights + ".npz"):
        if os.path.isfile(path):
            return os.path.realpath(path)
    return weights


_RESOLVERS = {"data": resolved_data, "eval_data": resolved_data}
_RESOLVERS["weights"] = resolved_weights


def training_flags(args):
    """The flags of `ktb bit train` that decide what the run trains.

    Paths are resolved (`resolved_data`, `resolved_weights`), so a rerun from
    another directory is compared by the files it would read.
    """
    return {
        name: _RESOLVERS.get(name, lambda value: value)(getattr(args, name))
        for name in TRAINING_FLAGS
    }


def changed_training_flags(saved_flags, flags):
    """`"--flag given (saved: --flag value)"` for each flag that differs.

    A flag missing from `saved_flags` (a run saved before it was recorded)
    is not compared. Saved paths are resolved too: a run recorded before
    paths were resolved is compared as if run from the current directory.
    """
    changes = []
    for name, value in flags.items():
        if name not in saved_flags:
            continue
        saved = saved_flags[name]
        if isinstance(saved, str):
            saved = _RESOLVERS.get(name, lambda value: value)(saved)
        if saved != value:
            changes.append(
                f"{_flag_text(name, value)} (saved: {_flag_text(name, saved)})"
            )
    return changes


def check_same_data(saved_flags, fingerprint):
    """Refuses to resume on data other than the run's, naming what differs.

    Args:
        saved_flags: dict or `None`. The run's flags; its `data_fingerprint`
            (absent for a new run or one recorded before fingerprints) is
            compared.
        fingerprint: dict. `LabeledImages.fingerprint()` of `--data` now.

    Raises:
        ValueError: when the fingerprints differ.
    """
    saved = (saved_flags or {}).get("data_fingerprint")
    if saved is None or saved == fingerprint:
        return
    differences = [
        f"{key.replace('_', ' ')} {fingerprint.get(key)} (saved: {saved.get(key)})"
        for key in ("num_examples", "class_names", "examples_per_class")
        if saved.get(key) != fingerprint.get(key)
    ]
    if not differences:
        differences = [
            "the same number of examples per class, but other files (names, "
            "sizes) or pixels"
        ]
    raise ValueError(
        f"The training data of --data {saved_flags.get('data')} is not the data "
        "the run in --model-dir was trained on: "
        + "; ".join(differences)
        + ". Resume with the run's own data, or train into a new --model-dir."
    )


def _saved_run(model_dir):
    """`(saved training flags or None, finished)` of the run in `model_dir`."""
    from keras_transformer_bit.utils.gfile import gfile

    config_path = os.path.join(model_dir, CONFIG_FILE)
    if gfile.exists(config_path):
        config = _read_config(model_dir)
        # A run saved before its flags were recorded: the ones its config has.
        saved = config.get("flags") or {
            name: config[name]
            for name in ("data", "preset", "weights", "shots")
            if name in config
        }
        return saved, True
    flags_path = os.path.join(model_dir, FLAGS_FILE)
    if gfile.exists(flags_path):
        with gfile.GFile(flags_path, "r") as file:
            return json.load(file), False
    return None, False


def check_rerun(args):
    """Compares the flags with those of a run already in `--model-dir`.

    Returns:
        True when `--model-dir` holds a finished run of the same flags
        (nothing to train), else False (a new run, or one to resume).

    Raises:
        ValueError: naming each flag whose value differs from the run's.
    """
    saved, finished = _saved_run(args.model_dir)
    if saved is None:
        return False
    changes = changed_training_flags(saved, training_flags(args))
    if changes:
        state = "finished" if finished else "unfinished"
        raise ValueError(
            f"--model-dir {args.model_dir} holds a{'n' * (not finished)} {state} "
            f"run trained with other flags: {'; '.join(changes)}. Rerun with the "
            "run's own flags to "
            + ("resume it" if not finished else "see that it is done")
            + ", or train into a new --model-dir."
        )
    return finished


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


def _load_eval_split(args):
    """The evaluation images of `--eval-data`/`--eval-every`, or `None`.

    `bit_fine_tune` matches their classes to the model's by name.
    """
    if args.eval_data is None and args.eval_every is None:
        return None
    return load_split(args.eval_data or args.data, "test")


def _describe_schedule(args, rule):
    """How the schedule falls into epochs, naming an unmet `--num-epochs`."""
    import math

    from keras_transformer_bit.recipes.bit_fine_tune import (
        DEFAULT_NUM_EPOCHS,
        describe_epochs,
        schedule_epochs,
    )

    total = rule.total_steps
    if args.eval_every is not None:
        steps_per_epoch = min(args.eval_every, total)
        epochs = math.ceil(total / steps_per_epoch)
    else:
        asked = DEFAULT_NUM_EPOCHS if args.num_epochs is None else args.num_epochs
        epochs, steps_per_epoch = schedule_epochs(total, asked)
    split = describe_epochs(total, epochs, steps_per_epoch)
    text = f"Schedule: {split}, a backup after each"
    if args.eval_every is None and args.num_epochs is not None and epochs != asked:
        text += (
            f"; --num-epochs {asked} gives {epochs} epochs: every epoch but the "
            f"last has the same whole number of updates, ceil({total}/{asked}) = "
            f"{steps_per_epoch}"
        )
    return text


def _hyperrule(args, train, strategy):
    """The BiT-HyperRule for the training split, with the flags' changes."""
    from keras_transformer_bit import distribute, recipes

    rule = recipes.bit_hyperrule(len(train), train.image_size)
    if args.crop_size is not None:
        rule = rule.with_crop_size(args.crop_size)
    if args.batch_size is not None:
        rule = rule.with_batch_size(args.batch_size, scaling=args.batch_scaling)
    if args.schedule_scale != 1.0:
        rule = rule.shortened(args.schedule_scale)
    if rule.batch_size % strategy.num_replicas_in_sync:  # the rule's own batch
        raise ValueError(
            f"The HyperRule's batch of {rule.batch_size} does not split evenly over "
            f"the {strategy.num_replicas_in_sync} replicas of "
            f"{distribute.describe_strategy(strategy)}: pass --batch-size with a "
            f"multiple of {strategy.num_replicas_in_sync}."
        )
    return rule


def _print_plan(args, train, rule, strategy):
    """What the chief is about to train: data, rule, strategy, schedule."""
    from keras_transformer_bit import distribute

    print(
        f"{len(train)} examples, {train.num_classes} classes; HyperRule: resize "
        f"{rule.resize_size}, crop {rule.crop_size}, batch {rule.batch_size}, "
        f"lr {rule.base_learning_rate:g}, supports {list(rule.supports)}, "
        f"MixUp {rule.mixup_alpha}; {distribute.describe_strategy(strategy)}",
        flush=True,
    )
    if args.shard_files and distribute.needs_custom_training_loop(strategy):
        workers = distribute.is_multi_worker(strategy) and len(
            strategy.cluster_resolver.cluster_spec().as_dict().get("worker", [])
        )
        print(f"--shard-files: each worker reads 1/{workers} of the image files")
    print(_describe_schedule(args, rule), flush=True)


def train_command(args):
    import keras

    from keras_transformer_bit import distribute, models, recipes
    from keras_transformer_bit.training.check_model_dir import check_model_dir
    from keras_transformer_bit.utils import write_text_atomically
    from keras_transformer_bit.utils.gfile import gfile

    _check_train_flags(args)
    if not args.worker_timeout > 0:
        raise ValueError(
            f"--worker-timeout must be > 0 seconds. Received: {args.worker_timeout}"
        )
    check_model_dir(args.model_dir, args.strategy, "ktb bit train")
    if check_rerun(args):
        print(
            f"{args.model_dir} holds a finished run of these flags: nothing to "
            "train. Evaluate or export it, or train into a new --model-dir."
        )
        return 0
    strategy = _setup(args)
    _check_train_strategy(args, strategy)
    train = load_split(args.data, "train")
    fingerprint = train.fingerprint()
    check_same_data(_saved_run(args.model_dir)[0], fingerprint)
    if args.shots is not None:
        train = train.few_shot(args.shots, seed=args.seed)
    validation_images = _load_eval_split(args)
    rule = _hyperrule(args, train, strategy)
    chief = distribute.is_chief_task(strategy)
    if chief:
        _print_plan(args, train, rule, strategy)
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        kwargs = {"head": "replace"} if args.weights else {}
        classifier = models.BiTClassifier.from_preset(
            args.preset, num_classes=train.num_classes, weights=args.weights, **kwargs
        )
    gfile.makedirs(args.model_dir)  # local, gs://, s3://, hdfs://, ram://
    flags_path = os.path.join(args.model_dir, FLAGS_FILE)
    if chief and not gfile.exists(flags_path):
        # What a rerun is compared with, until bit_config.json takes them.
        flags = {**training_flags(args), "data_fingerprint": fingerprint}
        write_text_atomically(flags_path, json.dumps(flags, indent=2))
    recipes.bit_fine_tune(
        classifier,
        train,
        rule,
        micro_batch_size=args.micro_batch_size,
        seed=args.seed,
        strategy=strategy,
        num_epochs=args.num_epochs,
        validation_images=validation_images,
        eval_every=args.eval_every,
        model_dir=args.model_dir,  # backups (resume) and TensorBoard logs
        step_timeout_seconds=args.worker_timeout,
        shard_files=args.shard_files,
        verbose=2,
        keep_backup=True,  # deleted below, once the run is saved
    )
    # The end of a run survives a kill at any moment: model.keras and
    # bit_config.json are each written aside and renamed, and the backup (or
    # the checkpoints) goes only once both are complete, so the same command
    # resumes (at the end) until then.
    model_path = os.path.join(args.model_dir, MODEL_FILE)
    distribute.save_model_on_chief(classifier, model_path, strategy)
    if chief:
        config = {
            "data": resolved_data(args.data),
            "preset": args.preset,
            "weights": resolved_weights(args.weights),
            "shots": args.shots,
            "crop_size": rule.crop_size,
            "class_names": train.class_names,
            "rule": dataclasses.asdict(rule),
            "flags": {**training_flags(args), "data_fingerprint": fingerprint},
        }
        write_text_atomically(
            os.path.join(args.model_dir, CONFIG_FILE),
            json.dumps(config, indent=2, default=list),
        )
        from keras_transformer_bit.utils.gfile import remove_tree

        for name in (distribute.CHECKPOINT_DIRNAME, distribute.BACKUP_DIRNAME):
            remove_tree(os.path.join(args.model_dir, name))
        if gfile.exists(flags_path):  # now in bit_config.json
            gfile.remove(flags_path)
    # The other workers' training is done, but the run is not saved until the
    # chief says so: if it died meanwhile they exit with status 75, not 0.
    distribute.wait_for_chief(
        strategy, saved=chief, timeout_seconds=args.worker_timeout, what=model_path
    )
    if chief:
        print(f"Saved {model_path}")
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
