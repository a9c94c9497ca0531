import keras
from keras import ops

from keras_transformer_bit.layers.group_normalization import GroupNormalization
from keras_transformer_bit.layers.standardized_conv2d import StandardizedConv2D
from keras_transformer_bit.utils import check_positive_int

CONV_LAYERS = ("standardized_conv2d", "conv2d")
NORM_LAYERS = ("group_norm", "batch_norm")


def make_conv(
    conv_layer,
    filters,
    kernel_size,
    strides,
    standardization_epsilon,
    padding="valid",
    **kw,
):
    """Builds the convolution type named by `conv_layer` (no bias)."""
    if conv_layer == "standardized_conv2d":
        return StandardizedConv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            epsilon=standardization_epsilon,
            **kw,
        )
    return keras.layers.Conv2D(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, **kw
    )


def make_norm(norm_layer, norm_groups, norm_epsilon, **kw):
    """Builds the normalization type named by `norm_layer`.

    Group norm is Keras' layer computed from per-channel sums
    (`GroupNormalization`): same weights and results, faster.
    """
    if norm_layer == "group_norm":
        return GroupNormalization(groups=norm_groups, epsilon=norm_epsilon, **kw)
    return keras.layers.BatchNormalization(epsilon=norm_epsilon, **kw)


def check_layer_types(conv_layer, norm_layer):
    if conv_layer not in CONV_LAYERS:
        raise ValueError(
            f"conv_layer must be one of {CONV_LAYERS}. "
            f"Received: conv_layer={conv_layer!r}"
        )
    if norm_layer not in NORM_LAYERS:
        raise ValueError(
            f"norm_layer must be one of {NORM_LAYERS}. "
            f"Received: norm_layer={norm_layer!r}"
        )


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class BiTBottleneckUnit(keras.layers.Layer):
    """The pre-activation bottleneck unit of BiT (ResNet-v2, He et al. 2016b).

    ```
    x ─ norm ─ relu ─┬─ 1x1 conv (filters) ─ norm ─ relu ─ pad 1 ─ 3x3 conv
                     │   (strides) ─ norm ─ relu ─ 1x1 conv (4 * filters) ─ + ─ out
    x (or the 1x1 projection of the activated x, with strides) ──────────────┘
    ```

    The first normalization and ReLU feed both the projection shortcut and the
    residual branch, as in the official BiT code; there is no activation after
    the addition. The 3x3 convolution pads one pixel of zeros on every side.
    With stride 2 the padding is explicit and the convolution `valid`:
    `padding="same"` would pad only the bottom/right and shift the sampling
    grid against the official weights. With stride 1, `padding="same"` pads
    exactly one pixel on every side, so it is used there (the same result,
    without materialising a padded copy when not compiled with XLA).

    The convolution and normalization types are arguments (as timm's ResNet-v2
    blocks take their layer types), so one code path serves BiT
    (`"standardized_conv2d"` + `"group_norm"`), its folded inference form
    (`"conv2d"` + `"group_norm"`) and a plain ResNet-v2 unit (`"conv2d"` +
    `"batch_norm"`).

    Args:
        filters: int. Width of the bottleneck; the unit outputs `4 * filters`
            channels.
        strides: int. Stride of the 3x3 convolution (and of the projection).
            Defaults to `1`.
        use_projection: bool. Whether the shortcut is a 1x1 convolution (needed
            when the channel count or the resolution changes; BiT uses one in
            the first unit of every block). Defaults to `False`.
        norm_groups: int. Groups of the group normalization. Defaults to `32`.
        norm_epsilon: float. Epsilon of the normalization. Defaults to `1e-5`.
        standardization_epsilon: float. Epsilon of the weight standardization.
            Defaults to `1e-10`.
        conv_layer: str. `"standardized_conv2d"` or `"conv2d"`. Defaults to
            `"standardized_conv2d"`.
        norm_layer: str. `"group_norm"` or `"batch_norm"`. Defaults to
            `"group_norm"`.
        kernel_initializer: initializer of the convolution kernels. Defaults
            to `"he_normal"`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: float tensor `(batch, height, width, channels)`.
        training: bool. Matters for `"batch_norm"` only.

    Returns:
        A tensor `(batch, ceil(height / strides), ceil(width / strides),
        4 * filters)`.

    Example:
    >>> unit = keras_transformer_bit.layers.BiTBottleneckUnit(
    ...     8, strides=2, use_projection=True, norm_groups=4)
    >>> unit(keras.ops.ones((2, 9, 9, 16))).shape
    (2, 5, 5, 32)
    """

    def __init__(
        self,
        filters,
        strides=1,
        use_projection=False,
        norm_groups=32,
        norm_epsilon=1e-5,
        standardization_epsilon=1e-10,
        conv_layer="standardized_conv2d",
        norm_layer="group_norm",
        kernel_initializer="he_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("filters", filters)
        check_positive_int("strides", strides)
        check_positive_int("norm_groups", norm_groups)
        if not isinstance(use_projection, bool):
            raise ValueError(
                "use_projection must be a bool. "
                f"Received: use_projection={use_projection}"
            )
        check_layer_types(conv_layer, norm_layer)
        self.filters = filters
        self.strides = strides
        self.use_projection = use_projection
        self.norm_groups = norm_groups
        self.norm_epsilon = norm_epsilon
        self.standardization_epsilon = standardization_epsilon
        self.conv_layer = conv_layer
        self.norm_layer = norm_layer
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _conv(self, filters, kernel_size, strides, name, padding="valid"):
        return make_conv(
            self.conv_layer,
            filters,
            kernel_size,
            strides,
            self.standardization_epsilon,
            padding=padding,
            kernel_initializer=self.kernel_initializer,
            name=name,
            dtype=self.dtype_policy,
        )

    def _norm(self, name):
        return make_norm(
            self.norm_layer,
            self.norm_groups,
            self.norm_epsilon,
            name=name,
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "BiTBottleneckUnit expects inputs of rank 4 (batch, height, width, "
                f"channels). Received: input_shape={input_shape}"
            )
        channels = input_shape[-1]
        output_channels = 4 * self.filters
        if not self.use_projection and (
            channels != output_channels or self.strides != 1
        ):
            raise ValueError(
                "An identity shortcut needs input channels == 4 * filters and "
                f"strides == 1. Received: input channels={channels}, "
                f"filters={self.filters}, strides={self.strides}; "
                "pass use_projection=True"
            )
        shape = tuple(input_shape)
        width_shape = shape[:3] + (self.filters,)
        strided_shape = (shape[0], None, None, self.filters)

        self.preactivation_norm = self._norm("preactivation_norm")
        self.preactivation_norm.build(shape)
        if self.use_projection:
            self.projection_conv = self._conv(
                output_channels, 1, self.strides, "projection_conv"
            )
            self.projection_conv.build(shape)
        self.reduce_conv = self._conv(self.filters, 1, 1, "reduce_conv")
        self.reduce_conv.build(shape)
        self.spatial_norm = self._norm("spatial_norm")
        self.spatial_norm.build(width_shape)
        # Stride 1: "same" pads one pixel on every side, exactly the explicit
        # padding, and spares the padded copy outside XLA. Stride 2: "same"
        # would pad bottom/right only, so pad explicitly and run "valid".
        self.spatial_conv = self._conv(
            self.filters,
            3,
            self.strides,
            "spatial_conv",
            padding="same" if self.strides == 1 else "valid",
        )
        self.spatial_conv.build(width_shape)
        self.expand_norm = self._norm("expand_norm")
        self.expand_norm.build(strided_shape)
        self.expand_conv = self._conv(output_channels, 1, 1, "expand_conv")
        self.expand_conv.build(strided_shape)
        self.built = True

    def call(self, inputs, training=None):
        x = ops.relu(self.preactivation_norm(inputs, training=training))
        if self.use_projection:
            shortcut = self.projection_conv(x)
        else:
            shortcut = inputs
        x = self.reduce_conv(x)
        x = ops.relu(self.spatial_norm(x, training=training))
        if self.strides != 1:
            x = ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        x = self.spatial_conv(x)
        x = ops.relu(self.expand_norm(x, training=training))
        x = self.expand_conv(x)
        return ops.add(x, ops.cast(shortcut, x.dtype))

    def compute_output_shape(self, input_shape):
        def reduce(size):
            return None if size is None else (size - 1) // self.strides + 1

        return (
            input_shape[0],
            reduce(input_shape[1]),
            reduce(input_shape[2]),
            4 * self.filters,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "use_projection": self.use_projection,
            "norm_groups": self.norm_groups,
            "norm_epsilon": self.norm_epsilon,
            "standardization_epsilon": self.standardization_epsilon,
            "conv_layer": self.conv_layer,
            "norm_layer": self.norm_layer,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
