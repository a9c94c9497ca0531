"""`ktb translate train|evaluate|predict|export`: from a parallel corpus to a server.

A run lives in one model directory:

    translate_config.json       corpus, preset, vocabulary and pipeline settings
    source_tokenizer/           tokenizer.json + vocabulary.txt (WordPiece)
                                or sentencepiece.model (--tokenizer sentencepiece)
    target_tokenizer/
    model.keras                 the latest finished weights (and optimizer state)
    best.keras, best.json       the weights of the best validation BLEU so far;
                                evaluate, predict and export use them when present
    history.json                one entry per epoch: losses, val_bleu, minutes
    logs/                       TensorBoard (train, validation incl. BLEU)
    export/1, export/2, ...     `ktb translate export` without --output
    backup/                     only while training (AtomicBackupAndRestore)
    checkpoints/                the same, with --strategy multi_worker

Running `train` again on the same directory resumes: it reloads the model and
continues with the next epoch (and from the last backup after a crash). The
run keeps its training flags (corpus, preset, vocabulary, lengths, schedule,
splits): leave them out when resuming; a flag given with another value than
the saved one is refused, naming the flag and both values.

Several hosts: run the same `ktb translate train ... --strategy multi_worker`
on every host, each with its own TF_CONFIG (worker 0 is the chief), and a
model directory on storage all of them share (docs/scaling.md, section 3):

    export TF_CONFIG='{"cluster": {"worker": ["hostA:2222", "hostB:2222"]},
                       "task": {"type": "worker", "index": 0}}'   # 1 on hostB
    ktb translate train --data ding --model-dir $SHARED/runs/de_en \\
        --strategy multi_worker --budget-minutes 60

Keras `fit` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585), so that path trains with
`ktb.distribute.CustomTrainingLoop`: the same model, loss, optimizer, schedule
and batches, each global batch split over the workers. The chief writes the
run directory; the budget is checked at epoch ends (all workers stop
together) and BLEU is scored on the chief.

Examples:
    ktb translate train --data ding --model-dir runs/de_en --budget-minutes 20
    ktb translate evaluate --model-dir runs/de_en --method beam --checkpoint last
    echo "Ich bin seit fünf Tagen hier." | ktb translate predict --model-dir runs/de_en
    ktb translate predict --model-dir runs/de_en --top-k 20 --temperature 0.8 \\
        --seed 1 --max-length 32 "Wie spät ist es?"
    ktb translate export --model-dir runs/de_en   # runs/de_en/export/1, 2, ...
"""

import argparse
import json
import os
import sys
import time

# No package imports at module level: `ktb --help` must not wait for
# TensorFlow (keras_transformer_bit.utils imports Keras); the handlers import
# what they use.

CONFIG_FILE = "translate_config.json"
MODEL_FILE = "model.keras"
BEST_MODEL_FILE = "best.keras"
BEST_FILE = "best.json"
HISTORY_FILE = "history.json"
# The epochs a run finished since history.json was last written, one entry
# each, written after every epoch's backup; a killed run's rerun takes them
# into history.json. Removed once the run is saved.
PARTIAL_HISTORY_FILE = "history.partial.json"
EXPORT_DIRNAME = "export"
MODEL_OVERRIDES = (
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "dropout",
)


def _write_json_atomically(path, content):
    from keras_transformer_bit.utils import write_text_atomically

    write_text_atomically(path, json.dumps(content, indent=2) + "\n")


def _read_json(path, default=None):
    from keras_transformer_bit.utils.gfile import gfile

    if not gfile.exists(path):
        return default
    with gfile.GFile(path, "r") as file:
        return json.load(file)


def _positive_number(name, value):
    if value is not None and (not isinstance(value, (int, float)) or value <= 0):
        raise ValueError(f"{name} must be > 0. Received: {name}={value!r}")


def _tokenizer_dirs(model_dir):
    return (
        os.path.join(model_dir, "source_tokenizer"),
        os.path.join(model_dir, "target_tokenizer"),
    )


# --tokenizer choices → (class name in keras_transformer_bit.data, build options).
TOKENIZERS = {
    "wordpiece": ("SubwordTokenizer", {}),
    "sentencepiece": ("SentencePieceTokenizer", {"model_type": "unigram"}),
    "sentencepiece-bpe": ("SentencePieceTokenizer", {"model_type": "bpe"}),
}


def build_tokenizers(
    corpus, vocabulary_size, shared_vocabulary, lower_case=False, tokenizer="wordpiece"
):
    """Learns vocabularies of the `tokenizer` kind from the training pairs."""
    from keras_transformer_bit import data

    class_name, options = TOKENIZERS[tokenizer]
    build = getattr(data, class_name).build
    sources = [source for source, _ in corpus.train]
    targets = [target for _, target in corpus.train]
    if shared_vocabulary:
        shared = build(
            sources + targets, vocabulary_size, lower_case=lower_case, **options
        )
        return shared, shared
    return (
        build(sources, vocabulary_size, lower_case=lower_case, **options),
        build(targets, vocabulary_size, lower_case=lower_case, **options),
    )


def load_tokenizers(model_dir, config):
    """The run's source and target tokenizers, of whichever kind it saved."""
    from keras_transformer_bit.data import load_tokenizer

    source_dir, target_dir = _tokenizer_dirs(model_dir)
    source_tokenizer = load_tokenizer(source_dir)
    if config.get("shared_vocabulary"):
        return source_tokenizer, source_tokenizer
    return source_tokenizer, load_tokenizer(target_dir)


