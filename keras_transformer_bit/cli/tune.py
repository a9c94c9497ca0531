"""`ktb tune transformer|bit`: hyperparameter search with KerasTuner.

Examples:
    ktb tune bit --data fashion_mnist --train-size 500 --tuner random_search \\
        --max-trials 4 --steps-fraction 0.002 --directory runs/tune_bit
    ktb tune transformer --data ding --tuner hyperband --max-epochs 9 \\
        --budget-minutes 10 --directory runs/tune_de_en \\
        --search-space '{"vocabulary_size": [6000, 8000], "dropout": [0.1, 0.3]}'

A `ktb tune transformer` trial is a whole `ktb translate train` run
(`ktb.tuning.TranslationRunTuner`): the trial's vocabulary, tokens per batch,
model and schedule, trained in DIRECTORY/PROJECT/trial_ID/run and scored by
its validation BLEU. The best trial's run directory is a --model-dir for
`ktb translate evaluate|predict|export`. --seed seeds the search; every run
keeps the recipe's seed, so trials hold out the validation split that
`ktb translate train` does. A trial whose tuner was killed resumes its run
from the run's backup when the tuner starts again. One search runs in a
DIRECTORY/PROJECT at a time (a second is refused, naming the first's pid), and
a search resumes only with the fixed flags and search space it started with
(--overwrite starts over). A search in which no trial completed exits 1.

Distributed search: run the same command on every machine with
KERASTUNER_TUNER_ID=chief (the oracle) or tuner0, tuner1, ... (the workers),
KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT set, and a --directory they
all can write to. The chief prints the results table; every process exits 0
when the search is done. A search that was interrupted resumes where it
stopped unless --overwrite is given (honoured by the chief only, so that a
worker started late never wipes the shared directory). Trials spread over
hosts this way; TF_CONFIG (MultiWorkerMirroredStrategy) is refused, since
every trial trains in one process. If a tuner dies, the chief marks its
trial FAILED after --trial-timeout seconds without a heartbeat and exits 1
naming it (restart the tuner with the same KERASTUNER_TUNER_ID before then to
keep the trial); if the chief dies, every tuner exits 75 within
--oracle-timeout seconds naming the oracle's address (rerun all the commands to
resume).
"""

import argparse
import contextlib
import json
import os
import sys

TUNER_CHOICES = ("random_search", "hyperband", "bayesian_optimization")
# TranslationRunTuner.search's default (tuning.translation_run_tuner), kept
# here so that `ktb --help` need not import TensorFlow.
TRIAL_BLEU_EXAMPLES = 100


def parse_search_space(text):
    """Reads `--search-space` JSON: lists are choices, {"min", "max"} ranges.

    Example:
    >>> parse_search_space('{"dropout": {"min": 0.0, "max": 0.3}, "num_layers": [1]}')
    {'dropout': (0.0, 0.3), 'num_layers': [1]}
    """
    if not text:
        return None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"--search-space must be a JSON object ({error}). Received: {text!r}"
        ) from None
    if not isinstance(raw, dict):
        raise ValueError(f"--search-space must be a JSON object. Received: {text!r}")
    space = {}
    for name, spec in raw.items():
        if isinstance(spec, dict):
            if set(spec) != {"min", "max"}:
                raise ValueError(
                    f"A range is {{'min': low, 'max': high}}. Received: {name}={spec!r}"
                )
            spec = (spec["min"], spec["max"])
        space[name] = spec
    return space


