import json
import os
import uuid

import keras
import numpy as np
import pytest

import keras_transformer_bit as ktb

Backup = ktb.distribute.AtomicBackupAndRestore


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 3)), rng.normal(size=(16, 2))


class _StopAfter(keras.callbacks.Callback):
    """Simulates a kill: raises at the end of an epoch, after the backup."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []
        self.begin_weights = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.begin_weights[epoch] = [w.copy() for w in self.model.get_weights()]


def _fit(model, backup_dir, epochs, extra=(), **kwargs):
    x, y = _data()
    callbacks = [Backup(str(backup_dir), **kwargs), *extra]
    return model.fit(
        x, y, batch_size=4, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks
    )


def test_resume_continues_like_an_uninterrupted_run(tmp_path):
    reference = _model()
    recorder = _Recorder()
    _fit(reference, tmp_path / "ref", epochs=4, extra=[recorder])

    model = _model()
    with pytest.raises(KeyboardInterrupt):
        _fit(model, tmp_path / "run", epochs=4, extra=[_StopAfter(1)])
    metadata = json.loads((tmp_path / "run" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2 and metadata["weights"] == "backup-2.weights.h5"
    # Only the newest weights are kept.
    assert sorted(os.listdir(tmp_path / "run")) == [
        "backup-2.weights.h5",
        "training_metadata.json",
    ]

    restarted = _model(seed=1)  # other initial weights: all must come back
    resumed = _Recorder()
    _fit(restarted, tmp_path / "run", epochs=4, extra=[resumed])
    assert resumed.epochs == [2, 3]
    for a, b in zip(resumed.begin_weights[2], recorder.begin_weights[2]):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
    assert int(restarted.optimizer.iterations) == int(reference.optimizer.iterations)
    for a, b in zip(restarted.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not (tmp_path / "run").exists()  # deleted once fit finished
    # A later fit on the same model is not shifted by the restored epoch.
    later = _Recorder()
    x, y = _data()
    restarted.fit(x, y, epochs=1, verbose=0, callbacks=[later])
    assert later.epochs == [0]


def test_a_kill_during_a_save_leaves_the_previous_backup(tmp_path, monkeypatch):
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        _fit(model, tmp_path, epochs=4, extra=[_StopAfter(1)], delete_checkpoint=False)
    backed_up = [w.copy() for w in model.get_weights()]

    # The next save dies halfway through writing its weights file, as a
    # SIGKILL would leave it: a truncated HDF5 file next to the good backup.
    def dies_while_writing(filepath, overwrite=True):
        with open(filepath, "wb") as f:
            f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save_weights", dies_while_writing)
    with pytest.raises(KeyboardInterrupt):
        _fit(model, tmp_path, epochs=4)
    assert "backup-3.weights.h5" in os.listdir(tmp_path)
    monkeypatch.undo()

    restarted = _model(seed=1)
    resumed = _Recorder()
    _fit(restarted, tmp_path, epochs=4, extra=[resumed])
    assert resumed.epochs == [2, 3]
    for a, b in zip(resumed.begin_weights[2], backed_up):
        np.testing.assert_allclose(a, b, rtol=0, atol=0)


def test_step_backups_and_a_keras_backup_resume(tmp_path):
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        _fit(model, tmp_path, epochs=3, extra=[_StopAfter(0)], save_freq=3)
    metadata = json.loads((tmp_path / "training_metadata.json").read_text())
    # 4 steps in epoch 0: one backup after step 3 (epoch 0 not finished).
    assert (metadata["epoch"], metadata["batch"]) == (0, 3)

    # keras.callbacks.BackupAndRestore's layout resumes too.
    keras_dir = tmp_path / "keras"
    with pytest.raises(KeyboardInterrupt):
        x, y = _data()
        _model().fit(
            x, y, batch_size=4, epochs=3, verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(str(keras_dir)), _StopAfter(0)],
        )  # fmt: skip
    resumed = _Recorder()
    _fit(_model(seed=1), keras_dir, epochs=3, extra=[resumed])
    assert resumed.epochs == [1, 2]


def test_bad_arguments_and_broken_backups_are_named(tmp_path):
    with pytest.raises(ValueError, match="save_freq must be a positive int"):
        Backup(str(tmp_path), save_freq=0)
    with pytest.raises(ValueError, match="backup_dir must be a non-empty path"):
        Backup("")
    (tmp_path / "training_metadata.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        _fit(_model(), tmp_path, epochs=1)
    (tmp_path / "training_metadata.json").write_text(
        json.dumps({"epoch": 1, "weights": "backup-7.weights.h5"})
    )
    with pytest.raises(FileNotFoundError, match="names backup-7.weights.h5"):
        _fit(_model(), tmp_path, epochs=1)


def test_backup_on_another_file_system_resumes(tmp_path):
    # ram:// stands in for gs://, s3:// and hdfs://.
    import tensorflow as tf

    backup_dir = f"ram://ktb_backup_{uuid.uuid4().hex}"
    model = _model()
    os.chdir(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        _fit(model, backup_dir, epochs=4, extra=[_StopAfter(1)])
    assert sorted(tf.io.gfile.listdir(backup_dir)) == [
        "backup-2.weights.h5",
        "training_metadata.json",
    ]
    resumed = _Recorder()
    _fit(_model(seed=1), backup_dir, epochs=4, extra=[resumed])
    assert resumed.epochs == [2, 3]
    assert not tf.io.gfile.exists(backup_dir)  # deleted once fit is done
    assert os.listdir(tmp_path) == []  # no local directory named "ram:"
