import keras
import numpy as np
import pytest

from keras_transformer_bit.layers import StandardizedConv2D
from keras_transformer_bit.models import BiTBackbone, BiTClassifier
from keras_transformer_bit.models.bit import count_parameters

SMALL = {"block_depths": [1, 2], "base_width": 8, "norm_groups": 4}


def test_output_shape_and_strides():
    backbone = BiTBackbone(**SMALL)
    # 33 -> pad 3, 7x7/2 -> 17 -> pad 1, pool 3/2 -> 9 -> block 2 stride 2 -> 5.
    features = backbone(np.zeros((2, 33, 30, 3), "float32"))
    assert tuple(features.shape) == (2, 5, 4, 64)
    assert backbone.num_features == 64
    assert backbone.units_per_block == (1, 2)
    assert isinstance(backbone.get_layer("root_conv"), StandardizedConv2D)
    assert backbone.get_layer("block2_unit01").strides == 2
    assert backbone.get_layer("block2_unit01").use_projection
    assert not backbone.get_layer("block2_unit02").use_projection
    # Features follow group norm + ReLU.
    assert float(keras.ops.min(features)) >= 0.0


def test_no_strided_layer_pads_same():
    backbone = BiTBackbone(**SMALL)
    paddings = [
        layer.padding
        for layer in backbone.layers
        if hasattr(layer, "padding") and hasattr(layer, "strides")
    ]
    unit = backbone.get_layer("block2_unit01")
    paddings += [unit.spatial_conv.padding, unit.projection_conv.padding]
    assert paddings and set(paddings) == {"valid"}


def test_count_parameters_matches_built_small_models():
    for config in (
        SMALL,
        {**SMALL, "width_factor": 2},
        {**SMALL, "norm_layer": "batch_norm", "conv_layer": "conv2d"},
    ):
        assert BiTBackbone(**config).count_params() == count_parameters(config)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"depth": 34}, "depth=34"),
        ({}, "exactly one of depth and block_depths"),
        ({"depth": 50, "block_depths": [1]}, "exactly one"),
        ({"block_depths": [1, 0]}, r"Received: block_depths\[1\]=0"),
        ({"block_depths": [1], "width_factor": 0}, "width_factor=0"),
        ({"block_depths": [1], "base_width": 8}, "divisible by norm_groups"),
        ({"block_depths": [1], "conv_layer": "conv1d"}, "conv_layer='conv1d'"),
        ({"block_depths": [1], "image_shape": (32, 32, 1)}, r"\(32, 32, 1\)"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BiTBackbone(**kwargs)


def test_wrong_rank_or_channels():
    backbone = BiTBackbone(**SMALL)
    with pytest.raises(ValueError, match="rank 4"):
        backbone(np.zeros((32, 32, 3), "float32"))
    with pytest.raises(ValueError, match="1 channels"):
        backbone(np.zeros((1, 32, 32, 1), "float32"))


def test_config_round_trip():
    backbone = BiTBackbone(**SMALL, width_factor=2, standardization_epsilon=1e-8)
    revived = BiTBackbone.from_config(backbone.get_config())
    assert revived.get_config() == backbone.get_config()
    assert revived.count_params() == backbone.count_params()


def test_no_two_kernels_of_a_fresh_bit_tiny_are_copies():
    from tests.layers.test_bit_bottleneck_unit import copied_kernels

    backbone = BiTBackbone.from_preset("bit_tiny")
    kernels = [(w.path, w) for w in backbone.weights if "kernel" in w.path]
    assert len(kernels) == 1 + 4 * 4  # root + (reduce, 3x3, expand, projection)
    assert copied_kernels(kernels) == []


@pytest.mark.parametrize(
    "call",
    [
        lambda: BiTBackbone(depht=50),
        lambda: BiTBackbone(depth=50, head_initializer="ones"),
        lambda: BiTBackbone.from_preset("bit_tiny", depht=50),
        lambda: BiTBackbone.from_preset("bit_tiny", head_initializer="ones"),
    ],
)
def test_misspelled_arguments_are_refused(call):
    with pytest.raises(TypeError, match=r"unknown argument '(depht|head_initializer)'"):
        call()
    with pytest.raises(TypeError, match=r"Valid arguments: \[.*'depth'.*'width_f"):
        call()


def test_layer_types_given_as_classes():
    config = {**SMALL, "conv_layer": keras.layers.Conv2D, "norm_layer": "batch_norm"}
    backbone = BiTBackbone(**config)
    assert type(backbone.get_layer("root_conv")) is keras.layers.Conv2D
    assert backbone.count_params() == count_parameters(config)
    revived = BiTBackbone.from_config(backbone.get_config())
    assert type(revived.get_layer("root_conv")) is keras.layers.Conv2D
    assert revived.count_params() == backbone.count_params()


def test_block_depths_accepts_any_integer_sequence():
    # NumPy arrays and NumPy ints are integer sequences too; the config keeps
    # plain ints (JSON, `.keras` files).
    for depths in (np.array([1, 2]), (np.int64(1), np.int32(2)), range(1, 3)):
        backbone = BiTBackbone(
            block_depths=depths, base_width=8, norm_groups=4, image_shape=(32, 32, 3)
        )
        assert backbone.get_config()["block_depths"] == [1, 2]
        assert all(type(d) is int for d in backbone.get_config()["block_depths"])
        assert len(backbone.layers) == len(BiTBackbone(**SMALL).layers)
    for bad in ([], np.array([1.0, 2.0]), "12", 3, [1, 0]):
        with pytest.raises(ValueError, match="block_depths"):
            BiTBackbone(block_depths=bad, base_width=8, norm_groups=4)


def test_an_explicit_dtype_policy_is_kept_by_the_config():
    backbone = BiTBackbone(
        block_depths=[1], base_width=8, norm_groups=4, dtype="mixed_bfloat16"
    )
    assert backbone.dtype_policy.name == "mixed_bfloat16"
    classifier = BiTClassifier(backbone, num_classes=2)
    assert classifier.dtype_policy.name == "mixed_bfloat16"
    for model in (backbone, classifier):
        copy = type(model).from_config(model.get_config())
        assert copy.dtype_policy.name == "mixed_bfloat16"
        layers = copy.backbone.layers if hasattr(copy, "backbone") else copy.layers
        dtypes = {
            layer.compute_dtype
            for layer in layers
            if not isinstance(layer, keras.layers.InputLayer)
        }
        assert dtypes == {"bfloat16"}