def build_model(config, source_tokenizer, target_tokenizer):
    """The config's preset with its overrides, sized to the vocabularies."""
    from keras_transformer_bit.models import Transformer

    overrides = dict(config.get("model_overrides", {}))
    overrides["vocabulary_size"] = target_tokenizer.vocabulary_size
    overrides["source_vocabulary_size"] = source_tokenizer.vocabulary_size
    overrides["share_embeddings"] = source_tokenizer is target_tokenizer or (
        config.get("shared_vocabulary", False)
    )
    if overrides["share_embeddings"]:
        overrides.pop("source_vocabulary_size")
    return Transformer.from_preset(config["preset"], **overrides)


def _recipe(config):
    """The translation recipe with a run's training choices."""
    from keras_transformer_bit.recipes import translation_recipe

    defaults = translation_recipe()
    return translation_recipe(
        max_length=config["max_length"],
        tokens_per_batch=config["tokens_per_batch"],
        warmup_steps=config.get("warmup_steps", defaults.warmup_steps),
        learning_rate_scale=config.get(
            "learning_rate_scale", defaults.learning_rate_scale
        ),
        label_smoothing=config.get("label_smoothing", defaults.label_smoothing),
    )


def compile_model(model, config):
    """The translation recipe's optimizer, loss and masked token accuracy.

    XLA defaults to Keras' "auto": on for GPUs, off on CPUs, where it compiles
    once per batch shape (tens of seconds each) for no faster step.
    """
    return _recipe(config).compile(model, jit_compile=config.get("jit_compile", "auto"))


def check_vocabularies(model, source_tokenizer, target_tokenizer, where=""):
    """Raises when the tokenizers do not match the model's embedding sizes."""
    expected = {
        "target": (model.vocabulary_size, target_tokenizer.vocabulary_size),
        "source": (
            model.source_vocabulary_size or model.vocabulary_size,
            source_tokenizer.vocabulary_size,
        ),
    }
    for side, (model_size, tokenizer_size) in expected.items():
        if model_size != tokenizer_size:
            raise ValueError(
                f"The {side} vocabulary {where}has {tokenizer_size} tokens but the "
                f"model expects {model_size}. The vocabulary files do not belong to "
                "this model; retrain or restore the matching tokenizer directory."
            )


def _load_keras_model(path):
    import keras

    # Registers the package's layers, models, samplers, losses and schedules.
    from keras_transformer_bit import models, recipes  # noqa: F401

    return keras.models.load_model(path)


def checkpoint_path(model_dir, checkpoint="auto"):
    """The weights file that `checkpoint` names in a run directory.

    Args:
        model_dir: str. The run directory.
        checkpoint: str. `"best"` (best validation BLEU), `"last"` (the end
            of the last run), or `"auto"`: the best when the run has one,
            else the last. Defaults to `"auto"`.

    Returns:
        The path of `best.keras` or `model.keras`.
    """
    if checkpoint not in CHECKPOINT_CHOICES:
        raise ValueError(
            f"--checkpoint must be one of {CHECKPOINT_CHOICES}. "
            f"Received: --checkpoint {checkpoint!r}"
        )
    from keras_transformer_bit.utils.gfile import gfile

    best = os.path.join(model_dir, BEST_MODEL_FILE)
    if checkpoint == "best" and not gfile.exists(best):
        raise FileNotFoundError(
            f"{model_dir} has no {BEST_MODEL_FILE}: it is written when validation "
            "BLEU improves (train with --bleu-every > 0 and a validation split). "
            "Use --checkpoint last."
        )
    if checkpoint == "best" or (checkpoint == "auto" and gfile.exists(best)):
        return best
    return os.path.join(model_dir, MODEL_FILE)


def load_run(model_dir, checkpoint="auto"):
    """Loads the config, tokenizers and model of a trained run directory.

    `checkpoint` chooses the weights: see `checkpoint_path`.
    """
    from keras_transformer_bit.utils.gfile import gfile

    config = _read_json(os.path.join(model_dir, CONFIG_FILE))
    if config is None or not gfile.exists(os.path.join(model_dir, MODEL_FILE)):
        raise FileNotFoundError(
            f"No trained model in {model_dir}: expected {CONFIG_FILE} and "
            f"{MODEL_FILE}. Train one with: ktb translate train --model-dir {model_dir}"
        )
    model_path = checkpoint_path(model_dir, checkpoint)
    source_tokenizer, target_tokenizer = load_tokenizers(model_dir, config)
    model = _load_keras_model(model_path)
    check_vocabularies(model, source_tokenizer, target_tokenizer, f"in {model_dir} ")
    print(f"Loaded {model_path}", file=sys.stderr)
    return config, source_tokenizer, target_tokenizer, model


def make_datasets(corpus, config, source_tokenizer, target_tokenizer, num_replicas=1):
    """Length-bucketed training and validation datasets of the recipe.

    With `num_replicas` (the strategy's replicas in sync), every batch splits
    evenly over the replicas. With `subword_sampling_alpha` in the config, the
    training split samples its segmentations anew every epoch.
    """
    return _recipe(config).datasets(
        corpus,
        source_tokenizer,
        target_tokenizer,
        seed=config["seed"],
        num_replicas=num_replicas,
        subword_sampling_alpha=config.get("subword_sampling_alpha"),
    )


def _load_corpus(config):
    from keras_transformer_bit.data.load_translation_corpus import (
        load_translation_corpus,
    )

    sizes = {"test_size": config["test_size"]}
    if config.get("validation_size") is not None:
        sizes["validation_size"] = config["validation_size"]
    return load_translation_corpus(config["data"], seed=config["seed"], **sizes)


