import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class GroupNormalization(keras.layers.GroupNormalization):
    """Keras' group normalization, computed from per-channel sums.

    The same layer as `keras.layers.GroupNormalization` (same arguments,
    weights, initial values and results up to float rounding), with a faster
    computation for channels-last inputs. Keras reshapes the input to
    `(batch, ..., groups, channels_per_group)` and reduces over every axis but
    `batch` and `groups`, a strided reduction that compilers and kernels handle
    poorly. Here the input is seen as `(batch, positions, channels)`: each
    statistic is a sum over `positions` for every channel (contiguous, fast),
    then a tiny sum over the channels of each group. The variance takes two
    passes, as in Keras (the mean is subtracted before squaring), so it is
    not less accurate; the normalization and affine transform are then one
    per-channel scale and shift. Statistics are computed in float32 under
    mixed precision, like Keras.

    Inputs whose group axis is not the last one use Keras' computation.

    Args:
        groups: int. Number of groups; must divide the channels. Defaults to
            `32`.
        axis: int. The channel axis. Defaults to `-1`.
        epsilon: float. Added to the variance. Defaults to `1e-3`.
        **kwargs: the other `keras.layers.GroupNormalization` arguments
            (`center`, `scale`, initializers, regularizers, constraints) and
            base layer arguments.

    Example:
    >>> layer = keras_transformer_bit.layers.GroupNormalization(groups=2)
    >>> tuple(layer(keras.ops.ones((2, 4, 4, 6))).shape)
    (2, 4, 4, 6)

    References:
        - Wu and He 2018, "Group Normalization".
    """

    def call(self, inputs):
        rank = len(inputs.shape)
        if self.axis not in (-1, rank - 1):
            return super().call(inputs)
        channels = inputs.shape[-1]
        per_group = channels // self.groups
        dtype = keras.backend.result_type(inputs.dtype, "float32")
        shape = ops.shape(inputs)
        batch = shape[0]
        x = ops.reshape(ops.cast(inputs, dtype), (batch, -1, channels))
        count = ops.cast(ops.shape(x)[1] * per_group, dtype)

        def group_sum(channel_sums):  # (batch, channels) -> (batch, groups, 1)
            grouped = ops.reshape(channel_sums, (batch, self.groups, per_group))
            return ops.sum(grouped, axis=-1, keepdims=True)

        def per_channel(group_values):  # (batch, groups, k) -> (batch, 1, channels)
            spread = ops.broadcast_to(group_values, (batch, self.groups, per_group))
            return ops.reshape(spread, (batch, 1, channels))

        mean = group_sum(ops.sum(x, axis=1)) / count
        centered = x - per_channel(mean)
        variance = group_sum(ops.sum(ops.square(centered), axis=1)) / count
        inv = ops.rsqrt(variance + self.epsilon)
        if self.scale:
            gamma = ops.cast(self.gamma, dtype)
            inv = inv * ops.reshape(gamma, (1, self.groups, per_group))
        shift = -mean * inv
        if self.center:
            beta = ops.cast(self.beta, dtype)
            shift = shift + ops.reshape(beta, (1, self.groups, per_group))
        outputs = x * per_channel(inv) + per_channel(shift)
        return ops.cast(ops.reshape(outputs, shape), self.compute_dtype)
