import inspect

import keras
from keras import ops

from keras_transformer_bit.layers.bit_bottleneck_unit import (
    BiTBottleneckUnit,
    conv_layer_type,
    make_conv,
    make_norm,
    norm_layer_type,
    serialize_layer_type,
)
from keras_transformer_bit.models.bit import bit_checkpoint, bit_presets
from keras_transformer_bit.utils import check_positive_int
from keras_transformer_bit.utils.check_known_arguments import check_known_arguments

# Units per block of the ResNet depths BiT was released with (He et al. 2016a).
BLOCK_DEPTHS = {
    26: (2, 2, 2, 2),  # not released by BiT; timm's resnetv2_26 layout
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def resolve_block_depths(depth=None, block_depths=None):
    """Returns the units per block for `depth` or checks `block_depths`."""
    if (depth is None) == (block_depths is None):
        raise ValueError(
            "Pass exactly one of depth and block_depths. "
            f"Received: depth={depth}, block_depths={block_depths}"
        )
    if depth is not None:
        if depth not in BLOCK_DEPTHS:
            raise ValueError(
                f"depth must be one of {sorted(BLOCK_DEPTHS)} (or pass "
                f"block_depths). Received: depth={depth}"
            )
        return BLOCK_DEPTHS[depth]
    # Any sequence of integers: a list, a tuple, a range, a NumPy array (whose
    # elements are NumPy ints); a string or a single number is not one.
    try:
        depths = None if isinstance(block_depths, str) else list(block_depths)
    except TypeError:
        depths = None
    if not depths:
        raise ValueError(
            "block_depths must be a non-empty sequence of positive ints. "
            f"Received: block_depths={block_depths!r}"
        )
    # Plain ints (check_positive_int converts NumPy ones) for configs and JSON.
    return tuple(
        check_positive_int(f"block_depths[{i}]", d) for i, d in enumerate(depths)
    )


def block_widths(num_blocks, width_factor, base_width):
    """Bottleneck width of every block: doubles from block to block."""
    return [base_width * width_factor * 2**b for b in range(num_blocks)]


def count_parameters(config, num_classes=None):
    """Counts the weights of a BiT model from its configuration, allocating nothing.

    Args:
        config: dict. `BiTBackbone` arguments (e.g. a preset's `"config"` or
            `backbone.get_config()`).
        num_classes: int or None. Adds a dense head of this many classes.

    Returns:
        int. The number of weights (trainable and, for batch norm, not).

    Example:
    >>> count_parameters({"depth": 50, "width_factor": 1}, num_classes=1000)
    25549352
    """
    depth = config.get("depth")
    block_depths = config.get("block_depths")
    width_factor = config.get("width_factor", 1)
    base_width = config.get("base_width", 64)
    norm_type = norm_layer_type(config.get("norm_layer", "group_norm"))
    depths = resolve_block_depths(depth, block_depths)
    # Scale and offset; batch norm also keeps a moving mean and variance.
    per_channel = 4 if issubclass(norm_type, keras.layers.BatchNormalization) else 2
    root = base_width * width_factor
    total = 7 * 7 * 3 * root
    channels = root
    for width, units in zip(
        block_widths(len(depths), width_factor, base_width), depths
    ):
        for unit in range(units):
            total += per_channel * channels + channels * width  # norm, 1x1 reduce
            total += per_channel * width + 9 * width * width  # norm, 3x3
            total += per_channel * width + width * 4 * width  # norm, 1x1 expand
            if unit == 0:
                total += channels * 4 * width  # projection shortcut
            channels = 4 * width
    total += per_channel * channels
    if num_classes is not None:
        total += channels * num_classes + num_classes
    return total


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class BiTBackbone(keras.Model):
    """The BiT ResNet-v2 feature extractor (Kolesnikov et al. 2019).

    Root: zero-pad 3, 7x7 stride-2 `valid` convolution, zero-pad 1, 3x3 stride-2
    `valid` max-pool. The max-pool pads with zeros, not `-inf`, exactly as the
    official code (`tf.pad` then `valid` pooling); with negative activations
    at the border the two differ, and the official weights expect zeros. No
    stride-2 layer uses `padding="same"`, which would pad bottom/right only.
    Then one block per entry of `block_depths`; block `b` has units of width
    `base_width * width_factor * 2**b` (output `4x` that), the first unit of a
    block carries the projection shortcut and, from the second block on,
    stride 2. A final normalization and ReLU close the pre-activation network.

    The backbone takes images already scaled to `[-1, 1]` (as the official
    weights expect); `BiTClassifier` does that scaling from `[0, 255]`.

    Args:
        depth: int. 50, 101 or 152. Give this or `block_depths`.
        block_depths: sequence of ints (list, tuple, NumPy array). Units per
            block, for custom networks.
        width_factor: int. Multiplies every width. Defaults to `1`.
        base_width: int. Root width and width of the first block before the
            width factor. Defaults to `64` (BiT); smaller for CPU demos.
        norm_groups: int. Groups of the group normalization. Defaults to `32`.
        norm_epsilon: float. Defaults to `1e-5`.
        standardization_epsilon: float. Epsilon of the weight standardization.
            Defaults to `1e-10`.
        conv_layer: the convolution type of every layer: a
            `keras.layers.Conv2D` class, or `"standardized_conv2d"` (BiT's
            `StandardizedConv2D`) or `"conv2d"` (plain convolutions, e.g. for
            folded weights). See `BiTBottleneckUnit`. Defaults to
            `"standardized_conv2d"`.
        norm_layer: the normalization type: a layer class, or `"group_norm"`
            (BiT) or `"batch_norm"`. Defaults to `"group_norm"`.
        image_shape: tuple. `(height, width, 3)`; height and width may be None.
            Defaults to `(None, None, 3)`.
        dtype: dtype policy of all layers. Defaults to the global policy.
        **kwargs: `name`, `trainable`. Any other name is refused.

    Example:
    >>> backbone = keras_transformer_bit.models.BiTBackbone(
    ...     block_depths=[1, 1], base_width=8, norm_groups=4)
    >>> tuple(backbone(keras.ops.zeros((1, 32, 32, 3))).shape)
    (1, 4, 4, 64)
    """

    def __init__(
        self,
        depth=None,
        block_depths=None,
        width_factor=1,
        base_width=64,
        norm_groups=32,
        norm_epsilon=1e-5,
        standardization_epsilon=1e-10,
        conv_layer="standardized_conv2d",
        norm_layer="group_norm",
        image_shape=(None, None, 3),
        dtype=None,
        **kwargs,
    ):
        check_known_arguments("BiTBackbone", kwargs, BACKBONE_ARGUMENTS)
        depths = resolve_block_depths(depth, block_depths)
        width_factor, base_width, norm_groups = (
            check_positive_int(name, value)
            for name, value in (
                ("width_factor", width_factor),
                ("base_width", base_width),
                ("norm_groups", norm_groups),
            )
        )
        conv_layer_type(conv_layer)
        takes_groups = (
            "groups" in inspect.signature(norm_layer_type(norm_layer)).parameters
        )
        widths = block_widths(len(depths), width_factor, base_width)
        root_width = base_width * width_factor
        if takes_groups and root_width % norm_groups:
            raise ValueError(
                "base_width * width_factor must be divisible by norm_groups. "
                f"Received: base_width={base_width}, width_factor={width_factor}, "
                f"norm_groups={norm_groups}"
            )
        image_shape = tuple(image_shape)
        if len(image_shape) != 3 or image_shape[-1] != 3:
            raise ValueError(
                "image_shape must be (height, width, 3) (RGB, channels last). "
                f"Received: image_shape={image_shape}"
            )
        policy = keras.dtype_policies.get(dtype) if dtype is not None else None

        def conv(filters, kernel_size, strides, name):
            return make_conv(
                conv_layer,
                filters,
                kernel_size,
                strides,
                standardization_epsilon,
                kernel_initializer="he_normal",
                name=name,
                dtype=policy,
            )

        # === Functional graph ===
        inputs = keras.Input(shape=image_shape, name="images")
        x = keras.layers.ZeroPadding2D(3, name="root_conv_pad", dtype=policy)(inputs)
        x = conv(root_width, 7, 2, "root_conv")(x)
        x = keras.layers.ZeroPadding2D(1, name="root_pool_pad", dtype=policy)(x)
        x = keras.layers.MaxPooling2D(
            3, 2, padding="valid", name="root_pool", dtype=policy
        )(x)
        for block, (width, units) in enumerate(zip(widths, depths), start=1):
            for unit in range(1, units + 1):
                x = BiTBottleneckUnit(
                    width,
                    strides=2 if unit == 1 and block > 1 else 1,
                    use_projection=unit == 1,
                    norm_groups=norm_groups,
                    norm_epsilon=norm_epsilon,
                    standardization_epsilon=standardization_epsilon,
                    conv_layer=conv_layer,
                    norm_layer=norm_layer,
                    name=f"block{block}_unit{unit:02d}",
                    dtype=policy,
                )(x)
        x = make_norm(
            norm_layer, norm_groups, norm_epsilon, name="post_norm", dtype=policy
        )(x)
        outputs = keras.layers.ReLU(name="post_relu", dtype=policy)(x)
        if kwargs.get("name") is None:
            kwargs["name"] = default_name("bit_backbone")
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)
        if policy is not None:
            # A functional model ignores `dtype` (it takes the global policy):
            # without this, `get_config` would record float32 for layers
            # built in mixed precision, and a reloaded or folded copy of a
            # mixed-precision model would compute in float32.
            self.dtype_policy = policy

        # === Config ===
        self.depth = depth
        self.block_depths = None if block_depths is None else list(depths)
        self.width_factor = width_factor
        self.base_width = base_width
        self.norm_groups = norm_groups
        self.norm_epsilon = norm_epsilon
        self.standardization_epsilon = standardization_epsilon
        # Names stay names (configs keep them); a saved class is revived.
        self.conv_layer = (
            conv_layer if isinstance(conv_layer, str) else conv_layer_type(conv_layer)
        )
        self.norm_layer = (
            norm_layer if isinstance(norm_layer, str) else norm_layer_type(norm_layer)
        )
        self.image_shape = image_shape
        self.num_features = 4 * widths[-1]

    @property
    def units_per_block(self):
        """The number of units of every block, e.g. `(3, 4, 6, 3)` for depth 50."""
        return resolve_block_depths(self.depth, self.block_depths)

    def call(self, inputs, training=None, mask=None):
        check_image_shape(inputs, "BiTBackbone")
        if inputs.shape[0] == 0:
            # No images, no features (as the Transformer's empty batch). Not
            # left to the layers: TensorFlow's convolution returns an empty
            # batch unchanged, with the input's channels, whatever its kernel.
            shape = self.compute_output_shape(tuple(inputs.shape))
            return ops.zeros(shape, dtype=self.compute_dtype)
        return super().call(inputs, training=training, mask=mask)

    @classmethod
    def presets(cls):
        """The preset names and their descriptions (as `Transformer.presets`).

        Example:
        >>> "bit_m_r50x1" in keras_transformer_bit.models.BiTBackbone.presets()
        True
        """
        return bit_presets.descriptions()

    @classmethod
    def from_preset(cls, name, weights=None, **overrides):
        """Builds a backbone from a preset; `weights` as in `BiTClassifier`.

        Args:
            name: str. A key of `keras_transformer_bit.models.bit.PRESETS`.
            weights: None, the preset's weights tag (e.g. `"imagenet21k"`),
                the official file name, a URL or a path to an official `.npz`.
                The checkpoint's head is dropped.
            **overrides: constructor arguments replacing the preset's.
        """
        preset = bit_presets.get_preset(name)
        backbone = backbone_from_preset(preset, overrides)
        if weights is not None:
            path = bit_checkpoint.resolve_weights(preset, weights)
            bit_checkpoint.load_bit_checkpoint(backbone, path)
        return backbone

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "depth": self.depth,
            "block_depths": self.block_depths,
            "width_factor": self.width_factor,
            "base_width": self.base_width,
            "norm_groups": self.norm_groups,
            "norm_epsilon": self.norm_epsilon,
            "standardization_epsilon": self.standardization_epsilon,
            "conv_layer": serialize_layer_type(self.conv_layer),
            "norm_layer": serialize_layer_type(self.norm_layer),
            "image_shape": self.image_shape,
        }


