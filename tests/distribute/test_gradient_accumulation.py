"""`GradientAccumulation`: one update per batch, computed in parts."""

import contextlib
import dataclasses

import keras
import numpy as np
import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.distribute import GradientAccumulation
from keras_transformer_bit.recipes import bit_hyperrule


def _train_dense(x, y, batch_size, wrap=None, strategy=None):
    rule = dataclasses.replace(
        bit_hyperrule(100, (8, 8)),
        supports=(2, 3, 4, 6),
        base_learning_rate=0.5,
        batch_size=8,
    )
    with strategy.scope() if strategy else contextlib.nullcontext():
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(4, "tanh"), keras.layers.Dense(3)]
        )
        trained = GradientAccumulation(model, wrap) if wrap else model
        trained.compile(optimizer=rule.optimizer(), loss="mse")
    history = trained.fit(
        x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0
    )
    return model, history


def test_batch_splitting_equals_big_batch_also_mirrored():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype("float32")
    y = rng.normal(size=(48, 3)).astype("float32")
    big, big_history = _train_dense(x, y, 8)
    split, split_history = _train_dense(x, y, 8, wrap=4)
    for a, b in zip(big.get_weights(), split.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(
        split_history.history["loss"], big_history.history["loss"], rtol=1e-5
    )
    # Keras' optimizer-side accumulation fails under MirroredStrategy; the
    # split step does not (conftest gives two logical CPUs).
    mirrored = ktb.distribute.get_strategy("mirrored")
    mirrored_split, _ = _train_dense(x, y, 8, wrap=2, strategy=mirrored)
    for a, b in zip(big.get_weights(), mirrored_split.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_refuses_bad_splits_and_sample_weights():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="num_splits"):
        GradientAccumulation(model, 0)
    wrapper = GradientAccumulation(model, 2)
    wrapper.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, 2), "float32")
    with pytest.raises(ValueError, match="sample weights"):
        wrapper.fit(x, np.ones((4, 1)), sample_weight=np.ones(4), verbose=0)


def test_serializes_with_the_wrapped_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    wrapper = GradientAccumulation(model, 4)
    restored = GradientAccumulation.from_config(wrapper.get_config())
    assert restored.num_splits == 4
    assert [w.shape for w in restored.model.weights] == [w.shape for w in model.weights]
