import keras
import numpy as np
import pytest

from keras_transformer_bit.layers import FusedGroupNormalization
from tests.helpers import run_layer_test


def test_layer_behaviour():
    run_layer_test(
        FusedGroupNormalization,
        {"groups": 2, "epsilon": 1e-5},
        np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype("float32"),
        expected_output_shape=(2, 3, 3, 4),
        expected_num_trainable_weights=2,
    )


@pytest.mark.parametrize(
    "shape, groups, kwargs",
    [
        ((2, 5, 3, 8), 4, {}),
        ((3, 4, 6), 2, {}),
        ((2, 3, 3, 6), -1, {}),
        ((2, 3, 3, 6), 3, {"center": False}),
        ((2, 3, 3, 6), 3, {"scale": False}),
        ((2, 6, 3, 3), 3, {"axis": 1}),
    ],
)
def test_equals_keras_group_normalization(shape, groups, kwargs):
    rng = np.random.default_rng(1)
    # A large mean against the spread: one-pass moments must stay accurate.
    inputs = (100.0 + rng.normal(0.0, 0.5, size=shape)).astype("float32")
    ours = FusedGroupNormalization(groups=groups, epsilon=1e-5, **kwargs)
    reference = keras.layers.GroupNormalization(groups=groups, epsilon=1e-5, **kwargs)
    ours.build(shape)
    reference.build(shape)
    for a, b in zip(ours.weights, reference.weights):
        assert a.name == b.name and a.shape == b.shape
        value = rng.normal(size=a.shape).astype("float32")
        a.assign(value)
        b.assign(value)
    np.testing.assert_allclose(
        np.asarray(ours(inputs)), np.asarray(reference(inputs)), atol=2e-4
    )


def test_float16_inputs_keep_float32_statistics():
    inputs = np.random.default_rng(2).normal(3.0, 2.0, size=(2, 4, 4, 8))
    layer = FusedGroupNormalization(groups=4, dtype="mixed_float16")
    outputs = layer(inputs.astype("float16"))
    assert keras.backend.standardize_dtype(outputs.dtype) == "float16"
    reference = keras.layers.GroupNormalization(groups=4)(inputs.astype("float32"))
    np.testing.assert_allclose(
        np.asarray(outputs, dtype="float32"), np.asarray(reference), atol=1e-2
    )
