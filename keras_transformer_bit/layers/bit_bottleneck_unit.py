import inspect

import keras
from keras import ops

from keras_transformer_bit.layers.group_normalization import GroupNormalization
from keras_transformer_bit.layers.standardized_conv2d import StandardizedConv2D
from keras_transformer_bit.utils import check_positive_int, clone_initializer

# Names for the layer types BiT and its relatives use; any class works too.
CONV_LAYERS = {
    "standardized_conv2d": StandardizedConv2D,
    "conv2d": keras.layers.Conv2D,
}
NORM_LAYERS = {
    "group_norm": GroupNormalization,
    "batch_norm": keras.layers.BatchNormalization,
}


def _layer_type(argument, value, aliases, base):
    if isinstance(value, str) and value in aliases:
        return aliases[value]
    if isinstance(value, dict) and set(value) == {"layer_type"}:
        # A class written by `serialize_layer_type`: registered or Keras' own.
        name = value["layer_type"]
        found = keras.saving.get_registered_object(name) or getattr(
            keras.layers, name, None
        )
        if found is None:
            raise ValueError(
                f"{argument}: unknown layer type {name!r}; register the class "
                "with keras.saving.register_keras_serializable"
            )
        value = found
    if isinstance(value, type) and issubclass(value, base):
        return value
    raise ValueError(
        f"{argument} must be a {base.__name__} class or one of {sorted(aliases)}. "
        f"Received: {argument}={value!r}"
    )


def conv_layer_type(conv_layer):
    """The `keras.layers.Conv2D` class `conv_layer` stands for (class or name)."""
    return _layer_type("conv_layer", conv_layer, CONV_LAYERS, keras.layers.Conv2D)


def norm_layer_type(norm_layer):
    """The normalization layer class `norm_layer` stands for (class or name)."""
    return _layer_type("norm_layer", norm_layer, NORM_LAYERS, keras.layers.Layer)


def serialize_layer_type(layer_type):
    """A layer type for `get_config`: its name, or the class's registered name."""
    if isinstance(layer_type, str):
        return layer_type
    return {"layer_type": keras.saving.get_registered_name(layer_type)}


def _accepts(layer_type, argument):
    return argument in inspect.signature(layer_type).parameters


def make_conv(
    conv_layer,
    filters,
    kernel_size,
    strides,
    standardization_epsilon,
    padding="valid",
    **kw,
):
    """Builds a bias-free convolution of type `conv_layer` (class or name).

    `standardization_epsilon` goes to the types that take an `epsilon`
    (`StandardizedConv2D`).
    """
    conv_type = conv_layer_type(conv_layer)
    if _accepts(conv_type, "epsilon"):
        kw["epsilon"] = standardization_epsilon
    return conv_type(
        filters, kernel_size, strides=strides, padding=padding, use_bias=False, **kw
    )


def make_norm(norm_layer, norm_groups, norm_epsilon, **kw):
    """Builds a normalization of type `norm_layer` (class or name).

    `norm_groups` goes to the types that take `groups` (group norm). Group
    norm is Keras' layer computed from per-channel sums (`GroupNormalization`):
    same weights and results, faster.
    """
    norm_type = norm_layer_type(norm_layer)
    if _accepts(norm_type, "groups"):
        kw["groups"] = norm_groups
    return norm_type(epsilon=norm_epsilon, **kw)


def check_layer_types(conv_layer, norm_layer):
    """Raises a clear error unless both name or are layer classes."""
    conv_layer_type(conv_layer)
    norm_layer_type(norm_layer)


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
    (`StandardizedConv2D` + `GroupNormalization`), its folded inference form
    (`keras.layers.Conv2D` + `GroupNormalization`), a plain ResNet-v2 unit
    (`Conv2D` + `keras.layers.BatchNormalization`) and any other pair of
    classes. Every convolution gets its own copy of `kernel_initializer`: an
    unseeded Keras initializer returns the same values on every call, so a
    shared one would start the kernels as copies of one random stream.

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
        conv_layer: a `keras.layers.Conv2D` class, built as
            `conv_layer(filters, kernel_size, strides=..., padding=...,
            use_bias=False, kernel_initializer=..., name=..., dtype=...)` (plus
            `epsilon=standardization_epsilon` when it takes one), or one of
            the names `"standardized_conv2d"`, `"conv2d"`. Defaults to
            `"standardized_conv2d"` (`StandardizedConv2D`).
        norm_layer: a normalization layer class, built as
            `norm_layer(epsilon=norm_epsilon, name=..., dtype=...)` (plus
            `groups=norm_groups` when it takes them), or one of the names
            `"group_norm"`, `"batch_norm"`. Defaults to `"group_norm"`.
            Classes outside this package must be registered
            (`keras.saving.register_keras_serializable`) to be saved.
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
    >>> tuple(unit(keras.ops.ones((2, 9, 9, 16))).shape)
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
        filters = check_positive_int("filters", filters)
        strides = check_positive_int("strides", strides)
        norm_groups = check_positive_int("norm_groups", norm_groups)
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
        # Names stay names (configs keep them); a saved class is revived.
        self.conv_layer = (
            conv_layer if isinstance(conv_layer, str) else conv_layer_type(conv_layer)
        )
        self.norm_layer = (
            norm_layer if isinstance(norm_layer, str) else norm_layer_type(norm_layer)
        )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _conv(self, filters, kernel_size, strides, name, padding="valid"):
        return make_conv(
            self.conv_layer,
            filters,
            kernel_size,
            strides,
            self.standardization_epsilon,
            padding=padding,
            # A fresh object per kernel: an unseeded initializer returns the
            # same values on every call; a seeded one gets a seed per kernel.
            kernel_initializer=clone_initializer(self.kernel_initializer, salt=name),
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
            "conv_layer": serialize_layer_type(self.conv_layer),
            "norm_layer": serialize_layer_type(self.norm_layer),
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
