"""A BiT fine-tuning run: one directory, resumable, on any strategy.

`BiTRun` is what `ktb bit train` runs, usable from Python. It owns the run
directory (on any file system `tf.io.gfile` knows: local, `gs://`, `s3://`,
`hdfs://`, `ram://`):

    bit_train_flags.json    while it trains: the settings and a fingerprint
                            of the training data, which a rerun is checked
                            against (images passed from Python as a
                            `ktb.data.LabeledImages` are recorded by a
                            description naming their digest)
    backup/ or checkpoints/ while it trains: what a rerun resumes from
    logs/                   TensorBoard
    model.keras             once finished: the fine-tuned classifier
    bit_config.json         once finished: the settings, the class names,
                            the crop size and the HyperRule it trained with

A run that was killed resumes at its last finished epoch when trained again
with the same settings; a finished run trains nothing; other settings, or
other training data, are refused, naming what differs. While it trains, the
directory holds `.run.lock` (`RunLock`), so a second run started there is
refused before it reads any data. The strategy decides
the loop (`model.fit`, or `ktb.distribute.CustomTrainingLoop` under
`MultiWorkerMirroredStrategy`, keras-team/keras#20585): see
`ktb.recipes.bit_fine_tune`, which does the training.
"""

import contextlib
import dataclasses
import json
import os

import keras
import numpy as np

from keras_transformer_bit import distribute, models, recipes
from keras_transformer_bit.recipes.bit_fine_tune import (
    DEFAULT_NUM_EPOCHS,
    describe_epochs,
    schedule_epochs,
)
from keras_transformer_bit.training.check_model_dir import check_model_dir
from keras_transformer_bit.training.run_checks import (
    check_model_dir_not_a_file,
    check_positive_number,
    describe_setting,
    holds_training_state,
)
from keras_transformer_bit.training.run_lock import RunLock
from keras_transformer_bit.utils import (
    check_positive_int,
    check_seed,
    write_text_atomically,
)
from keras_transformer_bit.utils.check_known_arguments import check_known_arguments
from keras_transformer_bit.utils.gfile import gfile, remove_tree

CONFIG_FILE = "bit_config.json"
MODEL_FILE = "model.keras"
# The settings of a run in progress; merged into CONFIG_FILE at the end.
FLAGS_FILE = "bit_train_flags.json"
# What `data` may be, for messages.
DATA_KINDS = (
    "'fashion_mnist', 'tfds:NAME', an image folder ('folder:PATH' or PATH, "
    "one subfolder per class) or a ktb.data.LabeledImages"
)
# How a run records images passed from Python: `LabeledImages(...)`.
IN_MEMORY_PREFIX = "LabeledImages("


def default_bit_settings():
    """The settings of a `BiTRun` that are not given (`data` must be)."""
    return {
        "data": None,
        "eval_data": None,
        "preset": "bit_m_r50x1",
        "weights": None,
        "shots": None,
        "seed": 0,
        "batch_size": None,
        "micro_batch_size": None,
        "batch_scaling": "official",
        "eval_every": None,
        "crop_size": None,
        "schedule_scale": 1.0,
        "num_epochs": None,
        "shard_files": False,
        "mixed_precision": False,
    }


# The settings that decide what a run trains; a rerun in the same directory
# must repeat them (the strategy and the worker timeout may change).
SETTINGS = tuple(default_bit_settings())


def resolved_data(data):
    """`data` as a run records it: a folder as its absolute, real path.

    `folder:PATH`, `PATH`, `./PATH` and the absolute path of the same folder
    are one value, and the same relative PATH typed in another directory is
    another value. `fashion_mnist` and `tfds:NAME` are kept as they are.

    Example:
    >>> resolved_data("tfds:oxford_iiit_pet")
    'tfds:oxford_iiit_pet'
    """
    if (
        data is None
        or data == "fashion_mnist"
        or data.startswith(("tfds:", IN_MEMORY_PREFIX))  # recorded_data's
    ):
        return data
    return os.path.realpath(
        data[len("folder:") :] if data.startswith("folder:") else data
    )


