"""The callbacks every `model.fit` entry point of the package uses."""

import os

import keras

from keras_transformer_bit.distribute.atomic_backup_and_restore import (
    AtomicBackupAndRestore,
)

BACKUP_DIRNAME = "backup"
LOGS_DIRNAME = "logs"


def training_callbacks(
    model_dir,
    backup=True,
    tensorboard=True,
    backup_save_freq="epoch",
    delete_backup_when_done=True,
):
    """`AtomicBackupAndRestore` and `TensorBoard` callbacks under one model dir.

    `AtomicBackupAndRestore` writes a backup under `model_dir/backup` at the
    end of each epoch (or every `backup_save_freq` steps); when the same command
    runs again after a crash or preemption, `fit` restores model, optimizer and
    epoch from it, so at most one epoch is lost, even when the process was
    killed in the middle of writing a backup. TensorBoard logs go to
    `model_dir/logs`.

    Args:
        model_dir: str. The run's directory.
        backup: bool. Add `AtomicBackupAndRestore`. Defaults to `True`.
        tensorboard: bool. Add `TensorBoard`. Defaults to `True`.
        backup_save_freq: `"epoch"` or int (steps). Defaults to `"epoch"`.
        delete_backup_when_done: bool. Delete the backup once `fit` finishes,
            so that the next run starts fresh. Defaults to `True`.

    Returns:
        A list of callbacks to pass to `model.fit`.

    Example:
    >>> callbacks = training_callbacks("runs/demo")
    >>> [type(c).__name__ for c in callbacks]
    ['AtomicBackupAndRestore', 'TensorBoard']
    """
    if not model_dir:
        raise ValueError(
            f"model_dir must be a non-empty path. Received: model_dir={model_dir!r}"
        )
    callbacks = []
    if backup:
        callbacks.append(
            AtomicBackupAndRestore(
                backup_dir=os.path.join(model_dir, BACKUP_DIRNAME),
                save_freq=backup_save_freq,
                delete_checkpoint=delete_backup_when_done,
            )
        )
    if tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(log_dir=os.path.join(model_dir, LOGS_DIRNAME))
        )
    return callbacks
