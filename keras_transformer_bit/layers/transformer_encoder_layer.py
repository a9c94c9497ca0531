"""One Transformer encoder block: self-attention and a feed-forward network."""

import keras

from keras_transformer_bit.layers import transformer_block_parts as parts


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class TransformerEncoderLayer(parts.TransformerBlock):
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

    Every sublayer gets its own copy of `kernel_initializer`, so no two
    kernels of a fresh layer are copies of each other.

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
        padding_mask: bool/int `(batch, length)`, 0/False at padding. A Keras
            implicit mask on `inputs` (e.g. from `Embedding(mask_zero=True)`)
            is used the same way, merged with this one.
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

    def build(self, inputs_shape):
        parts.check_width(self, inputs_shape)
        shape = (None, None, self.hidden_dim)
        self.self_attention = parts.build_attention(
            self, "self_attention", shape, shape
        )
        self.self_attention_norm = parts.build_norm(self, "self_attention_norm", shape)
        self.self_attention_dropout = parts.build_dropout(
            self, "self_attention_dropout"
        )
        parts.build_feedforward(self, shape)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        mask = parts.merge_padding_and_attention_mask(
            inputs, padding_mask, attention_mask
        )
        x = parts.residual(
            self,
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
        x = parts.feedforward(self, x, training)
        return (x, scores) if return_attention_scores else x
