import importlib
import os

import keras
import numpy as np
import pytest

import keras_transformer_bit as ktb
from tests.distribute import toy_tasks

# The module (its name is also the function's, which the package exports).
saving = importlib.import_module("keras_transformer_bit.distribute.save_model_on_chief")


def test_only_the_chief_keeps_its_copy(tmp_path, monkeypatch):
    model = toy_tasks.make_model("dense")
    strategy = ktb.distribute.get_strategy("one_device")
    assert ktb.distribute.is_chief_task(strategy)
    assert not ktb.distribute.needs_custom_training_loop(strategy)
    path = str(tmp_path / "run" / "model.keras")
    assert ktb.distribute.save_model_on_chief(model, path, strategy) == path
    reloaded = keras.saving.load_model(path)
    for a, b in zip(model.get_weights(), reloaded.get_weights()):
        np.testing.assert_array_equal(a, b)

    # Another worker saves too (into scratch), but leaves nothing behind.
    monkeypatch.setattr(saving, "is_chief_task", lambda strategy: False)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(saving.tempfile, "tempdir", str(scratch))
    weights_path = str(tmp_path / "other" / "model.weights.h5")
    assert ktb.distribute.save_model_on_chief(model, weights_path, strategy) is None
    assert not os.path.exists(tmp_path / "other") and not os.listdir(scratch)
    with pytest.raises(ValueError, match="path must be a .keras or .weights.h5"):
        ktb.distribute.save_model_on_chief(model, str(tmp_path / "model.h5"))


def test_a_save_killed_midway_leaves_the_previous_file(tmp_path, monkeypatch):
    model = toy_tasks.make_model("dense")
    path = str(tmp_path / "model.keras")
    ktb.distribute.save_model_on_chief(model, path)
    before = (tmp_path / "model.keras").read_bytes()

    def dies_while_saving(self, target, *args, **kwargs):
        with open(target, "wb") as file:
            file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt("killed while saving")

    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save", dies_while_saving)
        with pytest.raises(KeyboardInterrupt):
            ktb.distribute.save_model_on_chief(model, path)
    assert (tmp_path / "model.keras").read_bytes() == before
    assert os.listdir(tmp_path) == ["model.keras"]

    # A temporary file of a process killed with SIGKILL goes with the next save.
    (tmp_path / "model.tmp-99999.keras").write_bytes(b"PK\x03\x04 half")
    ktb.distribute.save_model_on_chief(model, path)
    assert os.listdir(tmp_path) == ["model.keras"]
    keras.saving.load_model(path)