# Training flags kept in translate_config.json, by config key, besides the
# model overrides. Their parser defaults are None: a new run fills the gaps
# from `default_config()`, a resumed run from its saved config.
TRAINING_FLAGS = {
    "data": "--data",
    "preset": "--preset",
    "tokenizer": "--tokenizer",
    "subword_sampling_alpha": "--subword-sampling-alpha",
    "vocabulary_size": "--vocabulary-size",
    "shared_vocabulary": "--separate-vocabularies",
    "lower_case": "--lower-case",
    "max_length": "--max-length",
    "tokens_per_batch": "--tokens-per-batch",
    "warmup_steps": "--warmup-steps",
    "learning_rate_scale": "--learning-rate-scale",
    "label_smoothing": "--label-smoothing",
    "seed": "--seed",
    "test_size": "--test-size",
    "validation_size": "--validation-size",
    "jit_compile": "--no-jit",
}


def default_config():
    """The config of a run trained without flags: the translation recipe's."""
    from keras_transformer_bit.recipes import translation_recipe

    recipe = translation_recipe()
    return {
        "data": "ding",
        "preset": recipe.preset,
        "model_overrides": dict(recipe.model_overrides),
        # Runs saved before these keys existed used WordPiece, unsampled.
        "tokenizer": "wordpiece",
        "subword_sampling_alpha": None,
        "vocabulary_size": recipe.vocabulary_size,
        "shared_vocabulary": True,
        "lower_case": False,
        "max_length": recipe.max_length,
        "tokens_per_batch": recipe.tokens_per_batch,
        "warmup_steps": recipe.warmup_steps,
        "learning_rate_scale": recipe.learning_rate_scale,
        "label_smoothing": recipe.label_smoothing,
        "seed": 1234,
        "test_size": None,  # the corpus reader's choice: a tenth, at most 1000
        "validation_size": None,
        "jit_compile": "auto",
    }


def _chosen_config(args):
    """The config entries the command line sets (flags left out are absent)."""
    switches = {  # store_true flags: absent means "not set", not False
        "shared_vocabulary": (args.separate_vocabularies, False),
        "lower_case": (args.lower_case, True),
        "jit_compile": (args.no_jit, False),
    }
    chosen = {
        key: getattr(args, key)
        for key in TRAINING_FLAGS
        if key not in switches and getattr(args, key, None) is not None
    }
    for key, (given, value) in switches.items():
        if given:
            chosen[key] = value
    overrides = {
        name: getattr(args, name)
        for name in MODEL_OVERRIDES
        if getattr(args, name, None) is not None
    }
    if overrides:
        chosen["model_overrides"] = overrides
    return chosen


def _flag_text(key, value):
    if key in ("shared_vocabulary", "jit_compile"):
        return TRAINING_FLAGS[key] if value is False else f"no {TRAINING_FLAGS[key]}"
    if key == "lower_case":
        return "--lower-case" if value else "no --lower-case"
    if key.startswith("model_overrides."):
        flag = "--" + key.split(".", 1)[1].replace("_", "-")
        return flag + (" (the preset's)" if value is None else f" {value}")
    return f"{TRAINING_FLAGS[key]} {'(default)' if value is None else value}"


def changed_training_flags(saved_config, chosen):
    """The flags of `chosen` whose values differ from a saved run's config.

    Returns:
        A list of `"--flag given (saved: --flag value)"` strings, empty when
        the command line agrees with the run.
    """
    defaults = None
    changes = []
    for key, value in chosen.items():
        if key == "model_overrides":
            saved_overrides = saved_config.get("model_overrides", {})
            pairs = [
                (f"model_overrides.{name}", override, saved_overrides.get(name))
                for name, override in value.items()
            ]
        else:
            if key not in saved_config:  # a config written before the key existed
                defaults = defaults or default_config()
            pairs = [(key, value, saved_config.get(key, (defaults or {}).get(key)))]
        for name, given, saved in pairs:
            if given != saved:
                changes.append(
                    f"{_flag_text(name, given)} (saved: {_flag_text(name, saved)})"
                )
    return changes


def _epoch_entries(history_by_name, epochs):
    """One `history.json` entry per epoch from per-metric lists of values."""
    entries = []
    for index, epoch in enumerate(epochs):
        entry = {
            name: float(values[index])
            for name, values in history_by_name.items()
            if index < len(values)
        }
        entry["epoch"] = epoch
        entries.append(entry)
    return entries


def _epoch_entry(epoch, logs):
    """The `history.json` entry of one epoch (counted from 1) from its logs."""
    entry = {name: float(value) for name, value in (logs or {}).items()}
    entry["epoch"] = epoch
    return entry


def _merge_history(*parts):
    """Entries of several lists in epoch order, the later list winning a tie."""
    by_epoch = {}
    for part in parts:
        by_epoch.update({entry["epoch"]: entry for entry in part})
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


class _PartialHistory:
    """Writes the epochs finished so far to `history.partial.json` (chief).

    Called after each epoch's backup (or checkpoint), so a run killed later
    still has the entries of every epoch its rerun resumes after: `entries`
    starts with those the killed run left.
    """

    def __init__(self, path, entries, enabled=True):
        self.path = path
        self.entries = list(entries)
        self.enabled = enabled

    def record(self, epoch, logs):
        if not self.enabled:
            return
        self.entries = _merge_history(self.entries, [_epoch_entry(epoch, logs)])
        _write_json_atomically(self.path, self.entries)


