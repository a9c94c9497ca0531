import json

import keras
import numpy as np

from keras_transformer_bit.training.best_checkpoint import BestCheckpoint


def _model(value):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.layers[0].kernel.assign(np.full((2, 1), value, "float32"))
    return model


def _kernel(path):
    return keras.models.load_model(path).layers[0].kernel.numpy()[0, 0]


def test_saves_only_when_val_bleu_improves_and_resumes_from_the_record(tmp_path):
    best = BestCheckpoint(str(tmp_path))
    for epoch, (value, val_bleu) in enumerate([(1.0, 3.0), (2.0, 2.5), (3.0, None)]):
        best.set_model(_model(value))
        logs = {"loss": 1.0} if val_bleu is None else {"val_bleu": val_bleu}
        best.on_epoch_end(epoch, logs)
    assert _kernel(tmp_path / "best.keras") == 1.0
    record = json.loads((tmp_path / "best.json").read_text())
    assert record == {"epoch": 1, "val_bleu": 3.0}

    # A resumed run knows the best so far: 2.9 is not better, 3.5 is.
    resumed = BestCheckpoint(str(tmp_path))
    assert resumed.best == 3.0
    resumed.set_model(_model(4.0))
    resumed.on_epoch_end(3, {"val_bleu": 2.9})
    assert _kernel(tmp_path / "best.keras") == 1.0
    resumed.set_model(_model(5.0))
    resumed.on_epoch_end(4, {"val_bleu": 3.5})
    assert _kernel(tmp_path / "best.keras") == 5.0
    assert json.loads((tmp_path / "best.json").read_text())["epoch"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "best.keras"]


def test_copy_weights_saves_the_weights_without_the_optimizer(tmp_path):
    model = _model(2.0)
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    best = BestCheckpoint(str(tmp_path), copy_weights=True)
    best.set_model(model)
    best.on_epoch_end(0, {"val_bleu": 1.0})
    saved = keras.models.load_model(tmp_path / "best.keras")
    for saved_weight, weight in zip(saved.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(saved_weight, weight)
    assert getattr(saved, "optimizer", None) is None
