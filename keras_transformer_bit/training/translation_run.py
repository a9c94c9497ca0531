"""A translation training run: one directory, resumable, on any strategy.

`TranslationRun` is what `ktb translate train` runs, usable from Python: it
owns the run directory (on any file system `tf.io.gfile` knows: local,
`gs://`, `s3://`, `hdfs://`, `ram://`):

    translate_config.json       corpus, preset, vocabulary and pipeline settings
    source_tokenizer/           the tokenizers (WordPiece or SentencePiece)
    target_tokenizer/           (absent with a shared vocabulary)
    model.keras                 the latest finished weights (and optimizer state)
    best.keras, best.json       the weights of the best validation BLEU so far
    averaged.keras              with average_checkpoints=N: the mean of the
                                last N epochs' weights of the last call
    history.json                one entry per epoch: losses, val_bleu, minutes
    logs/                       TensorBoard
    backup/ or checkpoints/     only while training: what a rerun resumes from

Training again in the same directory resumes: the saved settings are kept, a
setting given with another value is refused (naming it and both values), the
model is reloaded and training goes on from the last finished epoch, or from
the last backup after a crash. A fresh run that fails before its model is
saved leaves the directory as it found it. While `train()` runs, the
directory holds `.run.lock` (`RunLock`): a second run started there is
refused before it reads any data.

The strategy decides the loop: `model.fit` on one device or under
`MirroredStrategy`, `ktb.distribute.CustomTrainingLoop` under
`MultiWorkerMirroredStrategy` (keras-team/keras#20585), with the same
callbacks (budget, validation BLEU, best checkpoint, history) on both.
"""

import contextlib
import hashlib
import json
import os
import sys
import time

import keras

from keras_transformer_bit import distribute
from keras_transformer_bit.data import (
    load_tokenizer,
    sentencepiece_tokenizer,
    subword_tokenizer,
)
from keras_transformer_bit.data.count_batches import count_batches, with_cardinality
from keras_transformer_bit.data.ding_corpus import DING_DE_EN_PATH, DING_INSTALL_COMMAND
from keras_transformer_bit.data.load_lexicon import LEXICONS, load_lexicon
from keras_transformer_bit.data.load_translation_corpus import (
    DING_NAMES,
    load_translation_corpus,
)
from keras_transformer_bit.data.pretrained_word_embeddings import (
    PretrainedWordEmbeddings,
    check_pretrained_embeddings,
)
from keras_transformer_bit.data.subword_tokenizer import RESERVED_TOKENS
from keras_transformer_bit.data.text_file_corpus import check_columns
from keras_transformer_bit.models import Transformer
from keras_transformer_bit.models.transformer.transformer_presets import (
    transformer_presets,
)
from keras_transformer_bit.recipes import (
    BleuCallback,
    CheckpointAveraging,
    MaskedTokenAccuracy,
    TrainingBudget,
    translation_recipe,
)
from keras_transformer_bit.training.best_checkpoint import BestCheckpoint
from keras_transformer_bit.training.bit_run import plain_value
from keras_transformer_bit.training.check_model_dir import check_model_dir
from keras_transformer_bit.training.run_checks import (
    check_model_dir_not_a_file,
    check_model_overrides,
    check_positive_number,
    describe_setting,
    holds_training_state,
    smaller_vocabulary_note,
)
from keras_transformer_bit.training.run_lock import LOCK_FILE, RunLock
from keras_transformer_bit.translator import (
    check_tensorflow_backend,
    fingerprint_mismatches,
)
from keras_transformer_bit.utils import (
    SettingError,
    check_fraction,
    check_non_negative_int,
    check_positive_int,
    check_seed,
    restate_setting_errors,
    write_text_atomically,
)
from keras_transformer_bit.utils.check_known_arguments import check_known_arguments
from keras_transformer_bit.utils.gfile import gfile, list_names, remove_tree

CONFIG_FILE = "translate_config.json"
MODEL_FILE = "model.keras"
BEST_MODEL_FILE = "best.keras"
AVERAGED_MODEL_FILE = "averaged.keras"
BEST_FILE = "best.json"
HISTORY_FILE = "history.json"
# The epochs a run finished since history.json was last written, one entry
# each, written after every epoch's backup; a killed run's rerun takes them
# into history.json. Removed once the run is saved.
PARTIAL_HISTORY_FILE = "history.partial.json"
# The arguments of `TranslationRun.train`, which a constructor call may confuse
# with settings.
TRAIN_ARGUMENTS = (
    "epochs",
    "budget_minutes",
    "bleu_every",
    "bleu_examples",
    "worker_timeout",
)
# The key of a partial history entry that holds the minutes its call had spent.
CALL_MINUTES = "call_minutes"


def write_json_atomically(path, content):
    """Writes `content` as JSON through a temporary file and a rename."""
    write_text_atomically(path, json.dumps(content, indent=2) + "\n")


def read_json(path, default=None):
    """The JSON content of `path`, or `default` when it does not exist."""
    if not gfile.exists(path):
        return default
    with gfile.GFile(path, "r") as file:
        return json.load(file)


def tokenizer_dirs(model_dir):
    """The source and target tokenizer directories of a run."""
    return (
        os.path.join(model_dir, "source_tokenizer"),
        os.path.join(model_dir, "target_tokenizer"),
    )


# Tokenizer kinds (`--tokenizer`) → (class, build options).
TOKENIZERS = {
    "wordpiece": (subword_tokenizer.SubwordTokenizer, {}),
    "sentencepiece": (
        sentencepiece_tokenizer.SentencePieceTokenizer,
        {"model_type": "unigram"},
    ),
    "sentencepiece-bpe": (
        sentencepiece_tokenizer.SentencePieceTokenizer,
        {"model_type": "bpe"},
    ),
}


def build_tokenizers(
    corpus, vocabulary_size, shared_vocabulary, lower_case=False, tokenizer="wordpiece"
):
    """Learns vocabularies of the `tokenizer` kind from the training pairs."""

    tokenizer_class, options = TOKENIZERS[tokenizer]
    build = tokenizer_class.build
    sources = [source for source, _ in corpus.train]
    targets = [target for _, target in corpus.train]
    if shared_vocabulary:
        shared = build(
            sources + targets, vocabulary_size, lower_case=lower_case, **options
        )
        return shared, shared
    tokenizers = []
    for side, language, texts in (
        ("source", corpus.source_language, sources),
        ("target", corpus.target_language, targets),
    ):
        try:
            tokenizers.append(
                build(texts, vocabulary_size, lower_case=lower_case, **options)
            )
        except SettingError as error:
            # Say which of the two vocabularies the size does not fit.
            side_name = f"The {side} ({language}) vocabulary"
            raise SettingError(
                lambda name, message=error.message: f"{side_name}: {message(name)}"
            ) from None
    return tuple(tokenizers)


def load_tokenizers(model_dir, config):
    """The run's source and target tokenizers, of whichever kind it saved."""

    source_dir, target_dir = tokenizer_dirs(model_dir)
    source_tokenizer = load_tokenizer(source_dir)
    if config.get("shared_vocabulary"):
        return source_tokenizer, source_tokenizer
    return source_tokenizer, load_tokenizer(target_dir)