def _partial_history_callback(partial):
    import keras

    class PartialHistoryCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            partial.record(epoch + 1, logs)

    return PartialHistoryCallback()


def _fit_with_keras(model, train_data, validation_data, callbacks, epochs):
    """Trains with `model.fit`; returns the history entries of the new epochs."""
    initial_epoch, last_epoch = epochs
    fit_history = model.fit(
        train_data,
        validation_data=validation_data,
        initial_epoch=initial_epoch,
        epochs=last_epoch,
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,
        shuffle=False,  # the dataset shuffles itself, with a seed
    )
    return _epoch_entries(
        fit_history.history, [epoch + 1 for epoch in fit_history.epoch]
    )


def _fit_on_workers(
    model,
    strategy,
    config,
    model_dir,
    data,
    callbacks,
    epochs,
    step_timeout_seconds=600,
    partial=None,
):
    """Trains with `CustomTrainingLoop`, for MultiWorkerMirroredStrategy.

    Keras `fit` does not run under that strategy (keras-team/keras#20585). The
    loop trains the same model with the same loss, optimizer (and its
    schedule) and batches: every worker reads the whole corpus and keeps its
    share of each global batch. Checkpoints under `model_dir/checkpoints`
    (written by the chief, restored by all) let a killed job resume at its last
    finished epoch; they are removed once `model.keras` holds the run.

    The budget and BLEU callbacks run at epoch ends: the budget stops all
    workers together after the epoch in which it runs out, and BLEU is scored
    on the chief. A worker that sees no finished step for
    `step_timeout_seconds` (`--worker-timeout`; BLEU excluded) exits with
    status 75.
    """
    from keras_transformer_bit import distribute
    from keras_transformer_bit.recipes import MaskedTokenAccuracy

    train_data, validation_data = data
    initial_epoch, last_epoch = epochs
    loop = distribute.CustomTrainingLoop(
        model,
        model.optimizer,
        model.loss,
        metrics=[MaskedTokenAccuracy()],
        strategy=strategy,
        model_dir=model_dir,
        jit_compile="auto" if config.get("jit_compile", "auto") else False,
        step_timeout_seconds=step_timeout_seconds,
    )
    loop.epoch.assign(initial_epoch)  # a newer checkpoint, if any, overrides it
    # The same callbacks as `fit`'s path; BLEU, the best checkpoint and the
    # partial history run on the chief only (the others wait for it).
    budget, bleu, best = callbacks
    worker_callbacks = [budget] if budget is not None else []
    if loop.is_chief:
        worker_callbacks += [bleu, best] if bleu is not None else []
        if partial is not None:
            worker_callbacks.append(_partial_history_callback(partial))
    history = loop.fit(
        train_data,
        epochs=last_epoch,
        validation_data=validation_data,
        verbose=1,
        callbacks=worker_callbacks,
    )
    return _epoch_entries(history.history, [epoch + 1 for epoch in history.epoch])


def _check_sizes(chosen):
    """Refuses zero and negative sizes before any data is read."""
    from keras_transformer_bit.utils import check_positive_int

    for key in ("vocabulary_size", "max_length", "tokens_per_batch", "warmup_steps"):
        if key in chosen:
            check_positive_int(TRAINING_FLAGS[key], chosen[key])


def _check_subword_sampling(config):
    """Refuses an alpha out of range, or sampling a tokenizer cannot do."""
    alpha = config.get("subword_sampling_alpha")
    if alpha is None:
        return
    if not 0 < alpha <= 1:
        raise ValueError(
            "--subword-sampling-alpha must be a number in (0, 1]: the unigram "
            f"smoothing or the BPE-dropout probability. Received: {alpha}"
        )
    tokenizer = config.get("tokenizer", "wordpiece")
    if not tokenizer.startswith("sentencepiece"):
        raise ValueError(
            f"--subword-sampling-alpha {alpha} needs --tokenizer sentencepiece or "
            f"sentencepiece-bpe: WordPiece has one segmentation per word. "
            f"Received: --tokenizer {tokenizer}"
        )


