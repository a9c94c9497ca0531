import keras
from keras import ops


def standardize_kernel(kernel, epsilon=1e-10):
    """Standardizes a `(height, width, in, out)` kernel per output channel.

    Statistics are taken over `(height, width, in)` with the population variance
    and computed in float32 whatever the kernel's dtype.

    Args:
        kernel: a 4D tensor in `HWIO` layout.
        epsilon: float. Added to the variance inside the square root.

    Returns:
        The standardized kernel, float32.
    """
    kernel = ops.cast(kernel, "float32")
    mean = ops.mean(kernel, axis=(0, 1, 2), keepdims=True)
    variance = ops.mean(ops.square(kernel - mean), axis=(0, 1, 2), keepdims=True)
    return (kernel - mean) / ops.sqrt(variance + epsilon)


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class StandardizedConv2D(keras.layers.Conv2D):
    """A 2D convolution with a weight-standardized kernel (Qiao et al. 2019).

    Before every convolution the kernel is standardized per output channel: its
    mean over `(height, width, input_channels)` is subtracted and it is divided
    by `sqrt(variance + epsilon)` (population variance). BiT (Kolesnikov et al.
    2019, §4.2) pairs this with group normalization so that training does not
    depend on the batch size. The statistics are computed in float32 under
    mixed precision: a bfloat16 kernel has too few mantissa bits for a stable
    variance. The layer has no bias (the standardization would not touch it and
    the following group normalization removes it anyway) and works on
    `channels_last` inputs only.

    The standardization happens in the public `Conv2D.convolution_op` hook, so
    everything else (strides, padding, dilation, saving) is Keras' own `Conv2D`.

    Args:
        filters: int. Number of output channels.
        kernel_size: int or tuple of 2 ints. Size of the convolution window.
        epsilon: float. Added to the variance inside the square root. Defaults
            to `1e-10`, the value of the official BiT code.
        **kwargs: other `keras.layers.Conv2D` arguments (`strides`, `padding`,
            `dilation_rate`, `kernel_initializer`, `name`, `dtype`, ...).
            `use_bias=True`, `groups != 1` and `data_format="channels_first"`
            are rejected.

    Example:
    >>> layer = keras_transformer_bit.layers.StandardizedConv2D(8, 3)
    >>> tuple(layer(keras.ops.ones((2, 5, 5, 4))).shape)
    (2, 3, 3, 8)

    References:
        - Qiao et al. 2019, "Micro-Batch Training with Batch-Channel
          Normalization and Weight Standardization".
        - Kolesnikov et al. 2019, "Big Transfer (BiT): General Visual
          Representation Learning".
    """

    def __init__(self, filters, kernel_size, epsilon=1e-10, **kwargs):
        if kwargs.get("use_bias", False):
            raise ValueError("StandardizedConv2D has no bias. Received: use_bias=True")
        if kwargs.get("groups", 1) != 1:
            raise ValueError(
                "StandardizedConv2D supports groups=1 only. "
                f"Received: groups={kwargs['groups']}"
            )
        if kwargs.get("data_format") not in (None, "channels_last"):
            raise ValueError(
                "StandardizedConv2D supports data_format='channels_last' only. "
                f"Received: data_format={kwargs['data_format']!r}"
            )
        kwargs["use_bias"] = False
        kwargs["data_format"] = "channels_last"
        super().__init__(filters, kernel_size, **kwargs)
        if (
            isinstance(epsilon, bool)
            or not isinstance(epsilon, (int, float))
            or epsilon < 0
        ):
            raise ValueError(
                f"epsilon must be a float >= 0. Received: epsilon={epsilon}"
            )
        self.epsilon = epsilon

    def add_weight(self, *args, **kwargs):
        # The kernel must reach `convolution_op` in float32 so that its
        # statistics are float32 under mixed precision: no autocasting.
        kwargs["autocast"] = False
        return super().add_weight(*args, **kwargs)

    def standardized_kernel(self):
        """Returns the standardized kernel (float32) the convolution uses."""
        return standardize_kernel(self.kernel, self.epsilon)

    def convolution_op(self, inputs, kernel):
        kernel = standardize_kernel(kernel, self.epsilon)
        return super().convolution_op(
            ops.cast(inputs, self.compute_dtype),
            ops.cast(kernel, self.compute_dtype),
        )

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
