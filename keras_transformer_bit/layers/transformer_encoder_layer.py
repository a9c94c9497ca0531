"""One Transformer encoder block: self-attention and a feed-forward network."""

import keras
from keras import ops

from keras_transformer_bit.layers.multi_head_attention import (
    MultiHeadAttention,
    _check_rate,
)
from keras_transformer_bit.utils import check_positive_int


def check_block_arguments(
    hidden_dim, intermediate_dim, num_heads, dropout, attention_dropout
):
    """Validates the arguments shared by the encoder and decoder layers."""
    check_positive_int("hidden_dim", hidden_dim)
    check_positive_int("intermediate_dim", intermediate_dim)
    check_positive_int("num_heads", num_heads)
    if hidden_dim % num_heads:
        raise ValueError(
            "num_heads must divide hidden_dim. Received: "
            f"hidden_dim={hidden_dim}, num_heads={num_heads}"
        )
    _check_rate("dropout", dropout)
    _check_rate("attention_dropout", attention_dropout)


def padding_to_attention_mask(padding_mask):
    """`(batch, length)` padding mask -> `(batch, 1, length)` attention mask."""
    if padding_mask is None:
        return None
    return ops.cast(padding_mask, "bool")[:, None, :]


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class TransformerEncoderLayer(keras.layers.Layer):
    """Self-attention then a position-wise feed-forward network (§3.1, §3.3).

    Each sub-layer is wrapped in dropout, a residual connection and layer
    normalization. `norm_first` picks where the normalization goes:

    - `norm_first=False` (post-LN, the paper's): `x = norm(x + sublayer(x))`.
    - `norm_first=True` (pre-LN, our default): `x = x + sublayer(norm(x))`.
      The residual path stays an identity, so gradients reach the lower layers
      unscaled and deep stacks train without a long warm-up (Xiong et al.
      2020, "On Layer Normalization in the Transformer Architecture"). A
      pre-LN stack needs one final normalization after its last layer; the
      `Transformer` model adds it.

    Args:
        hidden_dim: int. Width of the inputs and outputs (`d_model`).
        intermediate_dim: int. Width of the feed-forward hidden layer (`d_ff`).
        num_heads: int. Number of attention heads; must divide `hidden_dim`.
        dropout: float in [0, 1). Dropout on each sub-layer output before the
            residual addition (`P_drop`, §5.4). Defaults to `0.1`.
        attention_dropout: float in [0, 1). Dropout on attention
            probabilities. Defaults to `0.0`.
        activation: activation of the feed-forward hidden layer. Defaults to
            `"relu"`.
        layer_norm_epsilon: float. Defaults to `1e-6`.
        norm_first: bool. Pre-LN when `True`, post-LN when `False`. Defaults to
            `True`.
        kernel_initializer: initializer of the dense kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer of the biases. Defaults to `"zeros"`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, length, hidden_dim)`.
        padding_mask: bool/int `(batch, length)`, 0/False at padding.
        attention_mask: bool/int `(batch, length, length)`, merged with the
            padding mask.
        return_attention_scores: bool. Also return the self-attention
            probabilities `(batch, num_heads, length, length)`.
        training: bool. Enables dropout.

    Returns:
        `(batch, length, hidden_dim)`, or `(outputs, attention_scores)`.

    Example:
    >>> layer = keras_transformer_bit.layers.TransformerEncoderLayer(
    ...     hidden_dim=16, intermediate_dim=32, num_heads=2)
    >>> tuple(layer(keras.ops.ones((2, 5, 16))).shape)
    (2, 5, 16)
    """

    def __init__(
        self,
        hidden_dim,
        intermediate_dim,
        num_heads,
        dropout=0.1,
        attention_dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-6,
        norm_first=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_block_arguments(
            hidden_dim, intermediate_dim, num_heads, dropout, attention_dropout
        )
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _sublayer_kwargs(self):
        return dict(
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
        )

    def _check_width(self, inputs_shape):
        if inputs_shape[-1] != self.hidden_dim:
            raise ValueError(
                f"{type(self).__name__} expects inputs of width hidden_dim="
                f"{self.hidden_dim}. Received: inputs_shape={inputs_shape}"
            )

    def build(self, inputs_shape):
        self._check_width(inputs_shape)
        shape = (None, None, self.hidden_dim)
        self.self_attention = MultiHeadAttention(
            self.num_heads,
            self.hidden_dim // self.num_heads,
            dropout=self.attention_dropout,
            name="self_attention",
            **self._sublayer_kwargs(),
        )
        self.self_attention.build(shape, shape)
        self.self_attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="self_attention_norm",
        )
        self.self_attention_norm.build(shape)
        self.self_attention_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="self_attention_dropout"
        )
        self.feedforward_intermediate = keras.layers.Dense(
            self.intermediate_dim,
            activation=self.activation,
            name="feedforward_intermediate",
            **self._sublayer_kwargs(),
        )
        self.feedforward_intermediate.build(shape)
        self.feedforward_output = keras.layers.Dense(
            self.hidden_dim, name="feedforward_output", **self._sublayer_kwargs()
        )
        self.feedforward_output.build((None, None, self.intermediate_dim))
        self.feedforward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="feedforward_norm",
        )
        self.feedforward_norm.build(shape)
        self.feedforward_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="feedforward_dropout"
        )
        self.built = True

    def _residual(self, x, norm, sublayer, dropout, training):
        """Applies `sublayer` with dropout, residual and norm (pre or post)."""
        y = sublayer(norm(x) if self.norm_first else x)
        extra = ()
        if isinstance(y, tuple):
            y, *extra = y
        x = x + dropout(y, training=training)
        if not self.norm_first:
            x = norm(x)
        return (x, *extra) if extra else x

    def _feedforward(self, x, training):
        return self._residual(
            x,
            self.feedforward_norm,
            lambda h: self.feedforward_output(self.feedforward_intermediate(h)),
            self.feedforward_dropout,
            training,
        )

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        mask = padding_to_attention_mask(padding_mask)
        if attention_mask is not None:
            attention_mask = ops.cast(attention_mask, "bool")
            mask = attention_mask if mask is None else mask & attention_mask
        x = self._residual(
            inputs,
            self.self_attention_norm,
            lambda h: self.self_attention(
                h,
                h,
                attention_mask=mask,
                return_attention_scores=return_attention_scores,
                training=training,
            ),
            self.self_attention_dropout,
            training,
        )
        scores = None
        if return_attention_scores:
            x, scores = x
        x = self._feedforward(x, training)
        return (x, scores) if return_attention_scores else x

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation": keras.activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "norm_first": self.norm_first,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