def train(args):
    """`ktb translate train`: build or reload a run and train it."""
    from keras_transformer_bit.utils import check_positive_int

    _positive_number("--budget-minutes", args.budget_minutes)
    _positive_number("--worker-timeout", getattr(args, "worker_timeout", None))
    check_positive_int("--epochs", args.epochs)
    from keras_transformer_bit.utils.gfile import gfile, list_names, remove_tree

    model_dir = args.model_dir
    config_path = os.path.join(model_dir, CONFIG_FILE)
    from keras_transformer_bit.cli.check_model_dir import check_model_dir

    check_model_dir(model_dir, args.strategy, "ktb translate train")
    # With several workers, each decides this before the cluster forms (in
    # get_strategy), so none sees files the chief is about to write.
    resuming = gfile.exists(config_path)
    chosen = _chosen_config(args)
    _check_sizes(chosen)
    if resuming:
        config = _read_json(config_path)
        changes = changed_training_flags(config, chosen)
        if changes:
            raise ValueError(
                f"{model_dir} holds a run trained with other flags, so it cannot "
                f"resume with these: {'; '.join(changes)}. Resume without those "
                "flags (the run keeps its own), or train in a new --model-dir."
            )
    else:
        if gfile.isdir(model_dir) and gfile.listdir(model_dir):
            raise ValueError(
                f"--model-dir {model_dir} exists, is not empty and holds no "
                f"{CONFIG_FILE}; choose a new directory."
            )
        defaults = default_config()
        config = {**defaults, **chosen}
        config["model_overrides"] = {
            **defaults["model_overrides"],
            **chosen.get("model_overrides", {}),
        }
    _check_subword_sampling(config)
    if config["tokens_per_batch"] < config["max_length"]:
        raise ValueError(
            "--tokens-per-batch must hold at least one pair of --max-length "
            f"tokens. Received: --tokens-per-batch {config['tokens_per_batch']}, "
            f"--max-length {config['max_length']}"
        )

    import keras

    from keras_transformer_bit import distribute
    from keras_transformer_bit.cli.best_checkpoint import BestCheckpoint
    from keras_transformer_bit.recipes.bleu import BleuCallback
    from keras_transformer_bit.recipes.training_budget import TrainingBudget

    keras.utils.set_random_seed(config["seed"])
    if args.mixed_precision:
        distribute.set_mixed_precision("auto")
    strategy = distribute.get_strategy(args.strategy)
    on_workers = distribute.needs_custom_training_loop(strategy)
    # Only the chief writes into the model directory.
    chief = distribute.is_chief_task(strategy)

    # Everything that can fail on bad input happens before the directory is
    # written: reading the corpus, building vocabularies, the first batch.
    corpus = _load_corpus(config)
    if chief:
        print(corpus.summary())
    source_dir, target_dir = _tokenizer_dirs(model_dir)
    if resuming:
        source_tokenizer, target_tokenizer = load_tokenizers(model_dir, config)
    else:
        started = time.perf_counter()
        # Learning a vocabulary is deterministic: every worker gets the same.
        source_tokenizer, target_tokenizer = build_tokenizers(
            corpus,
            config["vocabulary_size"],
            config["shared_vocabulary"],
            config["lower_case"],
            config.get("tokenizer", "wordpiece"),
        )
        print(
            f"Built vocabularies of {source_tokenizer.vocabulary_size} (source) and "
            f"{target_tokenizer.vocabulary_size} (target) subwords in "
            f"{time.perf_counter() - started:.0f} s."
        )
    train_data, validation_data = make_datasets(
        corpus,
        config,
        source_tokenizer,
        target_tokenizer,
        num_replicas=strategy.num_replicas_in_sync,
    )

    created_dir = not gfile.exists(model_dir)
    model_path = os.path.join(model_dir, MODEL_FILE)
    history_path = os.path.join(model_dir, HISTORY_FILE)
    try:
        with strategy.scope():
            if gfile.exists(model_path):
                model = _load_keras_model(model_path)
                check_vocabularies(
                    model, source_tokenizer, target_tokenizer, f"in {model_dir} "
                )
            else:
                model = build_model(config, source_tokenizer, target_tokenizer)
                compile_model(model, config)
        gfile.makedirs(model_dir)
        if not resuming and chief:
            source_tokenizer.save(source_dir)
            if not config["shared_vocabulary"]:
                target_tokenizer.save(target_dir)
            _write_json_atomically(config_path, config)
        history = _read_json(history_path, default=[])
        # The last epoch number, not the count: epochs that a crashed run
        # finished (resumed from its backup) have no entry of their own.
        initial_epoch = history[-1]["epoch"] if history else 0
        # A killed run's epochs after that: the rerun resumes after the last
        # (its backup or checkpoint) and keeps their entries.
        partial = _PartialHistory(
            os.path.join(model_dir, PARTIAL_HISTORY_FILE),
            [
                entry
                for entry in _read_json(
                    os.path.join(model_dir, PARTIAL_HISTORY_FILE), default=[]
                )
                if entry["epoch"] > initial_epoch
            ],
            enabled=chief,
        )
        resumed_epoch = max([initial_epoch] + [e["epoch"] for e in partial.entries])
        bleu = None
        if corpus.validation and args.bleu_every:
            # Greedy (fast), on sources cut as the exported translator cuts them.
            bleu = BleuCallback(
                corpus.validation,
                source_tokenizer,
                target_tokenizer,
                every_n_epochs=args.bleu_every,
                num_examples=args.bleu_examples,
                max_length=config["max_length"],
                max_source_length=config["max_length"],
            )
        # Beside model.keras (the last epoch): best.keras, the best val_bleu.
        best = BestCheckpoint(
            model_dir, BEST_MODEL_FILE, BEST_FILE, copy_weights=on_workers
        )
        if chief and resumed_epoch >= initial_epoch + args.epochs:
            print(
                f"Epochs 1 to {resumed_epoch} are done (the run was stopped "
                f"while saving): saving {model_path}"
            )
        elif chief:
            print(
                f"Training {model.count_params():,} parameters from epoch "
                f"{resumed_epoch + 1} to {initial_epoch + args.epochs} "
                f"({distribute.describe_strategy(strategy)})"
                + (
                    f", budget {args.budget_minutes:g} min"
                    if args.budget_minutes
                    else ""
                )
            )
        started = time.perf_counter()
        epochs = (initial_epoch, initial_epoch + args.epochs)
        budget = TrainingBudget(args.budget_minutes) if args.budget_minutes else None
        if on_workers:
            new_entries = _fit_on_workers(
                model,
                strategy,
                config,
                model_dir,
                (train_data, validation_data),
                (budget, bleu, best),
                epochs,
                step_timeout_seconds=args.worker_timeout,
                partial=partial,
            )
        else:
            # The best checkpoint reads the val_bleu that BleuCallback logs.
            callbacks = [c for c in (budget, bleu) if c is not None]
            callbacks += [best] if bleu is not None and chief else []
            callbacks += distribute.training_callbacks(model_dir)
            callbacks.append(_partial_history_callback(partial))  # after the backup
            new_entries = _fit_with_keras(
                model, train_data, validation_data, callbacks, epochs
            )
        minutes = (time.perf_counter() - started) / 60
        history = _merge_history(history, partial.entries, new_entries)
        if history:
            history[-1]["run_minutes"] = round(minutes, 2)
        # Written aside and renamed: whole or absent after a kill. Until the
        # backup goes, the same command resumes (at the end) and saves again.
        distribute.save_model_on_chief(model, model_path, strategy)
        if chief:
            _write_json_atomically(history_path, history)
            # model.keras now holds the run: the crash-recovery state of both
            # paths (the loop's checkpoints, fit's backup) is obsolete.
            for name in (distribute.CHECKPOINT_DIRNAME, distribute.BACKUP_DIRNAME):
                remove_tree(os.path.join(model_dir, name))
            if gfile.exists(partial.path):  # now in history.json
                gfile.remove(partial.path)
        # The other workers' training is done, but not the run until the
        # chief has saved it: if it died meanwhile they exit 75, not 0.
        distribute.wait_for_chief(
            strategy,
            saved=chief,
            timeout_seconds=getattr(args, "worker_timeout", None) or 600,
            what=model_path,
        )
    except BaseException:
        # A fresh run that saved no model leaves nothing behind (the directory
        # was empty or absent before, so everything in it is ours).
        if chief and not resuming and not gfile.exists(model_path):
            if created_dir:
                remove_tree(model_dir)
            elif gfile.isdir(model_dir):
                for entry in list_names(model_dir):
                    path = os.path.join(model_dir, entry)
                    if gfile.isdir(path):
                        remove_tree(path)
                    else:
                        gfile.remove(path)
        raise
    last = history[-1] if history else {}
    if chief:
        print(
            f"Saved {model_path} after {last.get('epoch', 0)} epochs "
            f"({minutes:.1f} min this run)"
            + (f"; val_bleu {last['val_bleu']:.2f}" if "val_bleu" in last else "")
        )
    return 0


