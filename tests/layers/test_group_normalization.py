import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.layers import GroupNormalization
from tests.helpers import run_layer_test


def _assert_matches_keras(inputs, seed, atol=1e-5, **kwargs):
    """Our layer equals Keras' with the same (random) gamma and beta."""
    ours = GroupNormalization(**kwargs)
    theirs = keras.layers.GroupNormalization(**kwargs)
    ours.build(inputs.shape)
    theirs.build(inputs.shape)
    rng = np.random.default_rng(seed)
    for ours_weight, theirs_weight in zip(ours.weights, theirs.weights):
        value = rng.uniform(-1.5, 1.5, ours_weight.shape).astype("float32")
        ours_weight.assign(value)
        theirs_weight.assign(value)
    np.testing.assert_allclose(
        np.asarray(ours(inputs)), np.asarray(theirs(inputs)), atol=atol
    )


def test_layer_behaviour():
    run_layer_test(
        GroupNormalization,
        {"groups": 2, "epsilon": 1e-5},
        np.random.default_rng(0).normal(size=(2, 5, 5, 6)).astype("float32"),
        expected_output_shape=(2, 5, 5, 6),
        expected_num_trainable_weights=2,
    )


@pytest.mark.parametrize(
    "shape, groups",
    [
        ((2, 7, 5, 8), 4),
        ((3, 4, 4, 32), 32),
        ((2, 6, 6, 12), 1),
        ((2, 9, 6), 3),  # rank 3
        ((2, 3, 4, 5, 6), 2),  # rank 5
    ],
)
def test_matches_keras_group_normalization(shape, groups):
    rng = np.random.default_rng(1)
    # A large offset: the two-pass variance must keep its accuracy.
    inputs = (rng.normal(size=shape) * 3.0 + 20.0).astype("float32")
    _assert_matches_keras(inputs, seed=2, groups=groups, epsilon=1e-5)


@pytest.mark.parametrize(
    "center, scale", [(False, True), (True, False), (False, False)]
)
def test_without_center_or_scale(center, scale):
    inputs = np.random.default_rng(3).normal(size=(2, 4, 4, 6)).astype("float32")
    _assert_matches_keras(inputs, seed=4, groups=3, center=center, scale=scale)


def test_other_axis_uses_keras_computation():
    inputs = np.random.default_rng(5).normal(size=(2, 6, 4, 4)).astype("float32")
    _assert_matches_keras(inputs, seed=6, groups=3, axis=1)


@pytest.mark.tensorflow_only
def test_unknown_spatial_size_and_xla():
    inputs = np.random.default_rng(7).normal(size=(2, 5, 3, 8)).astype("float32")
    layer = GroupNormalization(groups=4)
    reference = keras.layers.GroupNormalization(groups=4)
    reference.build(inputs.shape)
    expected = np.asarray(reference(inputs))
    layer.build((None, None, None, 8))
    for jit_compile in (False, True):
        call = tf.function(
            layer.call,
            input_signature=[tf.TensorSpec((None, None, None, 8), tf.float32)],
            jit_compile=jit_compile,
        )
        np.testing.assert_allclose(np.asarray(call(inputs)), expected, atol=1e-5)


def test_mixed_precision_statistics_in_float32():
    inputs = (np.random.default_rng(8).normal(size=(2, 4, 4, 8)) * 4 + 50).astype(
        "float32"
    )
    layer = GroupNormalization(groups=2, dtype="mixed_bfloat16")
    outputs = layer(inputs)
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    reference = keras.layers.GroupNormalization(groups=2)
    np.testing.assert_allclose(
        np.asarray(keras.ops.cast(outputs, "float32")),
        np.asarray(reference(inputs)),
        atol=5e-2,
    )
