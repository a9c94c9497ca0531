"""Fixed sinusoidal position signals (Vaswani et al. 2017, §3.5)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class SinePositionEncoding(keras.layers.Layer):
    """Computes fixed sinusoidal position signals (Vaswani et al. 2017, §3.5).

    For position `pos` and channel pair `i`, the signal is
    `sin(pos / max_wavelength ** (2i / d))` on even channels and the matching
    `cos` on odd channels, so that a fixed offset is a linear function of the
    signal. The layer has no weights and works for any sequence length.

    The layer returns the signal (same shape as `inputs`); add it to the token
    embeddings yourself. `start_index` shifts the positions, which incremental
    decoding needs: a single step at position `t` is encoded with
    `start_index=t`.

    Args:
        max_wavelength: int. The longest wavelength of the signals. Defaults to
            `10000`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, sequence_length, hidden_dim)`. Only its
            shape is used.
        start_index: int or scalar int tensor. Position of the first element.
            Defaults to `0`.

    Returns:
        A tensor of the shape of `inputs` in the layer's compute dtype.

    Example:
    >>> layer = keras_transformer_bit.layers.SinePositionEncoding()
    >>> tuple(layer(keras.ops.zeros((2, 7, 16))).shape)
    (2, 7, 16)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.5.
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(max_wavelength, (int, float)) or max_wavelength <= 0:
            raise ValueError(
                "max_wavelength must be a positive number. "
                f"Received: max_wavelength={max_wavelength}"
            )
        self.max_wavelength = max_wavelength
        self.built = True

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        sequence_length, hidden_dim = shape[-2], shape[-1]
        positions = ops.cast(
            ops.arange(sequence_length) + ops.cast(start_index, "int32"), "float32"
        )
        channels = ops.arange(hidden_dim)
        # Channels 2i and 2i + 1 share the frequency 1 / max_wavelength^(2i / d).
        exponents = ops.cast((channels // 2) * 2, "float32") / ops.cast(
            hidden_dim, "float32"
        )
        frequencies = ops.power(float(self.max_wavelength), -exponents)
        angles = positions[:, None] * frequencies[None, :]
        is_even = ops.equal(channels % 2, 0)
        encoding = ops.where(is_even[None, :], ops.sin(angles), ops.cos(angles))
        encoding = ops.cast(encoding, self.compute_dtype)
        return ops.broadcast_to(encoding, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}