# Each family's --search-space example, with names its search takes.
TRANSFORMER_SEARCH_SPACE_EXAMPLE = (
    '{"num_layers": [1, 2], "dropout": {"min": 0, "max": 0.3}}'
)
BIT_SEARCH_SPACE_EXAMPLE = (
    '{"learning_rate_multiplier": [1.0, 0.3], "mixup_alpha": {"min": 0.0, "max": 0.2}}'
)
SEARCH_SPACE_HELP = {
    "transformer": 'JSON: a list is a choice, {"min": low, "max": high} a range '
    "(names: vocabulary_size, tokens_per_batch and the Transformer's "
    "hyperparameters), e.g. '" + TRANSFORMER_SEARCH_SPACE_EXAMPLE + "'",
    "bit": 'JSON: a list is a choice, {"min": low, "max": high} a range, of '
    "learning_rate_multiplier, steps_multiplier and resolution_multiplier "
    "(multipliers on the BiT-HyperRule's values; 1 is the rule) and mixup_alpha, "
    "e.g. '" + BIT_SEARCH_SPACE_EXAMPLE + "'",
}
BIT_BEST_MODEL_FILE = "best_model.keras"
BIT_EPILOG = f"""\
The best trial: when the search is done, ktb tune bit (alone, or the chief)
saves the best trial's model, with its class names and the resolution it was
trained at, as DIRECTORY/PROJECT/{BIT_BEST_MODEL_FILE} (PROJECT: --project-name,
default "bit"); each trial's own weights are DIRECTORY/PROJECT/trial_ID/
checkpoint.weights.h5, and the results table gives its hyperparameters.
`ktb bit evaluate|export` take a `ktb bit train` run, not this file: evaluate and
export it in Python (from ktb.tuning, `tuner.get_best_models()[0]` is the same
model):

    import keras, keras_transformer_bit as ktb
    model = keras.saving.load_model("runs/tune/bit/{BIT_BEST_MODEL_FILE}")
    print(ktb.recipes.bit_evaluate(model, ktb.data.load_fashion_mnist("test")))
    ktb.export.export_image_classifier(model, "runs/tune/bit/export/1")
"""


# The part of every class of an image folder that scores `ktb tune bit` trials.
FOLDER_VALIDATION_FRACTION = 0.2


def _data_help(family):
    if family == "bit":
        from keras_transformer_bit.cli.bit import DATA_HELP

        return DATA_HELP.replace(
            "so evaluate with the test folder",
            "so a fifth of every class (drawn with --seed) is held out to score "
            "the trials, which train on the rest",
        )
    from keras_transformer_bit.cli.translate import DATA_HELP

    return DATA_HELP


def _add_common(parser, family):
    parser.add_argument("--data", required=True, help=_data_help(family))
    parser.add_argument("--tuner", default="random_search", choices=TUNER_CHOICES)
    parser.add_argument("--max-trials", type=int, default=6)
    parser.add_argument(
        "--max-epochs", type=int, default=3, help="Hyperband's largest budget"
    )
    parser.add_argument("--epochs", type=int, default=2, help="epochs per trial")
    parser.add_argument("--directory", default="runs/tune", help="trial records")
    parser.add_argument("--project-name", default=None)
    parser.add_argument("--objective", default=None, help="metric to optimize")
    parser.add_argument("--search-space", default=None, help=SEARCH_SPACE_HELP[family])
    parser.add_argument("--strategy", default="auto", help="auto, one_device, mirrored")
    parser.add_argument("--overwrite", action="store_true", help="start over")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=10, help="rows of the results table")
    parser.add_argument(
        "--trial-timeout",
        type=float,
        default=300.0,
        help="distributed search, chief: seconds without word from a running "
        "trial's tuner (tuners send a heartbeat every 5 s) before the trial is "
        "marked FAILED so the search can end (default 300; 0: wait forever)",
    )
    parser.add_argument(
        "--oracle-timeout",
        type=float,
        default=120.0,
        help="distributed search, tuners: seconds without an answer from the "
        "chief before the tuner exits with status 75 (default 120)",
    )