def is_labeled_images(value):
    """Whether `value` is a `ktb.data.LabeledImages` (images from Python)."""
    if isinstance(value, (str, os.PathLike)) or value is None:
        return False
    # Imported here, as in `load_split`: `data/` imports TensorFlow, which
    # importing the training package should not need.
    from keras_transformer_bit.data.labeled_images import LabeledImages

    return isinstance(value, LabeledImages)


def recorded_data(data):
    """`data` (or `eval_data`) as a run records it: plain JSON.

    A name or path is `resolved_data(data)`; images passed from Python (a
    `ktb.data.LabeledImages`) are described by their size and the digest of
    their fingerprint (`LabeledImages.fingerprint()`: the pixels or the file
    paths and sizes, and the labels), so that the same images in another
    object are the same run and other images are another.

    Example:
    >>> images = ktb.data.LabeledImages(np.zeros((4, 8, 8), "uint8"), [0, 1] * 2)
    >>> recorded_data(images)  # doctest: +ELLIPSIS
    'LabeledImages(4 images, 2 classes, sha256 ...)'
    """
    if not is_labeled_images(data):
        return resolved_data(data)
    digest = data.fingerprint()["sha256"]
    return (
        f"{IN_MEMORY_PREFIX}{len(data)} images, {data.num_classes} classes, "
        f"sha256 {digest[:16]})"
    )


def _describe_value(value):
    """A value in a type error: an array by its type and shape, not its
    elements."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        kind = type(value)
        return f"<{kind.__module__}.{kind.__qualname__} of shape {tuple(shape)}>"
    return repr(value)


def resolved_weights(weights):
    """`weights` as a run records it: a local file as its absolute path.

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


_RESOLVERS = {
    "data": resolved_data,
    "eval_data": resolved_data,
    "weights": resolved_weights,
}


def _resolved(name, value):
    return _RESOLVERS.get(name, lambda value: value)(value)


def changed_settings(saved, settings, describe=describe_setting):
    """`"given (saved: saved value)"` for each setting that differs.

    A setting missing from `saved` (a run saved before it was recorded) is
    not compared. Saved paths are resolved too: a run recorded before paths
    were resolved is compared as if run from the current directory.
    """
    changes = []
    for name, value in settings.items():
        if name not in saved:
            continue
        before = saved[name]
        if isinstance(before, str):
            before = _resolved(name, before)
        if before != value:
            changes.append(f"{describe(name, value)} (saved: {describe(name, before)})")
    return changes