# Decoding flags -> (the methods that take them, the `Translator` argument).
DECODING_FLAGS = {
    "beam_size": (("beam",), "beam_size"),
    "length_penalty": (("beam",), "length_penalty"),
    "top_k": (("top_k",), "top_k"),
    "top_p": (("top_p",), "top_p"),
    "temperature": (("top_k", "top_p"), "temperature"),
    "sampling_seed": (("top_k", "top_p"), "seed"),
    "no_repeat_ngram_size": (
        ("beam", "greedy", "top_k", "top_p"),
        "no_repeat_ngram_size",
    ),
}


def decoding_options(args):
    """The decoding method and its `Translator` options from the flags.

    `--top-k` or `--top-p` alone choose their method; without either the
    method is beam search with the recipe's beam size and length penalty. A
    flag that the chosen method does not use is refused, naming both.

    Returns:
        `(method, options)`: a `Translator` method name and keyword arguments.
    """
    given = {name for name in DECODING_FLAGS if getattr(args, name, None) is not None}
    method = args.method
    if method is None:
        sampling = [name for name in ("top_k", "top_p") if name in given]
        if len(sampling) > 1:
            raise ValueError(
                "--top-k and --top-p choose different methods; give one, or "
                "--method. Received both."
            )
        method = sampling[0] if sampling else "beam"
    options = {}
    for name in sorted(given):
        methods, argument = DECODING_FLAGS[name]
        flag = "--" + ("seed" if name == "sampling_seed" else name).replace("_", "-")
        if method not in methods:
            raise ValueError(
                f"{flag} applies to --method {' or '.join(methods)}, not "
                f"--method {method}. Received: {flag} {getattr(args, name)}"
            )
        options[argument] = getattr(args, name)
    if method == "beam":
        from keras_transformer_bit.recipes import translation_recipe

        recipe = translation_recipe()
        options.setdefault("beam_size", recipe.beam_size)
        options.setdefault("length_penalty", recipe.length_penalty)
    return method, options


def make_translator(model, source_tokenizer, target_tokenizer, config, args):
    """A `Translator` for the run, with the command line's decoding flags.

    The longest output is `--max-length` subwords when given, else the run's
    training `max_length`; sources are cut to the training `max_length`.
    """
    from keras_transformer_bit.translator import Translator
    from keras_transformer_bit.utils import check_positive_int

    method, options = decoding_options(args)
    max_length = getattr(args, "decode_max_length", None)
    if max_length is None:
        max_length = config["max_length"]
    return Translator(
        model,
        source_tokenizer,
        target_tokenizer,
        method=method,
        max_length=check_positive_int("--max-length", max_length),
        max_source_length=config["max_length"],
        **options,
    )


def evaluate(args):
    """`ktb translate evaluate`: sacreBLEU of a split (test by default)."""
    from keras_transformer_bit.recipes.bleu import corpus_bleu

    config, source_tokenizer, target_tokenizer, model = load_run(
        args.model_dir, args.checkpoint
    )
    if args.data:
        config = {**config, "data": args.data}
    corpus = _load_corpus(config)
    pairs = getattr(corpus, args.split)
    if args.max_examples:
        pairs = pairs[: args.max_examples]
    if not pairs:
        raise ValueError(f"The {args.split} split of {config['data']} is empty.")
    method, options = decoding_options(args)
    translator = make_translator(
        model, source_tokenizer, target_tokenizer, config, args
    )
    started = time.perf_counter()
    hypotheses = translator([source for source, _ in pairs])
    seconds = time.perf_counter() - started
    bleu = corpus_bleu(hypotheses, [target for _, target in pairs])
    result = {
        "data": config["data"],
        "split": args.split,
        "num_sentences": len(pairs),
        "method": method,
        **options,
        "max_length": translator.max_length,
        "bleu": round(bleu, 2),
        "seconds": round(seconds, 1),
    }
    _write_json_atomically(
        os.path.join(args.model_dir, f"eval_{args.split}_{method}.json"), result
    )
    for (source, reference), hypothesis in list(zip(pairs, hypotheses))[: args.show]:
        print(
            f"  source:     {source}\n  reference:  {reference}\n"
            f"  hypothesis: {hypothesis}"
        )
    print(
        f"sacreBLEU (13a, cased) on {len(pairs)} {args.split} sentences with "
        f"{method}: {bleu:.2f} ({seconds:.0f} s)"
    )
    return 0


def predict(args):
    """`ktb translate predict`: translate sentences from arguments or stdin."""
    config, source_tokenizer, target_tokenizer, model = load_run(
        args.model_dir, args.checkpoint
    )
    texts = args.text or [line.rstrip("\n") for line in sys.stdin]
    translator = make_translator(
        model, source_tokenizer, target_tokenizer, config, args
    )
    for translation in translator(texts):
        print(translation)
    if args.plot_attention:
        plot_attention_files(translator, texts, args.plot_attention)
    return 0


def plot_attention_files(translator, texts, path):
    """Writes a cross-attention heatmap per sentence: `path` for one sentence,
    `name-1.png`, `name-2.png`, ... for several. Returns the paths."""
    from keras_transformer_bit.utils import plot_attention

    stem, extension = os.path.splitext(path)
    paths = []
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            continue
        result = translator.translate_with_attention(text)
        target = path if len(texts) == 1 else f"{stem}-{number}{extension}"
        plot_attention(
            result["attention"],
            result["source_tokens"],
            result["target_tokens"],
            target,
            title=f"{text}\n{result['translation']}",
        )
        print(f"attention plot: {target}", file=sys.stderr)
        paths.append(target)
    return paths


def default_export_path(model_dir):
    """The next TF Serving version directory under `model_dir/export`.

    TF Serving serves the highest numbered subdirectory of its base path, so
    each export without `--output` becomes a new version: `export/1`, then
    `export/2`, ...

    Example:
    >>> default_export_path("runs/de_en")  # with no export there yet
    'runs/de_en/export/1'
    """
    from keras_transformer_bit.utils.gfile import gfile, list_names

    base = os.path.join(model_dir, EXPORT_DIRNAME)
    versions = [
        int(name)
        for name in (list_names(base) if gfile.isdir(base) else [])
        if name.isdigit()
    ]
    return os.path.join(base, str(max(versions, default=0) + 1))


def export(args):
    """`ktb translate export`: write a SavedModel with a text-to-text signature."""
    from keras_transformer_bit.export import export_translator

    config, source_tokenizer, target_tokenizer, model = load_run(
        args.model_dir, args.checkpoint
    )
    translator = make_translator(
        model, source_tokenizer, target_tokenizer, config, args
    )
    from keras_transformer_bit.utils.gfile import gfile

    output = args.output or default_export_path(args.model_dir)
    if gfile.exists(output):
        raise ValueError(f"--output {output} already exists; choose a new path.")
    export_translator(translator, output)
    print(f"Exported {output} (serving_default: text -> translation)")
    return 0


CHECKPOINT_CHOICES = ("auto", "best", "last")
# Shorter than data.load_translation_corpus.CORPUS_HELP, which the parser
# cannot import without TensorFlow.
DATA_HELP = (
    "'ding' (the default), 'sword_en_es', 'sword_es_en', 'tfds:NAME', a "
    "tab-separated file, or 'SOURCE_FILE,TARGET_FILE'"
)
RECIPE = "(default: the translation recipe's)"


