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


def copied_kernels(kernels):
    """Pairs of kernels that are copies: equal, permuted, or (scaled) prefixes
    of one random stream."""
    flat = {name: np.asarray(kernel, "float64").ravel() for name, kernel in kernels}
    copies = []
    names = sorted(flat)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            x, y = flat[a], flat[b]
            n = min(len(x), len(y))
            prefix = abs(np.corrcoef(x[:n], y[:n])[0, 1]) > 0.9
            permuted = len(x) == len(y) and np.allclose(
                np.sort(x) / x.std(), np.sort(y) / y.std(), rtol=1e-4, atol=1e-6
            )
            if prefix or permuted:
                copies.append((a, b))
    return copies


def test_every_kernel_has_its_own_initializer():
    unit = BiTBottleneckUnit(8, strides=2, use_projection=True, norm_groups=4)
    unit.build((1, 8, 8, 32))
    kernels = [(w.path, w) for w in unit.weights if "kernel" in w.path]
    assert len(kernels) == 4
    assert copied_kernels(kernels) == []
    # The same check sees copies when they are there.
    same = [("a", kernels[0][1]), ("b", np.asarray(kernels[0][1])[::-1])]
    assert copied_kernels(same) == [("a", "b")]
    # A seeded initializer keeps the unit reproducible.
    seeded = keras.initializers.HeNormal(seed=3)
    first = BiTBottleneckUnit(8, norm_groups=4, kernel_initializer=seeded)
    second = BiTBottleneckUnit(8, norm_groups=4, kernel_initializer=seeded)
    first.build((1, 4, 4, 32))
    second.build((1, 4, 4, 32))
    for a, b in zip(first.weights, second.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # ... and still gives each kernel its own values.
    seeded_kernels = [(w.path, w) for w in first.weights if "kernel" in w.path]
    assert copied_kernels(seeded_kernels) == []


def test_layer_types_are_classes():
    unit = BiTBottleneckUnit(
        4,
        strides=2,
        use_projection=True,
        conv_layer=keras.layers.Conv2D,
        norm_layer=keras.layers.LayerNormalization,
    )
    outputs = unit(_inputs((2, 8, 8, 8)))
    assert tuple(outputs.shape) == (2, 4, 4, 16)
    assert type(unit.spatial_conv) is keras.layers.Conv2D
    assert isinstance(unit.expand_norm, keras.layers.LayerNormalization)
    revived = BiTBottleneckUnit.from_config(unit.get_config())
    revived.build((2, 8, 8, 8))
    assert type(revived.spatial_conv) is keras.layers.Conv2D
    assert isinstance(revived.expand_norm, keras.layers.LayerNormalization)
    with pytest.raises(ValueError, match="conv_layer must be"):
        BiTBottleneckUnit(4, conv_layer=keras.layers.Dense)