def build_model(config, source_tokenizer, target_tokenizer):
    """The config's preset with its overrides, sized to the vocabularies."""

    overrides = dict(config.get("model_overrides", {}))
    overrides["vocabulary_size"] = target_tokenizer.vocabulary_size
    overrides["source_vocabulary_size"] = source_tokenizer.vocabulary_size
    overrides["share_embeddings"] = source_tokenizer is target_tokenizer or (
        config.get("shared_vocabulary", False)
    )
    if overrides["share_embeddings"]:
        overrides.pop("source_vocabulary_size")
    overrides["vocabulary_fingerprints"] = {
        "source": source_tokenizer.fingerprint,
        "target": target_tokenizer.fingerprint,
    }
    return Transformer.from_preset(config["preset"], **overrides)


def _recipe(config):
    """The translation recipe with a run's training choices."""

    defaults = translation_recipe()
    return translation_recipe(
        max_length=config["max_length"],
        tokens_per_batch=config["tokens_per_batch"],
        warmup_steps=config.get("warmup_steps", defaults.warmup_steps),
        learning_rate_scale=config.get(
            "learning_rate_scale", defaults.learning_rate_scale
        ),
        label_smoothing=config.get("label_smoothing", defaults.label_smoothing),
        # Runs saved before the cooldown existed trained without one.
        learning_rate_cooldown=config.get("learning_rate_cooldown", 0.0),
    )


def compile_model(model, config):
    """The translation recipe's optimizer, loss and masked token accuracy.

    XLA defaults to Keras' "auto": on for GPUs, off on CPUs. On a 2-core CPU
    an XLA step measured 1.21x as fast (bench/training_speed.py --switches),
    but it compiles once per bucket shape, tens of seconds each, which a
    20-minute run pays in full; the setting `jit_compile=True` turns it on.
    """
    return _recipe(config).compile(model, jit_compile=config.get("jit_compile", "auto"))


def check_vocabularies(model, source_tokenizer, target_tokenizer, where=""):
    """Raises when the tokenizers do not match the model's embedding sizes, or
    the fingerprints of the tokenizers it was built for (when it records them)."""
    expected = {
        "target": (model.vocabulary_size, target_tokenizer.vocabulary_size),
        "source": (
            model.source_vocabulary_size or model.vocabulary_size,
            source_tokenizer.vocabulary_size,
        ),
    }
    mismatches = fingerprint_mismatches(model, source_tokenizer, target_tokenizer)
    sizes_swapped = expected["source"][0] != expected["target"][0] and (
        expected["source"][1] == expected["target"][0]
        and expected["target"][1] == expected["source"][0]
    )
    # Both sides wrong, each holding the other's: (source, s, t), (target, t, s).
    fingerprints_swapped = (
        len(mismatches) == 2
        and mismatches[0][1] == mismatches[1][2]
        and mismatches[1][1] == mismatches[0][2]
    )
    if sizes_swapped or fingerprints_swapped:
        raise ValueError(
            f"The source and target vocabularies {where}are swapped: the source "
            "tokenizer directory holds the model's target vocabulary and the "
            "target one its source vocabulary. Swap the two directories back."
        )
    for side, (model_size, tokenizer_size) in expected.items():
        if model_size != tokenizer_size:
            raise ValueError(
                f"The {side} vocabulary {where}has {tokenizer_size} tokens but the "
                f"model expects {model_size}. The vocabulary files do not belong to "
                "this model; retrain or restore the matching tokenizer directory."
            )
    for side, fingerprint, trained_with in mismatches:
        raise ValueError(
            f"The {side} vocabulary {where}has the fingerprint {fingerprint} "
            f"but the model was trained with {trained_with} (another "
            "build, or other text settings). The vocabulary files do not "
            "belong to this model; retrain or restore the matching tokenizer "
            "directory."
        )


def load_keras_model(path):
    """Loads a run's `.keras` file (this module imports the package's Keras
    classes, which registers them for `load_model`)."""
    return keras.models.load_model(path)


def checkpoint_path(model_dir, checkpoint="auto"):
    """The weights file that `checkpoint` names in a run directory.

    Args:
        model_dir: str. The run directory.
        checkpoint: str. `"best"` (best validation BLEU), `"last"` (the end
            of the last run), `"averaged"` (the mean of the last epochs'
            weights, `average_checkpoints`), or `"auto"`: the best when the
            run has one, else the last. Defaults to `"auto"`.

    Returns:
        The path of `best.keras`, `averaged.keras` or `model.keras`.
    """
    if checkpoint not in CHECKPOINT_CHOICES:
        raise ValueError(
            f"checkpoint (--checkpoint) must be one of {CHECKPOINT_CHOICES}. "
            f"Received: {checkpoint!r}"
        )

    averaged = os.path.join(model_dir, AVERAGED_MODEL_FILE)
    if checkpoint == "averaged":
        if not gfile.exists(averaged):
            raise FileNotFoundError(
                f"{model_dir} has no {AVERAGED_MODEL_FILE}: it is written at the "
                "end of training when the run averages its last epochs "
                "(average_checkpoints > 0, --average-checkpoints under ktb "
                "translate train). Use --checkpoint last."
            )
        return averaged
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

    config = read_json(os.path.join(model_dir, CONFIG_FILE))
    if config is None or not gfile.exists(os.path.join(model_dir, MODEL_FILE)):
        raise FileNotFoundError(
            f"No trained model in {model_dir}: expected {CONFIG_FILE} and "
            f"{MODEL_FILE}. Train one with: ktb translate train --model-dir {model_dir}"
        )
    model_path = checkpoint_path(model_dir, checkpoint)
    source_tokenizer, target_tokenizer = load_tokenizers(model_dir, config)
    model = load_keras_model(model_path)
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


def load_corpus(config):
    """The run's corpus, split as its config says (with `phrase_pairs`, Ding's
    dictionary phrases join the training split). A config that records
    `data_fingerprint` (a trained run's) must split into the same pairs:
    data that changed since is refused, naming what moved."""
    data = config["data"]
    if "data_fingerprint" in config and isinstance(data, str):
        absolute = [part for part in data.split(",") if os.path.isabs(part)]
        missing = [part for part in absolute if not os.path.exists(part)]
        if missing:
            raise FileNotFoundError(
                f"The run's data file {missing[0]} (its translate_config.json "
                "records it) no longer exists: restore it to evaluate or resume "
                "the run."
            )
    sizes = {"test_size": config["test_size"]}
    for key in ("validation_size", "source_column", "target_column"):
        if config.get(key) is not None:  # runs saved before columns: None
            sizes[key] = config[key]
    for key, default in (("source_column", 0), ("target_column", 1)):
        if sizes.get(key) == default:  # what a TSV file has unless chosen
            del sizes[key]
    if config.get("phrase_pairs") and data in DING_NAMES:
        sizes["phrase_pairs"] = config["phrase_pairs"]
    if config.get("alternative_pairs") and data in DING_NAMES:
        sizes["alternative_pairs"] = True
    corpus = load_translation_corpus(data, seed=config["seed"], **sizes)
    saved = config.get("data_fingerprint")
    now = saved and corpus_fingerprint(corpus)  # hashed only to compare
    if saved is not None and saved != now:
        moved = [
            f"{key} {now.get(key)} pairs (saved: {saved.get(key)})"
            for key in ("train", "validation", "test")
            if now.get(key) != saved.get(key)
        ] or ["as many pairs in each split as saved, but other pairs"]
        raise ValueError(
            f"The corpus {data} no longer splits into the pairs this run was "
            f"trained and held out on ({'; '.join(moved)}): the data changed "
            "since, so its test pairs may be pairs the model trained on. Restore "
            "the data, or train a new run on it."
        )
    return corpus


