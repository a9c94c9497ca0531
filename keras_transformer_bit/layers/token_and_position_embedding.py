"""Token embedding scaled by sqrt(d_model) plus a position signal."""

import math

import keras
from keras import ops

from keras_transformer_bit.layers.position_embedding import PositionEmbedding
from keras_transformer_bit.layers.sine_position_encoding import SinePositionEncoding
from keras_transformer_bit.utils import check_positive_int

POSITION_ENCODINGS = ("sine", "learned")


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Embeds token ids, scales them by `sqrt(embedding_dim)`, adds positions.

    Vaswani et al. (2017, §3.4) multiply the token embeddings by `sqrt(d_model)`
    before adding the position signal (§3.5). With the default initializer,
    a normal with standard deviation `embedding_dim ** -0.5`, the scaled
    embeddings have unit variance like the sinusoids they are added to, and the
    same matrix used as a tied output projection gives logits of unit scale.

    The token embedding matrix is exposed as `token_embedding.embeddings` and
    `call(x, reverse=True)` multiplies hidden states by its transpose, which is
    how the Transformer ties its output projection to the target embedding.

    Args:
        vocabulary_size: int. Number of token ids.
        sequence_length: int. Largest number of positions of the learned
            position embedding (unused by `"sine"`, kept as the documented
            limit of the model).
        embedding_dim: int. Width of the embeddings (`d_model`).
        position_encoding: str. `"sine"` (fixed sinusoids, the paper's choice)
            or `"learned"`. Defaults to `"sine"`.
        scale_embeddings: bool. Multiply token embeddings by
            `sqrt(embedding_dim)`. Defaults to `True`.
        embeddings_initializer: initializer of the token embedding, or `None`
            for a normal with standard deviation `embedding_dim ** -0.5`.
            Defaults to `None`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: int tensor `(batch, sequence_length)` of token ids, or with
            `reverse=True` a float tensor `(batch, sequence_length,
            embedding_dim)` of hidden states.
        start_index: int or scalar int tensor. Position of the first token, for
            incremental decoding. Defaults to `0`.
        reverse: bool. Project hidden states onto the vocabulary with the
            transposed token embedding instead of embedding ids. Defaults to
            `False`.

    Returns:
        `(batch, sequence_length, embedding_dim)` embeddings, or with
        `reverse=True` `(batch, sequence_length, vocabulary_size)` logits.

    Example:
    >>> layer = keras_transformer_bit.layers.TokenAndPositionEmbedding(
    ...     vocabulary_size=100, sequence_length=32, embedding_dim=16)
    >>> tuple(layer(keras.ops.ones((2, 7), dtype="int32")).shape)
    (2, 7, 16)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        position_encoding="sine",
        scale_embeddings=True,
        embeddings_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
        sequence_length = check_positive_int("sequence_length", sequence_length)
        embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        if position_encoding not in POSITION_ENCODINGS:
            raise ValueError(
                f"position_encoding must be one of {POSITION_ENCODINGS}. "
                f"Received: position_encoding={position_encoding!r}"
            )
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.position_encoding = position_encoding
        self.scale_embeddings = scale_embeddings
        self.embeddings_initializer = (
            None
            if embeddings_initializer is None
            else keras.initializers.get(embeddings_initializer)
        )

    def build(self, inputs_shape=None):
        initializer = self.embeddings_initializer or keras.initializers.RandomNormal(
            stddev=self.embedding_dim**-0.5
        )
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build(None)
        if self.position_encoding == "sine":
            self.position_layer = SinePositionEncoding(
                dtype=self.dtype_policy, name="position_encoding"
            )
        else:
            self.position_layer = PositionEmbedding(
                self.sequence_length,
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        self.position_layer.build((None, None, self.embedding_dim))
        self.built = True

    @property
    def embeddings(self):
        """The `(vocabulary_size, embedding_dim)` token embedding matrix."""
        return self.token_embedding.embeddings

    def call(self, inputs, start_index=0, reverse=False):
        if reverse:
            kernel = ops.cast(
                ops.transpose(ops.convert_to_tensor(self.embeddings)),
                self.compute_dtype,
            )
            return ops.matmul(inputs, kernel)
        tokens = self.token_embedding(inputs)
        if self.scale_embeddings:
            tokens = tokens * ops.cast(math.sqrt(self.embedding_dim), tokens.dtype)
        return tokens + self.position_layer(tokens, start_index=start_index)

    def compute_output_spec(self, inputs, start_index=0, reverse=False):
        # Given, not traced: backends that trace with symbolic lengths (JAX)
        # cannot slice the learned positions to an unknown length.
        shape = tuple(inputs.shape)
        if reverse:
            shape = (*shape[:-1], self.vocabulary_size)
        else:
            shape = (*shape, self.embedding_dim)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "sequence_length": self.sequence_length,
            "embedding_dim": self.embedding_dim,
            "position_encoding": self.position_encoding,
            "scale_embeddings": self.scale_embeddings,
            "embeddings_initializer": (
                None
                if self.embeddings_initializer is None
                else keras.initializers.serialize(self.embeddings_initializer)
            ),
        }