def _add_decoding(parser):
    group = parser.add_argument_group("decoding")
    group.add_argument(
        "--method",
        default=None,
        choices=("beam", "greedy", "top_k", "top_p"),
        help="default: beam, or top_k / top_p when --top-k / --top-p is given",
    )
    group.add_argument("--beam-size", type=int, default=None, help=f"beam {RECIPE}")
    group.add_argument(
        "--length-penalty", type=float, default=None, help=f"beam {RECIPE}"
    )
    group.add_argument("--top-k", type=int, default=None, help="sample from k tokens")
    group.add_argument(
        "--top-p",
        type=float,
        default=None,
        help="sample from the smallest set of tokens holding probability p",
    )
    group.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="top_k / top_p: divides the logits (default: 1.0)",
    )
    group.add_argument(
        "--seed",
        dest="sampling_seed",
        type=int,
        default=None,
        help="top_k / top_p: seed of the draws, for repeatable samples",
    )
    group.add_argument(
        "--no-repeat-ngram-size",
        type=int,
        default=None,
        help="never output an n-gram of this many subwords twice",
    )
    group.add_argument(
        "--max-length",
        dest="decode_max_length",
        type=int,
        default=None,
        help="longest translation in subwords (default: the run's --max-length)",
    )
    group.add_argument(
        "--checkpoint",
        default="auto",
        choices=CHECKPOINT_CHOICES,
        help="weights: best (best validation BLEU), last (end of training), or "
        "auto: best when the run has it (default)",
    )


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "translate", help="Transformer translation: train, evaluate, predict, export"
    )
    commands = parser.add_subparsers(dest="translate_command", metavar="COMMAND")

    train_parser = commands.add_parser(
        "train",
        help="train (or resume) a translator",
        description=__doc__,  # the run directory, resuming, several hosts
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train_parser.add_argument("--data", default=None, help=DATA_HELP)
    train_parser.add_argument("--model-dir", required=True)
    train_parser.add_argument("--preset", default=None, help=RECIPE)
    for name in MODEL_OVERRIDES:
        train_parser.add_argument(
            "--" + name.replace("_", "-"),
            type=float if name == "dropout" else int,
            default=None,
            help=f"override the preset's {name}",
        )
    train_parser.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="stop training after this much wall-clock time (minutes)",
    )
    train_parser.add_argument(
        "--epochs", type=int, default=1000, help="epochs to add in this run"
    )
    train_parser.add_argument(
        "--vocabulary-size",
        type=int,
        default=None,
        help=f"subword vocabulary size {RECIPE}",
    )
    train_parser.add_argument(
        "--tokenizer",
        choices=sorted(TOKENIZERS),
        default=None,
        help="wordpiece (default), or a reversible SentencePiece model: "
        "sentencepiece (unigram) or sentencepiece-bpe",
    )
    train_parser.add_argument(
        "--subword-sampling-alpha",
        type=float,
        default=None,
        help="sentencepiece only: sample the training segmentations every "
        "epoch (unigram smoothing alpha, or the BPE-dropout probability), "
        "e.g. 0.1; validation and serving never sample",
    )
    train_parser.add_argument("--separate-vocabularies", action="store_true")
    train_parser.add_argument("--lower-case", action="store_true")
    train_parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help=f"longer pairs are skipped {RECIPE}",
    )
    train_parser.add_argument(
        "--tokens-per-batch",
        type=int,
        default=None,
        help="token budget of one global batch, which mirrored and multi_worker "
        f"split over their replicas (docs/scaling.md) {RECIPE}",
    )
    train_parser.add_argument("--warmup-steps", type=int, default=None, help=RECIPE)
    train_parser.add_argument(
        "--learning-rate-scale", type=float, default=None, help=RECIPE
    )
    train_parser.add_argument(
        "--label-smoothing", type=float, default=None, help=RECIPE
    )
    train_parser.add_argument(
        "--bleu-every", type=int, default=1, help="epochs; 0: off"
    )
    train_parser.add_argument("--bleu-examples", type=int, default=200)
    train_parser.add_argument(
        "--seed", type=int, default=None, help="split and training seed (1234)"
    )
    train_parser.add_argument(
        "--test-size",
        type=int,
        default=None,
        help="test pairs held out (default: a tenth of the pairs, at most 1000)",
    )
    train_parser.add_argument(
        "--validation-size",
        type=int,
        default=None,
        help="validation pairs held out, for val_loss, BLEU and the best "
        "checkpoint (default: the corpus reader's choice for its size)",
    )
    train_parser.add_argument(
        "--no-jit",
        action="store_true",
        help="disable XLA (by default on for GPUs, off on CPUs)",
    )
    train_parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 on GPU, mixed_bfloat16 on CPU (logits stay float32)",
    )
    train_parser.add_argument(
        "--strategy",
        default="auto",
        help="auto, one_device, mirrored, or multi_worker (one process per host, "
        "each with its TF_CONFIG; see docs/scaling.md)",
    )
    train_parser.add_argument(
        "--worker-timeout",
        type=float,
        default=600,
        help="multi_worker: seconds without a finished training step after "
        "which a worker gives up and exits with status 75 (epoch-end work such "
        "as BLEU does not count)",
    )
    train_parser.set_defaults(handler=train)

    evaluate_parser = commands.add_parser("evaluate", help="sacreBLEU on a split")
    evaluate_parser.add_argument("--model-dir", required=True)
    evaluate_parser.add_argument("--data", default=None, help="defaults to the run's")
    evaluate_parser.add_argument(
        "--split", default="test", choices=("train", "validation", "test")
    )
    evaluate_parser.add_argument("--max-examples", type=int, default=None)
    evaluate_parser.add_argument("--show", type=int, default=5, help="samples to print")
    _add_decoding(evaluate_parser)
    evaluate_parser.set_defaults(handler=evaluate)

    predict_parser = commands.add_parser("predict", help="translate text")
    predict_parser.add_argument("--model-dir", required=True)
    predict_parser.add_argument("text", nargs="*", help="sentences (default: stdin)")
    predict_parser.add_argument(
        "--plot-attention",
        metavar="FILE.png",
        default=None,
        help="also draw the last decoder layer's cross-attention, one heatmap "
        "per head (needs matplotlib: the plot extra); several sentences write "
        "FILE-1.png, FILE-2.png, ...",
    )
    _add_decoding(predict_parser)
    predict_parser.set_defaults(handler=predict)

    export_parser = commands.add_parser("export", help="write a SavedModel")
    export_parser.add_argument("--model-dir", required=True)
    export_parser.add_argument(
        "--output",
        default=None,
        help="SavedModel directory (default: MODEL_DIR/export/N, the next TF "
        "Serving version)",
    )
    _add_decoding(export_parser)
    export_parser.set_defaults(handler=export)
    return parser