# What BiTBackbone takes: its own arguments and the base `name` and `trainable`.
BACKBONE_ARGUMENTS = [
    *(p for p in inspect.signature(BiTBackbone.__init__).parameters if p != "self"),
    "name",
    "trainable",
]
BACKBONE_ARGUMENTS.remove("kwargs")


def backbone_from_preset(preset, overrides, who="BiTBackbone.from_preset"):
    """A `BiTBackbone` of a resolved `preset` (a `bit_presets.get_preset` dict)
    with `overrides` of its constructor arguments, refusing unknown names."""
    check_known_arguments(who, overrides, BACKBONE_ARGUMENTS)
    return BiTBackbone(**{**preset["config"], **overrides})


def default_name(prefix):
    """`prefix`, then `prefix_1`, `prefix_2`, ... (Keras would say `bi_t_...`)."""
    uid = keras.backend.get_uid(prefix)
    return prefix if uid == 1 else f"{prefix}_{uid - 1}"


def check_image_shape(images, who):
    """Raises a clear error unless `images` is `(batch, height, width, 3)`."""
    try:
        shape = tuple(images.shape)
    except (AttributeError, ValueError, TypeError):
        return  # no static shape (e.g. an unknown-rank trace): nothing to check
    if len(shape) != 4:
        raise ValueError(
            f"{who} expects images of rank 4 (batch, height, width, 3), channels "
            f"last. Received: shape={shape}"
        )
    if shape[-1] != 3:
        raise ValueError(
            f"{who} expects 3 (RGB) channels last. Received: shape={shape} "
            f"with {shape[-1]} channels"
        )