def add_parser(subparsers):
    tune = subparsers.add_parser(
        "tune", help="search hyperparameters (KerasTuner)", description=__doc__
    )
    families = tune.add_subparsers(dest="family", metavar="FAMILY", required=True)

    transformer = families.add_parser(
        "transformer", help="tune the Transformer on a parallel corpus"
    )
    _add_common(transformer, "transformer")
    transformer.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help="no longer taken: a trial trains on the whole training split "
        "(bound it with --budget-minutes, or give a smaller TSV as --data)",
    )
    transformer.add_argument(
        "--validation-size",
        type=int,
        default=None,
        help="validation pairs held out (default: the corpus reader's)",
    )
    transformer.add_argument(
        "--vocabulary-size",
        type=int,
        default=None,
        help="fix the vocabulary size instead of searching it",
    )
    transformer.add_argument(
        "--max-length", type=int, default=None, help="the recipe's by default"
    )
    transformer.add_argument(
        "--tokens-per-batch",
        type=int,
        default=None,
        help="fix the token budget of one global batch (which --strategy "
        "mirrored splits over its replicas, docs/scaling.md) instead of "
        "searching it",
    )
    transformer.add_argument("--preset", default=None, help="the recipe's by default")
    transformer.add_argument(
        "--tokenizer", default=None, help="wordpiece (the recipe's), sentencepiece"
    )
    transformer.add_argument(
        "--phrase-pairs",
        type=int,
        default=None,
        help="Ding only: dictionary pairs added to the training split",
    )
    transformer.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="wall-clock minutes per trial (a Hyperband follow-up gets its own)",
    )
    transformer.add_argument(
        "--bleu-examples",
        type=int,
        default=TRIAL_BLEU_EXAMPLES,
        help="validation pairs translated (greedy) after each epoch for the "
        "objective val_bleu",
    )
    transformer.set_defaults(handler=transformer_command)

    bit = families.add_parser(
        "bit",
        help="tune BiT fine-tuning around the HyperRule",
        epilog=BIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(bit, "bit")
    bit.add_argument("--preset", default="bit_tiny")
    bit.add_argument("--weights", default=None)
    bit.add_argument(
        "--train-size",
        type=int,
        default=None,
        help="train on about N examples, the same number of each class (default: "
        "the whole training split)",
    )
    bit.add_argument(
        "--validation-size",
        type=int,
        default=1000,
        help="evaluate every trial on the first N test examples (default 1000)",
    )
    bit.add_argument(
        "--batch-size", type=int, default=64, help="examples per update (default 64)"
    )
    bit.add_argument(
        "--steps-fraction",
        type=float,
        default=1.0,
        help="run this part, in (0, 1], of every trial's schedule (default 1: "
        "the whole HyperRule schedule)",
    )
    bit.set_defaults(handler=bit_command)


def search_role():
    """This process's part in a KerasTuner search: "chief", "tuner0", ... or None.

    None: a search in one process (KERASTUNER_TUNER_ID unset).
    """
    return os.environ.get("KERASTUNER_TUNER_ID") or None


def refuse_multi_worker(args):
    """Refuses TF_CONFIG clusters before TensorFlow starts.

    A MultiWorkerMirroredStrategy has to be configured when TensorFlow starts
    and Keras `fit`, which trains every trial, does not run under it
    (keras-team/keras#20585); a sweep spreads over hosts by trials instead.
    """
    from keras_transformer_bit.distribute.tf_config import (
        num_training_tasks,
        read_tf_config,
    )

    config = read_tf_config()
    tasks = num_training_tasks(config)
    if args.strategy == "multi_worker" or tasks > 1:
        raise ValueError(
            "ktb tune does not train a trial over several workers: every trial "
            "trains with Keras `fit`, which does not run under "
            "MultiWorkerMirroredStrategy (keras-team/keras#20585). Spread the "
            "sweep over hosts by trials instead: unset TF_CONFIG and start ktb "
            "tune on every host with KERASTUNER_TUNER_ID=chief (one host) or "
            "tuner0, tuner1, ..., KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT "
            "(docs/scaling.md); --strategy mirrored uses every GPU of a host. "
            f"Received: --strategy {args.strategy}, TF_CONFIG with {tasks} "
            "training task(s)"
        )


def _run_search(args, build_tuner, objective, search_args, search_kwargs):
    """Runs the search of this process's role (alone, chief or tuner).

    `build_tuner(objective, max_trials=..., max_epochs=..., directory=...,
    project_name=..., overwrite=..., seed=...)` returns the tuner, whose
    `search(*search_args, **search_kwargs)` runs the trials.
    """
    import grpc
    import keras_tuner

    from keras_transformer_bit.tuning.serve_oracle import serve_oracle
    from keras_transformer_bit.tuning.watch_oracle import (
        LOST_ORACLE_EXIT_CODE,
        lost_oracle_message,
        watch_oracle,
    )
    from keras_transformer_bit.utils import check_positive_int

    check_positive_int("--max-trials", args.max_trials)
    check_positive_int("--max-epochs", args.max_epochs)
    if args.objective:
        objective = keras_tuner.Objective(
            args.objective, "min" if "loss" in args.objective else "max"
        )
    role = search_role()
    address = "{}:{}".format(
        os.environ.get("KERASTUNER_ORACLE_IP"), os.environ.get("KERASTUNER_ORACLE_PORT")
    )
    if role not in (None, "chief"):
        # KerasTuner's client waits an hour for a chief that is gone.
        from keras_tuner.src.distribute import oracle_client

        oracle_client.TIMEOUT = args.oracle_timeout
    try:
        tuner = build_tuner(
            objective,
            max_trials=args.max_trials,
            max_epochs=args.max_epochs,
            directory=args.directory,
            project_name=args.project_name,
            overwrite=args.overwrite,
            seed=args.seed,
        )
        if role == "chief":
            # KerasTuner's chief waits silently forever for a dead tuner's trial.
            tuner.oracle.verbose = 2
            tuner.save()
            # The chief holds the project for the search (its tuners share it).
            hold_project = getattr(tuner, "project_lock", contextlib.nullcontext)
            with hold_project():
                failed = serve_oracle(
                    tuner.oracle, address, trial_timeout=args.trial_timeout or None
                )
            _print_results(tuner, args)
            if _no_trial_completed(tuner):
                return 1
            if failed:
                trials = ", ".join(f"{t} (on {w})" for t, w in failed)
                print(
                    f"ktb tune: trial(s) {trials} marked FAILED: their tuner sent no "
                    f"word for --trial-timeout {args.trial_timeout:g} s. Their "
                    "hyperparameters were not evaluated; rerun with a new "
                    "--project-name (or --overwrite) to try them again.",
                    file=sys.stderr,
                )
                return 1
            return 0
        if role is not None:
            watch_oracle(tuner, address, timeout=args.oracle_timeout)
        tuner.search(*search_args, **search_kwargs)
    except grpc.RpcError as error:
        if role is None:
            raise
        code = error.code()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            reason = f"no answer within --oracle-timeout {args.oracle_timeout:g} s"
        else:
            reason = f"it failed a request: {code.name}: {error.details()}"
        print(lost_oracle_message(role, address, reason), file=sys.stderr)
        return LOST_ORACLE_EXIT_CODE
    if role is None:
        _print_results(tuner, args)
        if _no_trial_completed(tuner):
            return 1
    else:
        # A worker's oracle is a client of the chief's: the table is there.
        print(f"{role}: the search is done; the chief prints the results.")
    return 0


def _no_trial_completed(tuner):
    """Whether no trial of the search completed; says so on stderr, with the
    first failed trial's reason."""
    trials = sorted(tuner.oracle.trials.values(), key=lambda trial: trial.trial_id)
    if any(trial.status == "COMPLETED" for trial in trials):
        return False
    failed = [trial for trial in trials if trial.message]
    reason = ""
    if failed:
        lines = [line for line in failed[0].message.splitlines() if line.strip()]
        reason = f" Trial {failed[0].trial_id} failed with: {lines[-1].strip()}"
    print(
        f"ktb tune: no trial completed ({len(trials)} trial(s) ran).{reason}",
        file=sys.stderr,
    )
    return True


def _print_results(tuner, args):
    """The results table; for runs, where the best trial's run is."""
    from keras_transformer_bit.tuning import results_table

    print(results_table(tuner, num_trials=args.top))
    scored = [t for t in tuner.oracle.trials.values() if t.score is not None]
    if scored and hasattr(tuner, "get_best_run_dirs"):
        (best,) = tuner.get_best_run_dirs(1)
        print(
            f"The best trial's run: {best}. Use it as a model directory: "
            f"ktb translate evaluate --model-dir {best}"
        )


def _check_transformer_sizes(args):
    """Refuses zero, negative and inconsistent sizes, and flags no longer
    taken, before any data is read."""
    from keras_transformer_bit.training.translation_run import default_config
    from keras_transformer_bit.utils import check_positive_int

    if args.max_examples is not None:
        raise ValueError(
            "--max-examples is no longer taken: a ktb tune transformer trial is a "
            "ktb translate train run on the whole training split. Bound a trial "
            "with --budget-minutes, or give a smaller TSV file as --data. "
            f"Received: --max-examples {args.max_examples}"
        )
    for flag in ("--vocabulary-size", "--max-length", "--tokens-per-batch",
                 "--bleu-examples", "--epochs"):  # fmt: skip
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            check_positive_int(flag, value)
    if args.budget_minutes is not None and not args.budget_minutes > 0:
        raise ValueError(
            f"--budget-minutes must be > 0. Received: --budget-minutes "
            f"{args.budget_minutes}"
        )
    defaults = default_config()
    max_length = args.max_length or defaults["max_length"]
    if args.tokens_per_batch is not None and args.tokens_per_batch < max_length:
        raise ValueError(
            "--tokens-per-batch must hold at least one pair of --max-length "
            f"tokens. Received: --tokens-per-batch {args.tokens_per_batch}, "
            f"--max-length {max_length}"
        )


# Flags that fix a hyperparameter of the search space instead of searching it.
FIXING_FLAGS = {
    "vocabulary_size": "--vocabulary-size",
    "tokens_per_batch": "--tokens-per-batch",
}
# Flags that set a run setting every trial shares (None: the recipe's).
SETTING_FLAGS = ("data", "validation_size", "max_length", "preset", "tokenizer",
                 "phrase_pairs")  # fmt: skip


# How `ktb tune transformer` errors name the tuner's and the runs' settings.
TUNE_TRANSFORMER_FLAGS = {
    **{key: "--" + key.replace("_", "-") for key in SETTING_FLAGS},
    **FIXING_FLAGS,
    **{key: "--" + key.replace("_", "-") for key in (
        "epochs", "budget_minutes", "bleu_examples", "strategy", "search_space",
        "overwrite", "project_name", "directory", "objective", "max_trials",
        "max_epochs")},
}  # fmt: skip


def transformer_search_space(args):
    """`--search-space` with the values that --vocabulary-size and
    --tokens-per-batch fix (refused when both name one)."""
    space = parse_search_space(args.search_space) or {}
    for key, flag in FIXING_FLAGS.items():
        value = getattr(args, key)
        if value is None:
            continue
        if key in space:
            raise ValueError(
                f"{flag} fixes {key}, which --search-space also names: give one. "
                f"Received: {flag} {value}, --search-space {key}={space[key]!r}"
            )
        space[key] = [value]
    return space


def transformer_command(args):
    refuse_multi_worker(args)
    _check_transformer_sizes(args)
    import keras_tuner

    from keras_transformer_bit.tuning import TranslationRunTuner

    search_space = transformer_search_space(args)
    settings = {
        key: getattr(args, key)
        for key in SETTING_FLAGS
        if getattr(args, key) is not None
    }

    def build_tuner(objective, max_trials, max_epochs, directory, project_name,
                    overwrite, seed):  # fmt: skip
        return TranslationRunTuner(
            args.tuner,
            search_space=search_space,
            objective=objective,
            max_trials=max_trials,
            max_epochs=max_epochs,
            search_seed=seed,
            strategy=args.strategy,
            directory=directory,
            project_name=project_name or "translation_run",
            overwrite=overwrite,
            names=TUNE_TRANSFORMER_FLAGS,
            # --seed seeds the search; the runs keep the recipe's seed, so
            # they hold out the validation split `ktb translate train` does.
            **settings,
        )

    # What a sweep should maximize is translation quality: BLEU of greedy
    # translations of validation sentences, as `ktb translate train` logs it.
    return _run_search(
        args,
        build_tuner,
        keras_tuner.Objective("val_bleu", "max"),
        (),
        dict(
            epochs=args.epochs,
            budget_minutes=args.budget_minutes,
            bleu_examples=args.bleu_examples,
            verbose=2,
        ),
    )


def _check_bit_flags(args):
    """Refuses zero and negative sizes and a bad --search-space, naming the
    flag, before any data is read."""
    from keras_transformer_bit.utils import check_positive_int

    for flag in ("--train-size", "--validation-size", "--batch-size", "--epochs"):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            check_positive_int(flag, value)
    if not 0 < args.steps_fraction <= 1:
        raise ValueError(
            "--steps-fraction must be in (0, 1]: the part of every trial's "
            f"schedule to run. Received: --steps-fraction {args.steps_fraction:g}"
        )
    return parse_search_space(args.search_space)


def bit_command(args):
    refuse_multi_worker(args)
    search_space = _check_bit_flags(args)
    import keras_tuner

    from keras_transformer_bit.cli.bit import load_split
    from keras_transformer_bit.distribute import get_strategy
    from keras_transformer_bit.tuning import BiTHyperModel, make_tuner
    from keras_transformer_bit.tuning.make_tuner import holds_search_directory

    train = load_split(args.data, "train")
    if args.data == "fashion_mnist" or args.data.startswith("tfds:"):
        validation = load_split(args.data, "test")
    else:
        # A folder is one set: trials are scored on a fifth of every class
        # that no trial trains on.
        train, validation = train.hold_out(FOLDER_VALIDATION_FRACTION, seed=args.seed)
    if args.train_size is not None:
        train = train.few_shot(max(1, args.train_size // train.num_classes), args.seed)
    if args.validation_size < len(validation):
        validation = validation.select(list(range(args.validation_size)))
    strategy = get_strategy(args.strategy)
    hypermodel = BiTHyperModel(
        num_classes=train.num_classes,
        dataset_size=len(train),
        image_size=train.image_size,
        class_names=train.class_names,
        preset=args.preset,
        weights=args.weights,
        batch_size=args.batch_size,
        steps_fraction=args.steps_fraction,
        search_space=search_space,
        strategy=strategy if strategy.num_replicas_in_sync > 1 else None,
        seed=args.seed,
    )
    tuners = []

    def build_tuner(objective, **common):
        tuners.append(make_tuner(args.tuner, hypermodel, objective=objective, **common))
        return tuners[-1]

    status = _run_search(
        args,
        build_tuner,
        keras_tuner.Objective("val_accuracy", "max"),
        (train,),
        dict(validation_data=validation, epochs=args.epochs, verbose=2),
    )
    if status == 0 and holds_search_directory():
        _save_best_model(tuners[-1])
    return status


def _save_best_model(tuner):
    """Saves the best trial's model (class names, resolution and weights) as
    PROJECT/best_model.keras, written whole or not at all."""
    if not any(t.score is not None for t in tuner.oracle.trials.values()):
        return
    (best,) = tuner.get_best_models(1)
    path = os.path.join(tuner.project_dir, BIT_BEST_MODEL_FILE)
    partial = path[: -len(".keras")] + ".partial.keras"
    best.save(partial)
    os.replace(partial, path)
    print(
        f"The best trial's model: {path} (ktb tune bit --help says how to "
        "evaluate and export it)"
    )
