import keras
import numpy as np
import pytest

from keras_transformer_bit.layers import BiTBottleneckUnit
from tests.helpers import run_layer_test


def _inputs(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_projection_unit_with_stride():
    run_layer_test(
        BiTBottleneckUnit,
        {"filters": 4, "strides": 2, "use_projection": True, "norm_groups": 2},
        _inputs((2, 9, 9, 8)),
        expected_output_shape=(2, 5, 5, 16),
        # 4 convolution kernels + 3 group norms x (gamma, beta).
        expected_num_trainable_weights=10,
    )


def test_identity_unit():
    run_layer_test(
        BiTBottleneckUnit,
        {"filters": 4, "norm_groups": 2},
        _inputs((2, 6, 6, 16)),
        expected_output_shape=(2, 6, 6, 16),
        expected_num_trainable_weights=9,
    )


def test_plain_resnet_v2_unit_shares_the_code_path():
    run_layer_test(
        BiTBottleneckUnit,
        {
            "filters": 4,
            "strides": 2,
            "use_projection": True,
            "conv_layer": "conv2d",
            "norm_layer": "batch_norm",
        },
        _inputs((2, 8, 8, 8)),
        expected_output_shape=(2, 4, 4, 16),
        expected_num_non_trainable_weights=6,
    )


def test_identity_unit_adds_inputs_without_final_activation():
    unit = BiTBottleneckUnit(4, norm_groups=2)
    inputs = _inputs((1, 5, 5, 16), seed=1)
    unit.build(inputs.shape)
    # With a zero last kernel the residual branch vanishes: out == inputs,
    # negative values included (no ReLU after the addition).
    unit.expand_conv.kernel.assign(np.zeros(unit.expand_conv.kernel.shape))
    unit.expand_conv.epsilon = 1.0  # keep the standardized zero kernel finite
    np.testing.assert_allclose(np.asarray(unit(inputs)), inputs, atol=1e-6)


def test_shortcut_reads_the_preactivated_input():
    unit = BiTBottleneckUnit(2, strides=2, use_projection=True, norm_groups=1)
    inputs = _inputs((1, 4, 4, 3), seed=2)
    unit.build(inputs.shape)
    unit.expand_conv.kernel.assign(np.zeros(unit.expand_conv.kernel.shape))
    unit.expand_conv.epsilon = 1.0
    norm = keras.layers.GroupNormalization(groups=1, epsilon=1e-5)
    activated = np.maximum(np.asarray(norm(inputs)), 0.0)[:, ::2, ::2, :]
    kernel = np.asarray(unit.projection_conv.standardized_kernel())[0, 0]
    np.testing.assert_allclose(np.asarray(unit(inputs)), activated @ kernel, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": 0}, "filters=0"),
        ({"filters": 4, "strides": 0}, "strides=0"),
        ({"filters": 4, "conv_layer": "conv3d"}, "conv_layer='conv3d'"),
        ({"filters": 4, "norm_layer": "layer_norm"}, "norm_layer='layer_norm'"),
        ({"filters": 4, "use_projection": "yes"}, "use_projection=yes"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BiTBottleneckUnit(**kwargs)


def test_identity_shortcut_with_changing_shape_is_rejected():
    with pytest.raises(ValueError, match="use_projection=True"):
        BiTBottleneckUnit(4, norm_groups=2)(np.zeros((1, 4, 4, 8), "float32"))
    with pytest.raises(ValueError, match="rank 4"):
        BiTBottleneckUnit(4, norm_groups=2)(np.zeros((4, 4, 16), "float32"))
