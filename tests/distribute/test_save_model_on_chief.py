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