def plain_value(value):
    """A NumPy scalar as the Python number it holds (what JSON can write);
    anything else as it is."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def load_split(data, split, name="data"):
    """Reads `data` for `split` ("train" or "test") as a `LabeledImages`.

    Args:
        data: str. `"fashion_mnist"`, `"tfds:NAME"`, or an image folder
            (`"folder:PATH"` or `PATH`).
        split: str. The split to read (a folder is read whole).
        name: str. How an error names `data` (the CLI says `--data`).
    """
    from keras_transformer_bit import data as ktb_data

    if data == "fashion_mnist":
        return ktb_data.load_fashion_mnist(split)
    if data.startswith("tfds:"):
        return ktb_data.load_tfds_images(data[len("tfds:") :], split)
    path = data[len("folder:") :] if data.startswith("folder:") else data
    if os.path.isdir(path):
        return ktb_data.load_image_folder(path)
    raise ValueError(
        f"{name} must be {DATA_KINDS}. Received: {name}={data!r}, which is "
        "none of these (no such directory)"
    )


def saved_run(model_dir):
    """`(saved settings or None, finished)` of the run in `model_dir`."""
    config_path = os.path.join(model_dir, CONFIG_FILE)
    if gfile.exists(config_path):
        with gfile.GFile(config_path, "r") as file:
            config = json.load(file)
        # A run saved before its settings were recorded: those its config has.
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


class BiTRun:
    """Fine-tunes a `BiTClassifier` with the BiT-HyperRule in one directory.

    Args:
        model_dir: str. The run directory (local, `gs://`, `s3://`, `hdfs://`
            or `ram://`).
        strategy: str. One of `ktb.distribute.STRATEGY_NAMES`. Defaults to
            `"auto"`.
        names: dict or None. How messages name the settings (the CLI passes
            its flags: `{"shots": "--shots", ...}`); None: by key.
        describe: function `(key, value) -> str` naming a setting and its
            value in messages. Defaults to `key=value`.
        **settings: the run's settings, keys of `default_bit_settings()`:
            `data` (required: `"fashion_mnist"`, `"tfds:NAME"`, an image
            folder, or a `ktb.data.LabeledImages` of images from Python),
            `eval_data` (the same kinds; the test split of a name, a folder
            or images whole), `preset`, `weights` (a weights tag, a URL
            or an official `.npz`), `shots`, `seed`, `batch_size`,
            `micro_batch_size`, `batch_scaling`, `eval_every`, `crop_size`,
            `schedule_scale`, `num_epochs`, `shard_files`, `mixed_precision`
            (see `ktb bit train --help`).

    Images from Python are recorded as `recorded_data` describes them (their
    size and digest): the same images, in any object, rerun the same run;
    other images are refused as other `data`. `eval_data` is compared the
    same way.

    One run trains in a directory at a time: while `train()` runs, it holds
    the directory's `RunLock` (which says how stale locks are handled), and a
    second `train()` there raises `RunLockedError` before reading any data.

    Example:
    >>> run = ktb.training.BiTRun(
    ...     "runs/fmnist", data="fashion_mnist", preset="bit_tiny", shots=10,
    ...     crop_size=32, batch_size=64, schedule_scale=0.2)  # doctest: +SKIP
    >>> config = run.train()  # doctest: +SKIP
    >>> config["class_names"][:2]  # doctest: +SKIP
    ['T-shirt/top', 'Trouser']

    Images held in memory train the same way:

    >>> coats = ktb.data.load_fashion_mnist("train").select_classes(
    ...     [4, 6])  # doctest: +SKIP
    >>> run = ktb.training.BiTRun(
    ...     "runs/coats", data=coats, preset="bit_tiny", shots=5,
    ...     crop_size=32, batch_size=16, schedule_scale=0.1)  # doctest: +SKIP
    >>> run.train()["flags"]["data"]  # doctest: +SKIP
    'LabeledImages(12000 images, 2 classes, sha256 ...)'
    """

    def __init__(
        self,
        model_dir,
        strategy="auto",
        names=None,
        describe=describe_setting,
        **settings,
    ):
        if not model_dir or not isinstance(model_dir, (str, os.PathLike)):
            raise ValueError(
                f"model_dir must be a non-empty path. Received: {model_dir!r}"
            )
        check_known_arguments("BiTRun", settings, SETTINGS)
        self.names = dict(names or {})
        self.describe = describe
        settings = {key: plain_value(value) for key, value in settings.items()}
        for key in ("data", "eval_data", "weights"):
            if isinstance(settings.get(key), os.PathLike):
                settings[key] = os.fspath(settings[key])
        if settings.get("data") is None or (
            isinstance(settings["data"], str) and not settings["data"]
        ):
            name = self._name("data")
            raise ValueError(
                f"{name} is required: {DATA_KINDS}. Received: "
                f"{name}={settings.get('data')!r}"
            )
        self.model_dir = os.fspath(model_dir)
        self.strategy_name = strategy
        self.settings = {**default_bit_settings(), **settings}
        # Images from Python, as recorded: described once (their digest reads
        # every pixel), checked for their type before anything else.
        self._in_memory = {}
        for key in ("data", "eval_data"):
            value = self.settings[key]
            if is_labeled_images(value):
                self._in_memory[key] = recorded_data(value)
            elif value is not None and not isinstance(value, str):
                raise TypeError(
                    f"{self._name(key)} must be {DATA_KINDS}. Received: "
                    f"{self._name(key)}={_describe_value(value)}"
                )

    def _name(self, key):
        return self.names.get(key, key)

    def recorded_settings(self):
        """The settings as the run records them: plain JSON, paths resolved,
        images from Python described by `recorded_data`."""
        return {
            key: self._in_memory.get(key) or _resolved(key, value)
            for key, value in self.settings.items()
        }

    def _recorded(self, key):
        """A setting in a message: images from Python by their description."""
        return self.describe(key, self._in_memory.get(key) or self.settings[key])

    @property
    def model_path(self):
        """Where the finished run's classifier is saved (`model.keras` in
        `model_dir`); `keras.saving.load_model` reads it."""
        return os.path.join(self.model_dir, MODEL_FILE)

    def saved_config(self):
        """The finished run's config (what `bit_config.json` holds), or `None`
        while the directory holds no finished run.

        What `train()` returned when the run finished, for a rerun that finds
        it done (`train()` then returns `None`). The settings are not
        compared: call `train()` (or `check_rerun()`) for that.
        """
        path = os.path.join(self.model_dir, CONFIG_FILE)
        if not gfile.exists(path):
            return None
        with gfile.GFile(path, "r") as file:
            return json.load(file)

    def check_settings(self):
        """Refuses zero and negative sizes, and settings that exclude each
        other, before any data is read."""
        settings, name = self.settings, self._name
        # `is not None`, never truthiness: shots=0 must fail, not mean "all".
        for key in (
            "shots",
            "batch_size",
            "micro_batch_size",
            "crop_size",
            "num_epochs",
            "eval_every",
        ):
            if settings[key] is not None:
                check_positive_int(name(key), settings[key])
        check_seed(settings["seed"], name("seed"), allow_none=False)
        if settings["preset"] not in models.bit.PRESETS:
            raise ValueError(
                f"{name('preset')} must be one of {sorted(models.bit.PRESETS)}. "
                f"Received: {name('preset')}={settings['preset']!r}"
            )
        self._check_weights()
        scale = settings["schedule_scale"]
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float))
            or not (0 < scale <= 1)
        ):
            raise ValueError(
                f"{name('schedule_scale')} must be in (0, 1] (the fraction of "
                f"the schedule to run). Received: {name('schedule_scale')}={scale}"
            )
        for key in ("shard_files", "mixed_precision"):
            if not isinstance(settings[key], bool):
                raise ValueError(
                    f"{name(key)} must be True or False. Received: "
                    f"{name(key)}={settings[key]!r}"
                )
        if settings["batch_scaling"] not in ("official", "linear"):
            raise ValueError(
                f"{name('batch_scaling')} must be 'official' or 'linear'. "
                f"Received: {name('batch_scaling')}={settings['batch_scaling']!r}"
            )
        eval_every, num_epochs = settings["eval_every"], settings["num_epochs"]
        if eval_every is not None and num_epochs is not None:
            raise ValueError(
                f"Pass either {name('num_epochs')} or {name('eval_every')}: both "
                f"set the length of an epoch. Received: {name('num_epochs')}="
                f"{num_epochs}, {name('eval_every')}={eval_every}"
            )
        data = settings["data"]
        if eval_every is not None and settings["eval_data"] is None:
            if "data" in self._in_memory or (
                data != "fashion_mnist" and not data.startswith("tfds:")
            ):
                raise ValueError(
                    f"{name('eval_every')} needs {name('eval_data')} with a "
                    "folder or images from Python: neither has a test split. "
                    f"Received: {self._recorded('data')}, {name('eval_data')}=None"
                )

    def _check_weights(self):
        """Refuses `weights` that are no file, URL or weights of the preset,
        before any data is read (`from_preset` reads them after)."""
        weights = self.settings["weights"]
        if weights is None or "://" in weights:
            return
        if os.path.exists(weights) or os.path.exists(weights + ".npz"):
            return
        preset = models.bit.PRESETS[self.settings["preset"]]
        known = [preset["weights"], preset["weights_file"]] if preset["weights"] else []
        if weights not in known:
            name = self._name("weights")
            raise ValueError(
                f"{name} must be a .npz file, a URL or one of the weights of "
                f"{self.describe('preset', self.settings['preset'])}: {known}. "
                f"Received: {name}={weights!r}, which is none of these (no such "
                "file)"
            )

    def check_rerun(self):
        """Compares the settings with those of a run already in the directory.

        Returns:
            True when the directory holds a finished run of the same settings
            (nothing to train), else False (a new run, or one to resume).

        Raises:
            ValueError: naming each setting whose value differs from the run's.
        """
        saved, finished = saved_run(self.model_dir)
        if saved is None:
            return False
        changes = changed_settings(saved, self.recorded_settings(), self.describe)
        if changes:
            state = "finished" if finished else "unfinished"
            raise ValueError(
                f"{self._name('model_dir')} {self.model_dir} holds "
                f"a{'n' * (not finished)} {state} run trained with other "
                f"settings: {'; '.join(changes)}. Rerun with the run's own "
                "settings to "
                + ("resume it" if not finished else "see that it is done")
                + f", or train into a new {self._name('model_dir')}."
            )
        return finished

    def check_same_data(self, fingerprint):
        """Refuses to resume on data other than the run's, naming what
        differs. `fingerprint`: `LabeledImages.fingerprint()` of the data
        now; compared with the run's, if it recorded one."""
        saved = (saved_run(self.model_dir)[0] or {}).get("data_fingerprint")
        if saved is None or saved == fingerprint:
            return
        differences = [
            f"{key.replace('_', ' ')} {fingerprint.get(key)} (saved: {saved.get(key)})"
            for key in ("num_examples", "class_names", "examples_per_class")
            if saved.get(key) != fingerprint.get(key)
        ]
        if not differences:
            differences = [
                "the same number of examples per class, but other files "
                "(names, sizes) or pixels"
            ]
        raise ValueError(
            f"The training data of {self._recorded('data')} "
            f"is not the data the run in {self._name('model_dir')} was trained "
            f"on: {'; '.join(differences)}. Resume with the run's own data, or "
            f"train into a new {self._name('model_dir')}."
        )

    def train(self, worker_timeout=600, verbose=2, jit_compile="auto"):
        """Fine-tunes the run to the end of its schedule, or resumes it.

        Args:
            worker_timeout: float. Multi-worker only: seconds without a
                finished step after which a worker exits with status 75.
            verbose: passed to `fit`.
            jit_compile: passed to `compile` (`"auto"`: XLA on an
                accelerator, not on the CPU). How the steps run, not what
                they compute: not a setting, a resumed run may change it.

        Returns:
            The run's config (what `bit_config.json` holds), or `None` when
            the directory already held the finished run (nothing trained).

        Raises:
            RunLockedError: when another run is training in the directory.
        """
        self.check_settings()
        check_positive_number(
            self._name("worker_timeout"), worker_timeout, unit=" seconds"
        )
        check_model_dir_not_a_file(self.model_dir, self._name("model_dir"))
        check_model_dir(self.model_dir, self.strategy_name, "ktb bit train")
        if self.check_rerun():
            print(
                f"{self.model_dir} holds a finished run of these settings: "
                "nothing to train. Evaluate or export it, or train into a new "
                f"{self._name('model_dir')}."
            )
            return None
        if self.settings["mixed_precision"]:
            distribute.set_mixed_precision("auto")
        strategy = distribute.get_strategy(self.strategy_name)
        self._check_strategy(strategy)
        # Only the chief holds the lock: the workers share the directory.
        chief = distribute.is_chief_task(strategy)
        created_dir = not gfile.exists(self.model_dir)
        fresh = not gfile.exists(os.path.join(self.model_dir, FLAGS_FILE))
        with RunLock(self.model_dir) if chief else contextlib.nullcontext():
            try:
                return self._train(
                    strategy, chief, fresh, verbose, worker_timeout, jit_compile
                )
            except BaseException:
                if chief and fresh:
                    self._remove_unstarted_run(created_dir)
                raise

    # ---------------------------------------------------------------- steps
    def _train(self, strategy, chief, fresh, verbose, worker_timeout, jit_compile):
        """Reads the data, fine-tunes and saves: `train` once the directory
        is held."""
        train, validation, fingerprint = self._read_data()
        rule = self._hyperrule(train, strategy)
        if chief:
            self._print_plan(train, rule, strategy)
        keras.utils.set_random_seed(self.settings["seed"])
        with strategy.scope():
            weights = self.settings["weights"]
            kwargs = {"head": "replace"} if weights else {}
            classifier = models.BiTClassifier.from_preset(
                self.settings["preset"],
                num_classes=train.num_classes,
                weights=weights,
                **kwargs,
            )
        gfile.makedirs(self.model_dir)  # local, gs://, s3://, hdfs://, ram://
        recorded = {**self.recorded_settings(), "data_fingerprint": fingerprint}
        if chief and fresh:
            # What a rerun is compared with, until bit_config.json takes them.
            write_text_atomically(
                os.path.join(self.model_dir, FLAGS_FILE),
                json.dumps(recorded, indent=2),
            )
        settings = self.settings
        config = {
            "data": recorded["data"],
            "preset": settings["preset"],
            "weights": resolved_weights(settings["weights"]),
            "shots": settings["shots"],
            "crop_size": rule.crop_size,
            "class_names": train.class_names,
            "rule": dataclasses.asdict(rule),
            "flags": recorded,
        }
        # Plain JSON (the rule's tuples as lists): what bit_config.json holds
        # and `saved_config()` reads back.
        config = json.loads(json.dumps(config, default=list))
        # Ctrl-C stops training between two steps, and waits for the saves:
        # inside TensorFlow it could turn into a SystemError or be swallowed.
        with distribute.InterruptBetweenSteps() as interrupt:
            self._fine_tune(
                classifier,
                train,
                validation,
                rule,
                strategy,
                verbose,
                worker_timeout,
                jit_compile,
                interrupt,
            )
            self._save(classifier, config, strategy, worker_timeout)
            interrupt.dismiss(f"training had ended and {self.model_dir} is saved")
        return config

    def _remove_unstarted_run(self, created_dir):
        """A fresh run that failed before its first backup (a setting that
        training refused) leaves nothing behind, so the corrected call is not
        compared with it."""
        if holds_training_state(self.model_dir):
            return  # it trained: a rerun resumes from there
        if created_dir:
            remove_tree(self.model_dir)
            return
        for name in (FLAGS_FILE, "logs"):
            path = os.path.join(self.model_dir, name)
            if gfile.isdir(path):
                remove_tree(path)
            elif gfile.exists(path):
                gfile.remove(path)

    def _fine_tune(
        self,
        classifier,
        train,
        validation,
        rule,
        strategy,
        verbose,
        worker_timeout,
        jit_compile,
        interrupt,
    ):
        settings = self.settings
        recipes.bit_fine_tune(
            classifier,
            train,
            rule,
            micro_batch_size=settings["micro_batch_size"],
            seed=settings["seed"],
            strategy=strategy,
            num_epochs=settings["num_epochs"],
            validation_images=validation,
            eval_every=settings["eval_every"],
            model_dir=self.model_dir,  # backups (resume) and TensorBoard logs
            step_timeout_seconds=worker_timeout,
            shard_files=settings["shard_files"],
            verbose=verbose,
            jit_compile=jit_compile,
            keep_backup=True,  # deleted once the run is saved
            callbacks=[interrupt],
        )

    def _check_strategy(self, strategy):
        """Refuses settings that do not fit the strategy, before any data is
        read. Every batch (each micro-batch with `micro_batch_size`) is split
        evenly over the replicas; an uneven split fails inside training
        (Keras cannot add the replicas' gradients of different shapes)."""
        replicas = strategy.num_replicas_in_sync
        for key in ("batch_size", "micro_batch_size"):
            value = self.settings[key]
            if value is not None and value % replicas:
                below = max(replicas, value // replicas * replicas)
                raise ValueError(
                    f"{self.describe(key, value)} does not split evenly over "
                    f"the {replicas} replicas of "
                    f"{distribute.describe_strategy(strategy)}: pass a multiple "
                    f"of {replicas}, e.g. {self.describe(key, below)} or "
                    f"{self.describe(key, below + replicas)}."
                )
        if self.settings["shard_files"] and not distribute.needs_custom_training_loop(
            strategy
        ):
            raise ValueError(
                f"{self._name('shard_files')} splits the image files over the "
                "workers of the multi_worker strategy; this run has one process "
                f"({distribute.describe_strategy(strategy)}). Leave "
                f"{self._name('shard_files')} out, or train with the "
                "multi_worker strategy. Received: "
                f"{self.describe('strategy', self.strategy_name)}, "
                f"{self.describe('shard_files', True)}"
            )

    def _read_data(self):
        """The training images (checked against the run's data, cut to
        `shots`), the evaluation images (or None) and the fingerprint of the
        training data."""
        settings = self.settings
        train = self._load("data", "train")
        if train.num_classes < 2:
            raise ValueError(
                f"{self._recorded('data')} has "
                f"{train.num_classes} class ({train.class_names}): a classifier "
                "needs at least 2 (one subfolder per class)."
            )
        fingerprint = train.fingerprint()
        self.check_same_data(fingerprint)
        if settings["shots"] is not None:
            self._check_shots(fingerprint["examples_per_class"])
            train = train.few_shot(settings["shots"], seed=settings["seed"])
        validation = None
        if settings["eval_data"] is not None or settings["eval_every"] is not None:
            # bit_fine_tune matches their classes to the model's by name.
            source = "data" if settings["eval_data"] is None else "eval_data"
            validation = self._load(source, "test", name=self._name("eval_data"))
        return train, validation, fingerprint

    def _load(self, key, split, name=None):
        """The images of setting `key`: as given from Python, else read."""
        value = self.settings[key]
        if key in self._in_memory:
            return value
        return load_split(value, split, name or self._name(key))

    def _check_shots(self, examples_per_class):
        """Refuses more `shots` than the smallest class has."""
        shots = self.settings["shots"]
        smallest = min(examples_per_class, key=examples_per_class.get)
        if shots > examples_per_class[smallest]:
            raise ValueError(
                f"{self.describe('shots', shots)} exceeds the smallest class: "
                f"{smallest!r} has {examples_per_class[smallest]} examples. "
                f"Expected at most {examples_per_class[smallest]}."
            )

    def _hyperrule(self, train, strategy):
        """The BiT-HyperRule for the training split, with the settings'
        changes."""
        settings = self.settings
        rule = recipes.bit_hyperrule(len(train), train.image_size)
        if settings["crop_size"] is not None:
            rule = rule.with_crop_size(settings["crop_size"])
        if settings["batch_size"] is not None:
            rule = rule.with_batch_size(
                settings["batch_size"], scaling=settings["batch_scaling"]
            )
        if settings["schedule_scale"] != 1.0:
            rule = rule.shortened(settings["schedule_scale"])
        micro = settings["micro_batch_size"]
        if micro is not None and rule.batch_size % micro:
            batch = (
                self.describe("batch_size", settings["batch_size"])
                if settings["batch_size"] is not None
                else f"the HyperRule's batch of {rule.batch_size}"
            )
            raise ValueError(
                f"{self.describe('micro_batch_size', micro)} does not divide "
                f"{batch}: each update accumulates whole micro-batches. Pass a "
                f"divisor of {rule.batch_size}."
            )
        replicas = strategy.num_replicas_in_sync
        if rule.batch_size % replicas:  # the rule's own batch
            raise ValueError(
                f"The HyperRule's batch of {rule.batch_size} does not split "
                f"evenly over the {replicas} replicas of "
                f"{distribute.describe_strategy(strategy)}: pass "
                f"{self._name('batch_size')} with a multiple of {replicas}."
            )
        return rule

    def _print_plan(self, train, rule, strategy):
        """What the chief is about to train: data, rule, strategy, schedule."""
        print(
            f"{len(train)} examples, {train.num_classes} classes; HyperRule: "
            f"resize {rule.resize_size}, crop {rule.crop_size}, batch "
            f"{rule.batch_size}, lr {rule.base_learning_rate:g}, supports "
            f"{list(rule.supports)}, MixUp {rule.mixup_alpha}; "
            f"{distribute.describe_strategy(strategy)}",
            flush=True,
        )
        if self.settings["shard_files"] and distribute.needs_custom_training_loop(
            strategy
        ):
            workers = distribute.is_multi_worker(strategy) and len(
                strategy.cluster_resolver.cluster_spec().as_dict().get("worker", [])
            )
            print(
                f"{self._name('shard_files')}: each worker reads 1/{workers} of "
                "the image files"
            )
        print(self._describe_schedule(rule), flush=True)

    def _describe_schedule(self, rule):
        """How the schedule falls into epochs, naming an unmet `num_epochs`."""
        total = rule.total_steps
        eval_every, asked = self.settings["eval_every"], self.settings["num_epochs"]
        if eval_every is not None:
            steps_per_epoch = min(eval_every, total)
            epochs = -(-total // steps_per_epoch)
        else:
            epochs, steps_per_epoch = schedule_epochs(
                total, DEFAULT_NUM_EPOCHS if asked is None else asked
            )
        text = (
            f"Schedule: {describe_epochs(total, epochs, steps_per_epoch)}, "
            "a backup after each"
        )
        if eval_every is None and asked is not None and epochs != asked:
            text += (
                f"; {self.describe('num_epochs', asked)} gives {epochs} epochs: "
                "every epoch but the last has the same whole number of updates, "
                f"ceil({total}/{asked}) = {steps_per_epoch}"
            )
        return text

    def _save(self, classifier, config, strategy, worker_timeout):
        """Saves the model and config; then removes the crash-recovery state.

        The end of a run survives a kill at any moment: `model.keras` and
        `bit_config.json` are each written aside and renamed, and the backup
        (or the checkpoints) goes only once both are complete, so the same
        call resumes (at the end) until then.
        """
        chief = distribute.is_chief_task(strategy)
        model_path = os.path.join(self.model_dir, MODEL_FILE)
        distribute.save_model_on_chief(classifier, model_path, strategy)
        if chief:
            write_text_atomically(
                os.path.join(self.model_dir, CONFIG_FILE),
                json.dumps(config, indent=2),
            )
            for name in (distribute.CHECKPOINT_DIRNAME, distribute.BACKUP_DIRNAME):
                remove_tree(os.path.join(self.model_dir, name))
            flags_path = os.path.join(self.model_dir, FLAGS_FILE)
            if gfile.exists(flags_path):  # now in bit_config.json
                gfile.remove(flags_path)
        # The other workers' training is done, but the run is not saved until
        # the chief says so: if it died meanwhile they exit with status 75.
        distribute.wait_for_chief(
            strategy, saved=chief, timeout_seconds=worker_timeout, what=model_path
        )
        if chief:
            print(f"Saved {model_path}")