def corpus_fingerprint(corpus):
    """The sizes of a corpus' splits and a digest of their pairs (what a
    trained run records as `data_fingerprint`).

    Example:
    >>> from keras_transformer_bit.data import ParallelCorpus
    >>> pairs = [(f"S {i}.", f"T {i}.") for i in range(20)]
    >>> corpus_fingerprint(ParallelCorpus.from_pairs(pairs))["test"]
    2
    """
    digest = hashlib.sha256()
    for split in (corpus.train, corpus.validation, corpus.test):
        digest.update(json.dumps(split, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\0")
    return {
        "train": len(corpus.train),
        "validation": len(corpus.validation),
        "test": len(corpus.test),
        "sha256": digest.hexdigest(),
    }


def default_config():
    """The config of a run trained without flags: the translation recipe's."""

    recipe = translation_recipe()
    return {
        "data": "ding",
        "preset": recipe.preset,
        "model_overrides": dict(recipe.model_overrides),
        # Runs saved before these keys existed used WordPiece, unsampled.
        "tokenizer": "wordpiece",
        "subword_sampling_alpha": None,
        "vocabulary_size": recipe.vocabulary_size,
        "shared_vocabulary": recipe.shared_vocabulary,
        "lower_case": False,
        "max_length": recipe.max_length,
        "tokens_per_batch": recipe.tokens_per_batch,
        "warmup_steps": recipe.warmup_steps,
        "learning_rate_scale": recipe.learning_rate_scale,
        # The last fraction of the budget over which the learning rate falls
        # to zero (`NoamSchedule`'s cooldown, driven by `TrainingBudget`).
        "learning_rate_cooldown": recipe.learning_rate_cooldown,
        "label_smoothing": recipe.label_smoothing,
        "seed": 1234,
        # Ding only: dictionary word/phrase pairs added to the training split
        # (a run on another corpus gets 0).
        "phrase_pairs": recipe.phrase_pairs,
        # Ding only: the other wordings of the training sentences join them.
        "alternative_pairs": recipe.alternative_pairs,
        # Save averaged.keras, the mean of the last N epochs' weights (0: no).
        "average_checkpoints": recipe.average_checkpoints,
        # Initialise the target embedding from a pretrained English encoder's
        # word pieces (`PretrainedWordEmbeddings.load`'s path or name; None or
        # "none": no). The recipe's applies to Ding (German->English) with a
        # vocabulary per language; other runs start random unless they ask.
        "target_embeddings": recipe.target_embeddings,
        # Start the source embedding from the same pretrained vectors, each
        # source word from its translation in this lexicon (`load_lexicon`:
        # "ding" or a TSV file; None or "none": no). Needs target_embeddings.
        "source_lexicon": recipe.source_lexicon,
        "test_size": None,  # the corpus reader's choice: a tenth, at most 1000
        "validation_size": None,
        "source_column": 0,  # of a TSV file
        "target_column": 1,
        "jit_compile": "auto",
    }


class _EpochLogs(keras.callbacks.Callback):
    """The `history.json` entries of the epochs a call trains, one per epoch
    from that epoch's logs. (Keras' `History` keeps one list per metric, so
    a metric logged every few epochs, such as `val_bleu`, loses its epochs.)"""

    def __init__(self):
        super().__init__()
        self.entries = []

    def on_epoch_end(self, epoch, logs=None):
        self.entries.append(_epoch_entry(epoch + 1, logs))


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

    Each entry also holds `call_minutes`: the minutes of training the call
    had spent when the epoch ended, counting those of the killed calls before
    it, so that a rerun gets what is left of the call's budget.
    """

    def __init__(self, path, entries, enabled=True):
        self.path = path
        self.entries = list(entries)
        self.enabled = enabled
        # Minutes the killed calls spent before this one (0 for a new call).
        self.minutes_before = max(
            [0.0] + [entry.get(CALL_MINUTES, 0.0) for entry in self.entries]
        )
        self.started = time.perf_counter()

    def start(self):
        """Starts this call's clock (when its training starts)."""
        self.started = time.perf_counter()

    def record(self, epoch, logs):
        if not self.enabled:
            return
        entry = _epoch_entry(epoch, logs)
        minutes = (time.perf_counter() - self.started) / 60
        entry[CALL_MINUTES] = round(self.minutes_before + minutes, 4)
        self.entries = _merge_history(self.entries, [entry])
        write_json_atomically(self.path, self.entries)


def _partial_history_callback(partial):
    class PartialHistoryCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            partial.record(epoch + 1, logs)

    return PartialHistoryCallback()


def _plan(epochs, budget_minutes, partial):
    """What a call trains: `(epoch_range, budget, message)`.

    `epochs` is `(saved_epoch, resumed_epoch, epochs_asked)`. The call trains
    up to `saved_epoch + epochs_asked`, within what is left of
    `budget_minutes` after the killed calls before it (`partial`). The
    message has `{parameters}`, `{strategy}` and `{model_path}` to fill.
    """
    initial_epoch, resumed_epoch, asked = epochs
    last_epoch = initial_epoch + asked
    spent = partial.minutes_before
    if resumed_epoch >= last_epoch:
        return (
            (initial_epoch, last_epoch),
            None,
            f"Epochs 1 to {resumed_epoch} are done (a call that was stopped "
            f"trained them), which reaches this call's last epoch, {last_epoch} "
            f"(the {initial_epoch} saved epochs plus epochs={asked}): nothing "
            "left to train; saving {model_path}. Call again to train more.",
        )
    if budget_minutes and spent >= budget_minutes:
        # Nothing to train: fit resumes at the backup, which is the last epoch.
        return (
            (initial_epoch, resumed_epoch),
            None,
            f"The budget of {budget_minutes:g} min was spent by the call that was "
            f"stopped ({spent:.1f} min, epochs up to {resumed_epoch}): nothing "
            "left to train; saving {model_path}. Call again to train more.",
        )
    message = (
        "Training {parameters} parameters from epoch "
        f"{resumed_epoch + 1} to {last_epoch} ({{strategy}})"
    )
    budget = None
    if budget_minutes:
        left = budget_minutes - spent
        budget = TrainingBudget(left, spent_minutes=spent)
        message += f", budget {budget_minutes:g} min" + (
            f" ({spent:.1f} spent by the call that was stopped, {left:.1f} left)"
            if spent
            else ""
        )
    return (initial_epoch, last_epoch), budget, message


def _fit_with_keras(model, train_data, validation_data, callbacks, epochs):
    """Trains with `model.fit`; returns the history entries of the new epochs.

    An epoch is as many batches as one pass over the training data gives;
    `fit` is told so (a repeated dataset and `steps_per_epoch`, the
    validation batches' count), so that it never runs out of data. With
    subword sampling the count of a pass varies a little: an epoch is then
    the first pass's count, read from the endless stream of sampled passes.
    """
    initial_epoch, last_epoch = epochs
    if validation_data is not None:
        validation_data = with_cardinality(
            validation_data, count_batches(validation_data)
        )
    epoch_logs = _EpochLogs()
    model.fit(
        train_data.repeat(),
        steps_per_epoch=count_batches(train_data),
        validation_data=validation_data,
        initial_epoch=initial_epoch,
        epochs=last_epoch,
        callbacks=[*callbacks, epoch_logs],
        verbose=1 if sys.stdout.isatty() else 2,
        shuffle=False,  # the dataset shuffles itself, with a seed
    )
    return epoch_logs.entries


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
    budget, bleu, best, averaging, interrupt = callbacks
    worker_callbacks = [c for c in (budget, averaging) if c is not None]
    if loop.is_chief:
        worker_callbacks += [bleu, best] if bleu is not None else []
        if partial is not None:
            worker_callbacks.append(_partial_history_callback(partial))
    epoch_logs = _EpochLogs()
    loop.fit(
        train_data,
        epochs=last_epoch,
        validation_data=validation_data,
        verbose=1,
        callbacks=[*worker_callbacks, epoch_logs, interrupt],
    )
    return epoch_logs.entries


def _resolved_data(data):
    """`data` with its local file paths made absolute (other names as given)."""
    if isinstance(data, str) and _local_paths_exist(data):
        return ",".join(os.path.abspath(part) for part in data.split(","))
    return data


def _local_paths_exist(data):
    """Whether `data` names local files (one, or `SOURCE,TARGET`)."""
    parts = data.split(",")
    return len(parts) <= 2 and all(os.path.isfile(part) for part in parts)


def _check_overrides_type(settings, names):
    """`model_overrides` must be a dict; `None` means none of the run's own
    (the recipe's stay), and becomes `{}` in `settings`."""
    overrides = settings.get("model_overrides", {})
    if overrides is None:
        settings["model_overrides"] = {}
    elif not isinstance(overrides, dict):
        name = names.get("model_overrides", "model_overrides")
        raise ValueError(
            f"{name} must be a dict of Transformer arguments (or None). "
            f"Received: {name}={overrides!r}"
        )


def _check_choices(chosen, names):
    """Refuses an unknown preset, model override or strategy, and a label
    smoothing outside [0, 1), before any data is read."""
    preset = chosen.get("preset")
    if preset is not None and preset not in transformer_presets:
        name = names.get("preset", "preset")
        raise ValueError(
            f"{name} must be one of {sorted(transformer_presets)}. "
            f"Received: {name}={preset!r}"
        )
    known = set(Transformer.argument_names())
    unknown = sorted(set(chosen.get("model_overrides", {})) - known)
    if unknown:
        raise ValueError(
            f"Unknown model_overrides {unknown}: expected some of the Transformer's "
            f"arguments {sorted(known)}."
        )
    defaults = default_config()
    model_config = {
        **transformer_presets[preset or defaults["preset"]]["config"],
        **defaults["model_overrides"],
        **chosen.get("model_overrides", {}),
    }
    check_model_overrides(model_config, names)
    smoothing = chosen.get("label_smoothing")
    if smoothing is not None and (
        isinstance(smoothing, bool)
        or not isinstance(smoothing, (int, float))
        or not 0 <= smoothing < 1
    ):
        name = names.get("label_smoothing", "label_smoothing")
        raise ValueError(f"{name} must be in [0, 1). Received: {name}={smoothing!r}")
    for key in ("test_size", "validation_size"):  # pairs held out
        if chosen.get(key) is not None:
            check_non_negative_int(names.get(key, key), chosen[key])
    source, target = (chosen.get(key) for key in ("source_column", "target_column"))
    with restate_setting_errors(names):  # read_tsv_corpus's check, before reading
        check_columns(0 if source is None else source, 1 if target is None else target)


def _check_held_out(corpus, config):
    """Refuses a corpus whose default split holds out no test pair: too few
    distinct pairs, so the run could never be evaluated. A test size set to
    0 on purpose passes."""
    if corpus.test or config["test_size"] == 0:
        return
    distinct = (
        len(corpus.train)
        + len(corpus.validation)
        + len(corpus.test)
        + corpus.num_overlaps_dropped
    )
    raise SettingError(
        lambda name: (
            f"The corpus {corpus.name!r} has {distinct} distinct pair"
            + ("" if distinct == 1 else "s")
            + f" ({corpus.num_duplicates_dropped} repeated pairs or sources dropped, "
            f"{corpus.num_malformed} malformed): too few to hold out a test pair "
            "beside a validation pair, which takes at least 4. Give more distinct "
            f"pairs, or train on all of them with {_setting(name, 'test_size', 0)} "
            f"and {_setting(name, 'validation_size', 0)} (the run can then not be "
            "evaluated)."
        )
    )


def _setting(name, key, value):
    """`--flag value` when `name(key)` is a flag, else `key=value`."""
    named = name(key)
    return f"{named} {value}" if named.startswith("--") else f"{named}={value}"


def _check_sizes(chosen, names):
    """Refuses zero and negative sizes before any data is read."""
    for key in ("vocabulary_size", "max_length", "tokens_per_batch", "warmup_steps"):
        if key in chosen:
            check_positive_int(names.get(key, key), chosen[key])
    if chosen.get("vocabulary_size", len(RESERVED_TOKENS) + 1) <= len(RESERVED_TOKENS):
        name = names.get("vocabulary_size", "vocabulary_size")
        raise ValueError(
            f"{name} must be an int greater than {len(RESERVED_TOKENS)} (the "
            f"reserved tokens {list(RESERVED_TOKENS)}). Received: "
            f"{name}={chosen['vocabulary_size']}"
        )
    if "seed" in chosen:
        check_seed(chosen["seed"], names.get("seed", "seed"), allow_none=False)
    check_positive_number(
        names.get("learning_rate_scale", "learning_rate_scale"),
        chosen.get("learning_rate_scale"),
        allow_none=True,
    )
    for key in ("phrase_pairs", "average_checkpoints"):
        check_non_negative_int(names.get(key, key), chosen.get(key, 0))
    if "learning_rate_cooldown" in chosen:
        check_fraction(
            names.get("learning_rate_cooldown", "learning_rate_cooldown"),
            chosen["learning_rate_cooldown"],
        )
    alternatives = chosen.get("alternative_pairs", False)
    if not isinstance(alternatives, bool):
        name = names.get("alternative_pairs", "alternative_pairs")
        raise ValueError(f"{name} must be True or False. Received: {alternatives!r}")
    ding_only = {
        "alternative_pairs": "adds the Ding dictionary's other wordings of its "
        "sentences",
        "phrase_pairs": "adds pairs from the Ding dictionary",
    }
    for key, what in ding_only.items():
        if chosen.get(key) and chosen.get("data", "ding") not in DING_NAMES:
            name, data = names.get(key, key), names.get("data", "data")
            raise ValueError(
                f"{name} {what}, so it needs {data} ding. Received: {name}="
                f"{chosen[key]} with {data} {chosen['data']!r}"
            )


def _needs_two_vocabularies(reason, names):
    """The error for a setting that a shared vocabulary rules out."""
    shared = names.get("shared_vocabulary", "shared_vocabulary")
    fix = (
        "leave out --shared-vocabulary."
        if shared.startswith("--")
        else "set shared_vocabulary=False."
    )
    return ValueError(f"{reason} with one shared vocabulary; {fix}")


def _check_target_embeddings(config, names):
    """Refuses pretrained target embeddings that cannot be read, or a shared
    vocabulary for them, before a new run reads any data."""
    pretrained = config.get("target_embeddings")
    if pretrained is None:
        return
    name = names.get("target_embeddings", "target_embeddings")
    if config["shared_vocabulary"]:
        raise _needs_two_vocabularies(
            f"{name} initialises the target embedding from English word pieces, "
            "so it needs a vocabulary per language: a shared one also embeds the "
            f"source language. Received: {name} {pretrained!r}",
            names,
        )
    try:
        check_pretrained_embeddings(pretrained)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _check_source_lexicon(config, names):
    """Refuses a source lexicon without pretrained vectors to look its
    translations up in, or one that is neither a known name nor a file."""
    lexicon = config.get("source_lexicon")
    if lexicon is None:
        return
    name = names.get("source_lexicon", "source_lexicon")
    if not isinstance(lexicon, str):
        raise ValueError(
            f"{name} must be one of {list(LEXICONS)}, a lexicon file's path "
            f"or None. Received: {lexicon!r}"
        )
    if config["shared_vocabulary"]:
        raise _needs_two_vocabularies(
            f"{name} starts the source embedding from English vectors, so it "
            "needs a vocabulary per language, as the pretrained target "
            f"embeddings do. Received: {name} {lexicon!r}",
            names,
        )
    if config.get("target_embeddings") is None:
        vectors = names.get("target_embeddings", "target_embeddings")
        raise ValueError(
            f"{name} starts the source embedding from the pretrained vectors of "
            f"each word's translation, so it needs {vectors} (the vectors). "
            f"Received: {name} {lexicon!r} with {vectors} none."
        )
    if lexicon in LEXICONS:
        if lexicon == "ding" and not os.path.exists(DING_DE_EN_PATH):
            raise ValueError(
                f"{name} ding reads the Ding dictionary, which is not at "
                f"{DING_DE_EN_PATH}: {DING_INSTALL_COMMAND}"
            )
        return
    if not os.path.isfile(lexicon):
        raise ValueError(
            f"{name} must be one of {list(LEXICONS)} or a lexicon file (a "
            f"TSV file: source word, tab, translation). Received: {lexicon!r}"
            + (", a directory" if os.path.isdir(lexicon) else ", no such file")
        )
    try:  # a user's file is small: read it now, not after the vocabularies
        load_lexicon(lexicon)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _check_subword_sampling(config, names):
    """Refuses an alpha out of range, or sampling a tokenizer cannot do."""
    alpha = config.get("subword_sampling_alpha")
    if alpha is None:
        return
    alpha_name = names.get("subword_sampling_alpha", "subword_sampling_alpha")
    tokenizer_name = names.get("tokenizer", "tokenizer")
    if not 0 < alpha <= 1:
        raise ValueError(
            f"{alpha_name} must be a number in (0, 1]: the unigram "
            f"smoothing or the BPE-dropout probability. Received: {alpha}"
        )
    tokenizer = config.get("tokenizer", "wordpiece")
    if not tokenizer.startswith("sentencepiece"):
        raise ValueError(
            f"{alpha_name} {alpha} needs {tokenizer_name} sentencepiece or "
            f"sentencepiece-bpe: WordPiece has one segmentation per word. "
            f"Received: {tokenizer_name} {tokenizer}"
        )


# What `TranslationRun.train` counts in history.json and prints.
CHECKPOINT_CHOICES = ("auto", "best", "last", "averaged")


# What runs saved before a key existed trained with, where that is not the
# recipe's value of today.
_VALUES_BEFORE_THE_KEY = {"learning_rate_cooldown": 0.0}


def changed_settings(saved_config, chosen, describe=describe_setting):
    """The settings of `chosen` whose values differ from a saved run's config.

    Args:
        saved_config: dict. The run's `translate_config.json`.
        chosen: dict. The settings given now (absent: not given).
        describe: function `(key, value) -> str` naming a setting and its
            value in the message (`"model_overrides.num_layers"` for the model
            overrides).

    Returns:
        A list of `"given (saved: saved)"` strings, empty when the settings
        agree with the run.
    """
    defaults = None
    changes = []
    for key, value in chosen.items():
        if key == "model_overrides":
            # An argument the run did not override has its preset's value.
            preset = saved_config.get("preset") or default_config()["preset"]
            saved_overrides = {
                **transformer_presets.get(preset, {}).get("config", {}),
                **saved_config.get("model_overrides", {}),
            }
            pairs = [
                (f"model_overrides.{name}", override, saved_overrides.get(name))
                for name, override in value.items()
            ]
        else:
            if key not in saved_config:  # a config written before the key existed
                defaults = defaults or default_config()
            before = _VALUES_BEFORE_THE_KEY.get(key, (defaults or {}).get(key))
            pairs = [(key, value, saved_config.get(key, before))]
        for name, given, saved in pairs:
            same = given == saved
            if name == "data":  # a path as typed then, or resolved now
                same = _resolved_data(given) == _resolved_data(saved)
            if not same:
                changes.append(
                    f"{describe(name, given)} (saved: {describe(name, saved)})"
                )
    return changes


class TranslationRun:
    """Trains a `Transformer` translation run in one directory, resumably.

    Args:
        model_dir: str. The run directory (local, `gs://`, `s3://`, `hdfs://`
            or `ram://`). A new run needs an absent or empty directory.
        strategy: str. One of `ktb.distribute.STRATEGY_NAMES` (`"auto"`,
            `"one_device"`, `"mirrored"`, `"multi_worker"`). Defaults to
            `"auto"`.
        mixed_precision: bool. Train in mixed precision where the device
            gains from it (`ktb.distribute.set_mixed_precision("auto")`).
        names: dict or None. How messages name the settings (the CLI passes
            its flags: `{"max_length": "--max-length", ...}`); None: by key.
        describe: function `(key, value) -> str` for the resume check's
            message. Defaults to `key=value`.
        **settings: the run's training settings, keys of
            `ktb.training.default_config()`
            (`data`, `preset`, `model_overrides`: a dict merged into the
            recipe's, which sets `{"dropout": 0.2}`, so `{"num_layers": 2}`
            keeps that dropout and `{"dropout": 0.1}` gives the preset's;
            `tokenizer`,
            `vocabulary_size`, `max_length`, `tokens_per_batch`,
            `target_embeddings`: pretrained English word pieces for the
            target embedding, `ktb.data.PretrainedWordEmbeddings.load`'s name
            or directory, or None; `source_lexicon`: `"ding"`, a TSV file
            (`ktb.data.load_lexicon`) or None, through which the source
            embedding starts from the same vectors; `alternative_pairs`:
            Ding's other wordings of the training sentences join them; each
            of the three the recipe's on Ding, off elsewhere, ...). A new
            run takes the rest from `default_config()` (the translation
            recipe); a resumed run keeps its saved settings and refuses
            different ones.

    One run trains in a directory at a time: while `train()` runs, it holds
    the directory's `RunLock` (which says how stale locks are handled), and a
    second `train()` there raises `RunLockedError` before reading any data.

    Example:
    >>> run = ktb.training.TranslationRun(
    ...     "runs/de_en", data="ding", tokenizer="sentencepiece")  # doctest: +SKIP
    >>> history = run.train(epochs=100, budget_minutes=20)  # doctest: +SKIP
    >>> history[-1]["val_bleu"]  # doctest: +SKIP
    8.1
    """

    def __init__(
        self,
        model_dir,
        strategy="auto",
        mixed_precision=False,
        names=None,
        describe=describe_setting,
        **settings,
    ):
        if not model_dir or not isinstance(model_dir, (str, os.PathLike)):
            raise ValueError(
                f"model_dir must be a non-empty path. Received: {model_dir!r}"
            )
        for_train = sorted(set(settings) & set(TRAIN_ARGUMENTS))
        if for_train:
            raise TypeError(
                f"{for_train} are arguments of TranslationRun.train(...), not of "
                f"the constructor: TranslationRun(model_dir, **settings)"
                f".train({', '.join(f'{name}=...' for name in for_train)})."
            )
        check_known_arguments("TranslationRun", settings, default_config())
        self.model_dir = os.fspath(model_dir)
        self.strategy_name = strategy
        self.mixed_precision = bool(mixed_precision)
        # SentencePiece's character coverage is no setting of a run: its
        # errors leave out advice about it.
        self.names = {"character_coverage": None, **(names or {})}
        self.describe = describe
        self.settings = {key: plain_value(value) for key, value in settings.items()}
        _check_overrides_type(self.settings, self.names)
        if "data" in self.settings:
            # Resolved, so that a rerun from another directory finds its run.
            self.settings["data"] = _resolved_data(self.settings["data"])
        pretrained = self.settings.get("target_embeddings")
        if isinstance(pretrained, str) and pretrained.lower() == "none":
            pretrained = self.settings["target_embeddings"] = None  # as the CLI
        if isinstance(pretrained, os.PathLike):
            pretrained = self.settings["target_embeddings"] = os.fspath(pretrained)
        if isinstance(pretrained, str) and os.path.isdir(pretrained):
            self.settings["target_embeddings"] = os.path.abspath(pretrained)
        lexicon = self.settings.get("source_lexicon")
        if isinstance(lexicon, os.PathLike):
            lexicon = self.settings["source_lexicon"] = os.fspath(lexicon)
        if isinstance(lexicon, str) and lexicon.strip().lower() == "none":
            self.settings["source_lexicon"] = None
        elif isinstance(lexicon, str) and lexicon.strip().lower() in LEXICONS:
            self.settings["source_lexicon"] = lexicon.strip().lower()
        elif isinstance(lexicon, str) and os.path.isfile(lexicon):
            self.settings["source_lexicon"] = os.path.abspath(lexicon)

    @property
    def config_path(self):
        return os.path.join(self.model_dir, CONFIG_FILE)

    def history(self):
        """The run's `history.json`: one dict per epoch of the finished calls
        (`[]` before the first). A call's last entry holds `run_minutes`, the
        minutes it trained (counting a killed predecessor's)."""
        return read_json(os.path.join(self.model_dir, HISTORY_FILE), default=[])

    def corpus(self):
        """The run's corpus, split as its saved config says (the test split
        to score a trained run on)."""
        if not gfile.exists(self.config_path):
            raise FileNotFoundError(
                f"{self.model_dir} holds no trained run (no {CONFIG_FILE}): train "
                "it first, then read its corpus."
            )
        return load_corpus(self.resolve_config())

    def load(self, checkpoint="auto"):
        """The trained run: `(config, source_tokenizer, target_tokenizer,
        model)`. `checkpoint`: `"auto"` (the best validation BLEU if scored,
        else the last), `"best"`, `"last"` or `"averaged"` (the mean of the
        last epochs, saved with `average_checkpoints`)."""
        return load_run(self.model_dir, checkpoint)

    def resolve_config(self):
        """The run's config: the saved one (checked against the settings
        given) when the directory holds a run, else the defaults with the
        settings. Raises `ValueError` for bad or conflicting settings."""
        chosen = self.settings
        _check_sizes(chosen, self.names)
        _check_choices(chosen, self.names)
        model_dir = self.model_dir
        self._check_not_a_file()
        if gfile.exists(self.config_path):
            config = read_json(self.config_path)
            changes = changed_settings(config, chosen, self.describe)
            if changes:
                raise ValueError(
                    f"{model_dir} holds a run trained with other settings, so it "
                    f"cannot resume with these: {'; '.join(changes)}. Resume "
                    "without them (the run keeps its own), or train in a new "
                    f"{self.names.get('model_dir', 'model_dir')}."
                )
        else:
            # A lock file alone is a run's that was stopped before writing.
            if gfile.isdir(model_dir) and set(list_names(model_dir)) - {LOCK_FILE}:
                raise ValueError(
                    f"{self.names.get('model_dir', 'model_dir')} {model_dir} "
                    f"exists, is not empty and holds no {CONFIG_FILE}; choose a "
                    "new directory."
                )
            defaults = default_config()
            config = {**defaults, **chosen}
            config["model_overrides"] = {
                **defaults["model_overrides"],
                **chosen.get("model_overrides", {}),
            }
            if config["data"] not in DING_NAMES:  # the recipe's are Ding's
                config["phrase_pairs"] = 0
                config["alternative_pairs"] = False
            # The recipe's pretrained target embeddings are English word
            # pieces for Ding's own vocabulary; elsewhere they are opt-in.
            for key in ("target_embeddings", "source_lexicon"):
                if key not in chosen and (
                    config["data"] not in DING_NAMES or config["shared_vocabulary"]
                ):
                    config[key] = None
            # The recipe's lexicon looks translations up in the pretrained
            # vectors: without them, it is off unless asked for (then refused).
            if "source_lexicon" not in chosen and config["target_embeddings"] is None:
                config["source_lexicon"] = None
            _check_target_embeddings(config, self.names)
            _check_source_lexicon(config, self.names)
        if config.get("tokenizer", "wordpiece") not in TOKENIZERS:
            name = self._name("tokenizer")
            raise ValueError(
                f"{name} must be one of {sorted(TOKENIZERS)}. "
                f"Received: {name}={config['tokenizer']!r}"
            )
        _check_subword_sampling(config, self.names)
        if config["tokens_per_batch"] < config["max_length"]:
            tokens = self.names.get("tokens_per_batch", "tokens_per_batch")
            length = self.names.get("max_length", "max_length")
            raise ValueError(
                f"{tokens} must hold at least one pair of {length} tokens. "
                f"Received: {tokens} {config['tokens_per_batch']}, "
                f"{length} {config['max_length']}"
            )
        return config

    def train(
        self,
        epochs=1,
        budget_minutes=None,
        bleu_every=1,
        bleu_examples=200,
        worker_timeout=600,
    ):
        """Builds or reloads the run and trains it up to `epochs` more epochs.

        The call trains until epoch `E + epochs`, where `E` is the last epoch
        that a finished call saved (`history.json`; 0 for a new run). So a
        call that was killed, run again with the same arguments, finishes
        what it asked for: it resumes from its last backup and stops at the
        same epoch. Epochs a killed call finished count: if they already
        reach `E + epochs`, the call saves the run and trains nothing.

        Args:
            epochs: int. Epochs to add to the run's.
            budget_minutes: float or None. Stop once this much wall-clock
                time has passed (after the step it runs out in; with several
                workers, at that epoch's end). A call that was killed, run
                again, gets what it had left of its budget at its last
                finished epoch.
            bleu_every: int. Validation BLEU (greedy, through a `Translator`)
                every this many epochs; 0: never (no `best.keras` then).
            bleu_examples: int. Validation sentences BLEU decodes.
            worker_timeout: float or None. Multi-worker only: seconds without
                a finished step after which a worker exits with status 75.

        Returns:
            The run's history: one dict per epoch (all runs of the
            directory), as `history.json` holds it.

        Raises:
            RunLockedError: when another run is training in the directory.
        """
        check_tensorflow_backend("TranslationRun")
        if self.strategy_name not in distribute.STRATEGY_NAMES:
            name = self._name("strategy")
            raise ValueError(
                f"{name} must be one of {list(distribute.STRATEGY_NAMES)}. "
                f"Received: {name}={self.strategy_name!r}"
            )
        epochs = check_positive_int(self._name("epochs"), epochs)
        self._check_positive("budget_minutes", budget_minutes)
        self._check_positive("worker_timeout", worker_timeout)
        bleu_every = check_non_negative_int(self._name("bleu_every"), bleu_every)
        bleu_examples = check_positive_int(self._name("bleu_examples"), bleu_examples)
        self._check_not_a_file()
        check_model_dir(self.model_dir, self.strategy_name, "ktb translate train")
        # With several workers, each decides this before the cluster forms (in
        # get_strategy), so none sees files the chief is about to write.
        resuming = gfile.exists(self.config_path)
        config = self.resolve_config()
        keras.utils.set_random_seed(config["seed"])
        if self.mixed_precision:
            distribute.set_mixed_precision("auto")
        strategy = distribute.get_strategy(self.strategy_name)
        # Only the chief holds the lock: the workers share the directory.
        chief = distribute.is_chief_task(strategy)
        created_dir = not gfile.exists(self.model_dir)
        with RunLock(self.model_dir) if chief else contextlib.nullcontext():
            try:
                # Everything that can fail on bad input happens before the run
                # is written: reading the corpus, building vocabularies, the
                # batches.
                corpus, tokenizers, datasets = self._read_data(
                    config, strategy, resuming
                )
                model = self._load_or_build_model(config, tokenizers, strategy)
                gfile.makedirs(self.model_dir)
                if not resuming and chief:
                    self._save_config_and_tokenizers(config, tokenizers)
                history = self._fit(
                    model,
                    config,
                    strategy,
                    datasets,
                    self._bleu_callback(
                        corpus, tokenizers, config, bleu_every, bleu_examples
                    ),
                    epochs,
                    budget_minutes,
                    worker_timeout,
                )
            except BaseException:
                if chief and not resuming:
                    self._remove_unsaved_fresh_run(created_dir)
                raise
        return history

    # ---------------------------------------------------------------- steps
    def _name(self, key):
        return self.names.get(key, key)

    def _check_not_a_file(self):
        check_model_dir_not_a_file(self.model_dir, self._name("model_dir"))

    def _check_positive(self, key, value):
        check_positive_number(self._name(key), value, allow_none=True)

    def _read_data(self, config, strategy, resuming):
        """The corpus, the (source, target) tokenizers and the datasets (an
        error on a setting names it as the caller does: `--max-length`)."""
        with restate_setting_errors(self.names):
            return self._read_data_as_named(config, strategy, resuming)

    def _read_data_as_named(self, config, strategy, resuming):
        corpus = load_corpus(config)  # a resumed run's: the same pairs
        if distribute.is_chief_task(strategy):
            print(corpus.summary())
        _check_held_out(corpus, config)
        if "data_fingerprint" not in config:  # a resumed run's was compared
            config["data_fingerprint"] = corpus_fingerprint(corpus)
        if resuming:
            tokenizers = load_tokenizers(self.model_dir, config)
        else:
            started = time.perf_counter()
            # Learning a vocabulary is deterministic: every worker gets the same.
            tokenizers = build_tokenizers(
                corpus,
                config["vocabulary_size"],
                config["shared_vocabulary"],
                config["lower_case"],
                config.get("tokenizer", "wordpiece"),
            )
            print(
                f"Built vocabularies of {tokenizers[0].vocabulary_size} (source) "
                f"and {tokenizers[1].vocabulary_size} (target) subwords in "
                f"{time.perf_counter() - started:.0f} s."
            )
            built = tokenizers[:1] if config["shared_vocabulary"] else tokenizers
            note = smaller_vocabulary_note(
                self.describe("vocabulary_size", config["vocabulary_size"]),
                config["vocabulary_size"],
                [tokenizer.vocabulary_size for tokenizer in built],
                slack=subword_tokenizer.SIZE_SLACK,
            )
            if note:
                print(note, file=sys.stderr)
        datasets = make_datasets(
            corpus, config, *tokenizers, num_replicas=strategy.num_replicas_in_sync
        )
        return corpus, tokenizers, datasets

    def _load_or_build_model(self, config, tokenizers, strategy):
        model_path = os.path.join(self.model_dir, MODEL_FILE)
        with strategy.scope():
            if gfile.exists(model_path):
                model = load_keras_model(model_path)
                check_vocabularies(model, *tokenizers, f"in {self.model_dir} ")
                return model
            model = build_model(config, *tokenizers)
            if config.get("target_embeddings"):
                pretrained = PretrainedWordEmbeddings.load(config["target_embeddings"])
                report = pretrained.initialize_target_embedding(
                    model, tokenizers[1], seed=config["seed"]
                )
                print(
                    f"Target embedding from {config['target_embeddings']}: "
                    f"{report['direct']} subwords found, {report['pieces']} spelled "
                    f"from its word pieces, {report['random']} random; "
                    f"{report['variance_kept']:.0%} of its variance kept.",
                    flush=True,
                )
            if config.get("source_lexicon"):
                try:
                    lexicon = load_lexicon(config["source_lexicon"])
                except (OSError, ValueError) as error:
                    raise type(error)(
                        f"{error} The run in {self.model_dir} builds its model "
                        "from it (no epoch of it was saved yet): restore the "
                        "file, or train in a new directory."
                    ) from None
                report = pretrained.initialize_source_embedding(
                    model, tokenizers[0], lexicon, seed=config["seed"] + 1
                )
                print(
                    f"Source embedding from {config['target_embeddings']} through "
                    f"the {config['source_lexicon']} lexicon: "
                    f"{report['translated']} subwords translated, "
                    f"{report['direct']} found as they are, {report['random']} "
                    f"random; {report['variance_kept']:.0%} of its variance kept.",
                    flush=True,
                )
            compile_model(model, config)
            return model

    def _save_config_and_tokenizers(self, config, tokenizers):
        source_dir, target_dir = tokenizer_dirs(self.model_dir)
        tokenizers[0].save(source_dir)
        if not config["shared_vocabulary"]:
            tokenizers[1].save(target_dir)
        write_json_atomically(self.config_path, config)

    @staticmethod
    def _bleu_callback(corpus, tokenizers, config, bleu_every, bleu_examples):
        if not (corpus.validation and bleu_every):
            return None
        # Greedy (fast), on sources cut as the exported translator cuts them.
        return BleuCallback(
            corpus.validation,
            *tokenizers,
            every_n_epochs=bleu_every,
            num_examples=bleu_examples,
            max_length=config["max_length"],
            max_source_length=config["max_length"],
        )

    def _partial_history(self, history, chief):
        """The epochs a killed run finished after the last `history.json`
        entry: the rerun resumes after the last (its backup or checkpoint)
        and keeps their entries."""
        path = os.path.join(self.model_dir, PARTIAL_HISTORY_FILE)
        # The last epoch number, not the count: epochs that a crashed run
        # finished (resumed from its backup) have no entry of their own.
        initial_epoch = history[-1]["epoch"] if history else 0
        entries = [
            entry
            for entry in read_json(path, default=[])
            if entry["epoch"] > initial_epoch
        ]
        return _PartialHistory(path, entries, enabled=chief), initial_epoch

    def _fit(
        self,
        model,
        config,
        strategy,
        datasets,
        bleu,
        epochs,
        budget_minutes,
        worker_timeout,
    ):
        """Trains `epochs` more epochs, saves the run; returns its history."""
        model_dir = self.model_dir
        model_path = os.path.join(model_dir, MODEL_FILE)
        history_path = os.path.join(model_dir, HISTORY_FILE)
        chief = distribute.is_chief_task(strategy)
        on_workers = distribute.needs_custom_training_loop(strategy)
        history = read_json(history_path, default=[])
        partial, initial_epoch = self._partial_history(history, chief)
        resumed_epoch = max([initial_epoch] + [e["epoch"] for e in partial.entries])
        # Beside model.keras (the last epoch): best.keras, the best val_bleu.
        best = BestCheckpoint(
            model_dir, BEST_MODEL_FILE, BEST_FILE, copy_weights=on_workers
        )
        epoch_range, budget, message = _plan(
            (initial_epoch, resumed_epoch, epochs), budget_minutes, partial
        )
        if budget_minutes is None and config.get("learning_rate_cooldown") and chief:
            print(
                f"Note: without {self._name('budget_minutes')} the learning-rate "
                f"cooldown (the last {config['learning_rate_cooldown']:g} of the "
                "budget) has no budget to follow: the plain schedule trains.",
                flush=True,
            )
        if budget is not None and on_workers:
            # Each worker reads its own clock: set by it, the learning rates,
            # and so the weights, of the workers would drift apart.
            budget.drive_schedule = False
            if config.get("learning_rate_cooldown") and chief:
                print(
                    "Note: the learning-rate cooldown follows the budget's clock "
                    "on one machine only; across workers the plain schedule "
                    "trains.",
                    flush=True,
                )
        averaging = None
        if config.get("average_checkpoints"):
            averaging = CheckpointAveraging(
                config["average_checkpoints"], apply_on_train_end=False
            )
        if chief:
            print(
                message.format(
                    parameters=f"{model.count_params():,}",
                    strategy=distribute.describe_strategy(strategy),
                    model_path=model_path,
                )
            )
        started = time.perf_counter()
        partial.start()
        # Ctrl-C stops training between two steps, and waits for the saves:
        # inside TensorFlow it could turn into a SystemError or be swallowed.
        with distribute.InterruptBetweenSteps() as interrupt:
            if on_workers:
                new_entries = _fit_on_workers(
                    model,
                    strategy,
                    config,
                    model_dir,
                    datasets,
                    (budget, bleu, best, averaging, interrupt),
                    epoch_range,
                    step_timeout_seconds=worker_timeout,
                    partial=partial,
                )
            else:
                # The best checkpoint reads the val_bleu that BleuCallback logs.
                callbacks = [c for c in (budget, bleu, averaging) if c is not None]
                callbacks += [best] if bleu is not None and chief else []
                # The backup goes once model.keras and history.json hold the run.
                callbacks += distribute.training_callbacks(
                    model_dir, delete_backup_when_done=False
                )
                callbacks.append(_partial_history_callback(partial))  # after backup
                callbacks.append(interrupt)
                new_entries = _fit_with_keras(model, *datasets, callbacks, epoch_range)
            this_call = (time.perf_counter() - started) / 60
            history = self._save_run(
                model, strategy, averaging, history, partial, new_entries, this_call
            )
            interrupt.dismiss(f"training had ended and {model_path} is saved")
        # The other workers' training is done, but not the run until the
        # chief has saved it: if it died meanwhile they exit 75, not 0.
        distribute.wait_for_chief(
            strategy,
            saved=chief,
            timeout_seconds=worker_timeout or 600,
            what=model_path,
        )
        if chief:
            minutes = partial.minutes_before + this_call
            last = history[-1] if history else {}
            print(
                f"Saved {model_path} after {last.get('epoch', 0)} epochs "
                f"({this_call:.1f} min of training in this call"
                + (
                    f", {minutes:.1f} with the stopped call it resumed)"
                    if partial.minutes_before
                    else ")"
                )
                + (f"; val_bleu {last['val_bleu']:.2f}" if "val_bleu" in last else "")
            )
        return history

    def _save_run(
        self, model, strategy, averaging, history, partial, new_entries, this_call
    ):
        """Saves model.keras, averaged.keras and history.json; then removes
        the crash-recovery state. Returns the run's whole history."""
        model_dir = self.model_dir
        history = _merge_history(history, partial.entries, new_entries)
        for entry in history:  # a rerun's bookkeeping only
            entry.pop(CALL_MINUTES, None)
        if history:
            history[-1]["run_minutes"] = round(partial.minutes_before + this_call, 2)
        # Written aside and renamed: whole or absent after a kill. Until the
        # backup goes, the same command resumes (at the end) and saves again.
        distribute.save_model_on_chief(
            model, os.path.join(model_dir, MODEL_FILE), strategy
        )
        if averaging is not None and averaging.num_kept:
            self._save_averaged(model, averaging, strategy)
        if distribute.is_chief_task(strategy):
            write_json_atomically(os.path.join(model_dir, HISTORY_FILE), history)
            # model.keras now holds the run: the crash-recovery state of both
            # paths (the loop's checkpoints, fit's backup) is obsolete.
            for name in (distribute.CHECKPOINT_DIRNAME, distribute.BACKUP_DIRNAME):
                remove_tree(os.path.join(model_dir, name))
            if gfile.exists(partial.path):  # now in history.json
                gfile.remove(partial.path)
        return history

    def _save_averaged(self, model, averaging, strategy):
        """Saves averaged.keras: the model with the mean of the kept epochs'
        weights (every worker takes part; all hold the same weights)."""
        last_weights = model.get_weights()
        model.set_weights(averaging.averaged_weights())
        path = os.path.join(self.model_dir, AVERAGED_MODEL_FILE)
        distribute.save_model_on_chief(model, path, strategy)
        model.set_weights(last_weights)
        if distribute.is_chief_task(strategy):
            kept = averaging.num_kept
            epochs = "the last epoch" if kept == 1 else f"the last {kept} epochs"
            print(f"Saved {path}: the mean of {epochs}")
            if kept < averaging.num_checkpoints:
                print(
                    f"Note: {AVERAGED_MODEL_FILE} averages {kept} "
                    f"epoch{'s' if kept != 1 else ''}, not "
                    f"{averaging.num_checkpoints}: averaging keeps the epochs of "
                    f"one call, and this call trained {kept}.",
                    file=sys.stderr,
                )

    def _remove_unsaved_fresh_run(self, created_dir):
        """A fresh run that saved no model and no backup leaves nothing behind
        (its directory was empty or absent before, so everything in it is
        ours). One that trained an epoch is kept: the same command resumes it."""
        model_dir = self.model_dir
        if gfile.exists(os.path.join(model_dir, MODEL_FILE)) or holds_training_state(
            model_dir
        ):
            return
        if created_dir:
            remove_tree(model_dir)
        elif gfile.isdir(model_dir):
            for entry in list_names(model_dir):
                path = os.path.join(model_dir, entry)
                if gfile.isdir(path):
                    remove_tree(path)
                else:
                    gfile.remove(path)
