"""Learned position embedding."""

import keras
from keras import ops

from keras_transformer_bit.utils import check_positive_int


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class PositionEmbedding(keras.layers.Layer):
    """A learned embedding per position, up to `sequence_length` positions.

    The alternative to sinusoids that Vaswani et al. (2017, §3.5, Table 3 row E)
    found to perform nearly identically. The layer returns the position
    embeddings broadcast to the shape of `inputs`; add them to the token
    embeddings yourself.

    Args:
        sequence_length: int. The largest number of positions.
        initializer: initializer of the embedding table. Defaults to
            `"glorot_uniform"`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of shape `(batch, sequence_length, hidden_dim)`. Only its
            shape is used.
        start_index: int or scalar int tensor. Position of the first element,
            for incremental decoding. Defaults to `0`.

    Returns:
        A tensor of the shape of `inputs`.

    Example:
    >>> layer = keras_transformer_bit.layers.PositionEmbedding(sequence_length=10)
    >>> tuple(layer(keras.ops.zeros((2, 7, 16))).shape)
    (2, 7, 16)
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        sequence_length = check_positive_int("sequence_length", sequence_length)
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        if hidden_dim is None:
            raise ValueError(
                "The last dimension of the inputs of PositionEmbedding must be "
                f"known. Received: inputs_shape={inputs_shape}"
            )
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, hidden_dim),
            initializer=self.initializer,
        )
        self.built = True

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        length = shape[-2]
        if isinstance(length, int) and length > self.sequence_length:
            raise ValueError(
                f"The inputs have {length} positions but this PositionEmbedding "
                f"holds sequence_length={self.sequence_length}."
            )
        embeddings = ops.convert_to_tensor(self.position_embeddings)
        embeddings = ops.slice(
            embeddings,
            (ops.cast(start_index, "int32"), 0),
            (length, shape[-1]),
        )
        return ops.broadcast_to(ops.cast(embeddings, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }
