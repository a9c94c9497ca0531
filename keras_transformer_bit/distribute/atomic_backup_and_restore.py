"""A `BackupAndRestore` whose backup survives a kill in the middle of a save."""

import json
import os
import re

import keras

from keras_transformer_bit.distribute.model_signature import (
    check_same_model,
    model_signature,
)
from keras_transformer_bit.utils import check_positive_int, write_text_atomically
from keras_transformer_bit.utils.gfile import gfile, is_remote, list_names, remove_tree

METADATA_FILENAME = "training_metadata.json"
_WEIGHTS_PATTERN = re.compile(r"^backup-(\d+)\.weights\.h5$")
_KERAS_WEIGHTS_FILENAME = "latest.weights.h5"  # keras.callbacks.BackupAndRestore


def _fsync_file(path):
    if is_remote(path):  # object stores and HDFS persist on close
        return
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path):
    if is_remote(path):
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # directories cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicBackupAndRestore(keras.callbacks.Callback):
    """Back up model and optimizer during `fit`; resume from the last backup.

    Does what `keras.callbacks.BackupAndRestore` does (a backup at the end of
    each epoch or every `save_freq` steps; when the same `fit` runs again after
    a crash or preemption, the model, optimizer state and epoch come back from
    the backup), but a save is atomic. `BackupAndRestore` overwrites
    `latest.weights.h5` in place, so a process killed during a save leaves a
    truncated HDF5 file and the run cannot resume at all. Here each save writes
    a new `backup-N.weights.h5` and flushes it to disk; only then does it
    replace `training_metadata.json` (written to a temporary file, then renamed)
    to point at it, and deletes the older weights. A kill at any moment leaves
    the previous complete backup or the new one, never a mix.

    As with `BackupAndRestore`, a resumed run starts at the beginning of the
    epoch after the last backed-up one; batch-level backups keep the progress
    of the epoch's weights, not the position in the data.

    Args:
        backup_dir: str. The directory backups are written to.
        save_freq: `"epoch"` or a positive int (a backup every that many
            training steps). Defaults to `"epoch"`.
        delete_checkpoint: bool. Delete `backup_dir` once `fit` finishes, so
            that the next run starts fresh. Defaults to `True`.

    Example:
    >>> import numpy as np
    >>> import tempfile
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> backup = AtomicBackupAndRestore(tempfile.mkdtemp())
    >>> x, y = np.zeros((4, 2)), np.zeros((4, 1))
    >>> _ = model.fit(x, y, epochs=2, callbacks=[backup], verbose=0)
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir or not isinstance(backup_dir, (str, os.PathLike)):
            raise ValueError(
                f"backup_dir must be a non-empty path. Received: "
                f"backup_dir={backup_dir!r}"
            )
        if save_freq != "epoch":
            save_freq = check_positive_int(
                "save_freq", save_freq, meaning="steps between backups, or 'epoch'"
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._metadata_path = os.path.join(self.backup_dir, METADATA_FILENAME)
        self._save_index = 0
        self._current_epoch = 0
        self._steps_since_save = 0

    def read_metadata(self):
        """The last complete backup's metadata, or `None` if there is none.

        Returns:
            A dict with `epoch` (epochs finished), `batch` (the last step
            backed up within the next epoch, 0 after an epoch-end backup),
            `save_index`, `weights` (the weights file's name) and `model`
            (its `model_signature`; a different model is refused on restore).
        """
        if not gfile.exists(self._metadata_path):
            return None
        with gfile.GFile(self._metadata_path, "r") as f:
            text = f.read()
        try:
            metadata = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"The backup metadata {self._metadata_path} is not valid JSON "
                f"({error}); expected what AtomicBackupAndRestore writes. Delete "
                f"{self.backup_dir} to train from the start."
            ) from error
        # A backup written by keras.callbacks.BackupAndRestore resumes too.
        metadata.setdefault("weights", _KERAS_WEIGHTS_FILENAME)
        metadata.setdefault("save_index", 0)
        return metadata

    def on_train_begin(self, logs=None):
        self._current_epoch = 0
        self._steps_since_save = 0
        metadata = self.read_metadata()
        if metadata is None:
            self._save_index = 0
            self.model._initial_epoch = None  # what fit reads after this hook
            return
        if not self.model.built:
            raise ValueError(
                "To restore from a backup the model must be built before fit(): "
                f"call it on a batch first. Received an unbuilt {self.model}."
            )
        weights_path = os.path.join(self.backup_dir, metadata["weights"])
        if not gfile.exists(weights_path):
            raise FileNotFoundError(
                f"The backup metadata {self._metadata_path} names "
                f"{metadata['weights']}, which is not in {self.backup_dir}. "
                f"Delete {self.backup_dir} to train from the start."
            )
        # Before any weight is touched: a backup of another model would fail
        # with a raw shape error, or resume the wrong run if the shapes match.
        check_same_model(metadata.get("model"), self.model, self.backup_dir)
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights_path)
        self._save_index = int(metadata["save_index"])
        self._current_epoch = int(metadata["epoch"])
        self.model._initial_epoch = self._current_epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._steps_since_save += 1
        if self._steps_since_save >= self.save_freq:
            self._steps_since_save = 0
            self._save(epoch=self._current_epoch, batch=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch=epoch + 1, batch=0)

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None  # a later fit starts where it is told
        if self.delete_checkpoint:
            remove_tree(self.backup_dir)

    def _save(self, epoch, batch):
        gfile.makedirs(self.backup_dir)  # local, gs://, s3://, hdfs://, ram://
        self._save_index += 1
        weights_name = f"backup-{self._save_index}.weights.h5"
        weights_path = os.path.join(self.backup_dir, weights_name)
        # Not yet named by the metadata: a kill during this write leaves the
        # previous backup intact (and this file is overwritten next time).
        self.model.save_weights(weights_path, overwrite=True)
        _fsync_file(weights_path)
        metadata = {
            "epoch": epoch,
            "batch": batch,
            "save_index": self._save_index,
            "weights": weights_name,
            "model": model_signature(self.model),
        }
        write_text_atomically(self._metadata_path, json.dumps(metadata))  # commit
        _fsync_dir(self.backup_dir)
        for name in list_names(self.backup_dir):
            stale = name == _KERAS_WEIGHTS_FILENAME or (
                _WEIGHTS_PATTERN.match(name) and name != weights_name
            )
            if stale or name.startswith(f"{METADATA_FILENAME}.tmp-"):
                gfile.remove(os.path.join(self.backup_dir, name))
