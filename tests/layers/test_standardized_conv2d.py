import keras
import numpy as np
import pytest

from keras_transformer_bit.layers import StandardizedConv2D
from tests.helpers import run_layer_test


def _numpy_standardize(kernel, epsilon):
    mean = kernel.mean(axis=(0, 1, 2), keepdims=True)
    variance = kernel.var(axis=(0, 1, 2), keepdims=True)  # population (ddof=0)
    return (kernel - mean) / np.sqrt(variance + epsilon)


def test_layer_behaviour():
    run_layer_test(
        StandardizedConv2D,
        {"filters": 4, "kernel_size": 3, "strides": 2, "epsilon": 1e-6},
        np.random.default_rng(0).normal(size=(2, 7, 7, 3)).astype("float32"),
        expected_output_shape=(2, 3, 3, 4),
        expected_num_trainable_weights=1,
    )


def test_output_equals_plain_conv_with_standardized_kernel():
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(2, 6, 5, 3)).astype("float32")
    layer = StandardizedConv2D(4, (3, 2), padding="valid")
    layer.build(inputs.shape)
    kernel = rng.normal(0.5, 3.0, size=(3, 2, 3, 4)).astype("float32")
    layer.kernel.assign(kernel)
    plain = keras.layers.Conv2D(4, (3, 2), use_bias=False)
    plain.build(inputs.shape)
    plain.kernel.assign(_numpy_standardize(kernel.astype("float64"), 1e-10))
    np.testing.assert_allclose(
        np.asarray(layer(inputs)), np.asarray(plain(inputs)), atol=1e-5
    )
    standardized = np.asarray(layer.standardized_kernel())
    np.testing.assert_allclose(standardized.mean(axis=(0, 1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(standardized.std(axis=(0, 1, 2)), 1.0, atol=1e-5)


def test_population_variance_and_epsilon_inside_sqrt():
    # A 1x1x2 kernel: population and sample variance differ by a factor 2.
    kernel = np.array([1e-5, -1e-5], "float32").reshape(1, 1, 2, 1)
    for epsilon, expected in [(1e-10, 1 / np.sqrt(2.0)), (0.0, 1.0)]:
        layer = StandardizedConv2D(1, 1, epsilon=epsilon)
        layer.build((None, 1, 1, 2))
        layer.kernel.assign(kernel)
        # variance 1e-10: with eps=1e-10 inside the sqrt -> 1e-5/sqrt(2e-10).
        np.testing.assert_allclose(
            np.asarray(layer.standardized_kernel()).ravel(),
            [expected, -expected],
            rtol=1e-4,
        )


def test_mixed_precision_statistics_in_float32():
    rng = np.random.default_rng(2)
    inputs = rng.normal(size=(1, 5, 5, 8)).astype("float32")
    # A kernel with a large offset: in bfloat16 its variance would be lost.
    kernel = (100.0 + 0.01 * rng.normal(size=(3, 3, 8, 2))).astype("float32")
    reference = StandardizedConv2D(2, 3)
    mixed = StandardizedConv2D(2, 3, dtype="mixed_bfloat16")
    for layer in (reference, mixed):
        layer.build(inputs.shape)
        layer.kernel.assign(kernel)
    assert mixed.kernel.dtype == "float32"
    out = mixed(inputs)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    np.testing.assert_allclose(
        np.asarray(keras.ops.cast(out, "float32")),
        np.asarray(reference(inputs)),
        atol=0.25,
        rtol=0.05,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"use_bias": True}, "use_bias=True"),
        ({"groups": 2}, "groups=2"),
        ({"epsilon": -1.0}, "epsilon=-1.0"),
        ({"data_format": "channels_first"}, "channels_first"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StandardizedConv2D(4, 3, **kwargs)
