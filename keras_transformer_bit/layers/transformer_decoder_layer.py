"""One Transformer decoder block: causal self-attention, cross-attention, FFN."""

import keras

from keras_transformer_bit.layers import transformer_block_parts as parts


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class TransformerDecoderLayer(parts.TransformerBlock):
    """Causal self-attention, cross-attention and a feed-forward network (§3.1).

    Has the arguments, residual wiring and feed-forward network of
    `TransformerEncoderLayer` (both build them from
    `transformer_block_parts`) and adds a cross-attention sub-layer over the
    encoder output. As there, `norm_first=False` is the paper's post-LN
    (`x = norm(x + sublayer(x))`) and `norm_first=True`, the default, is pre-LN
    (`x = x + sublayer(norm(x))`), which keeps an identity residual path and
    trains deep stacks stably without a long warm-up (Xiong et al. 2020).

    For incremental decoding pass `self_attention_cache` (with
    `self_attention_cache_update_index`) and `cross_attention_cache` in a
    `MultiHeadAttention` cache form: a `(keys, values)` pair of `(batch,
    num_heads, length, head_dim)` tensors, or one stacked `(batch, 2,
    num_heads, length, head_dim)` tensor. Each cache is returned in the form
    it was given. When a cache is given and `cross_attention_cache` is `None`,
    the cross-attention cache is computed from `encoder_sequence` (stacked
    form) and returned.

    Args:
        hidden_dim: int. Width of the inputs and outputs (`d_model`).
        intermediate_dim: int. Width of the feed-forward hidden layer (`d_ff`).
        num_heads: int. Number of attention heads; must divide `hidden_dim`.
        dropout: float in [0, 1). Dropout on each sub-layer output before the
            residual addition. Defaults to `0.1`.
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
        decoder_sequence: `(batch, target_length, hidden_dim)`.
        encoder_sequence: `(batch, source_length, hidden_dim)`; may be `None`
            when `cross_attention_cache` is given.
        decoder_padding_mask: bool/int `(batch, target_length)`.
        encoder_padding_mask: bool/int `(batch, source_length)`. Keras
            implicit masks on `decoder_sequence` and `encoder_sequence` (e.g.
            from `Embedding(mask_zero=True)`) are merged with these.
        self_attention_cache: `(batch, 2, num_heads, max_length, head_dim)`
            or a `(keys, values)` pair of `(batch, num_heads, max_length,
            head_dim)`.
        self_attention_cache_update_index: int or scalar int tensor; position of
            the first element of `decoder_sequence`.
        cross_attention_cache: `(batch, 2, num_heads, source_length,
            head_dim)` or a `(keys, values)` pair.
        use_causal_mask: bool. Defaults to `True`.
        return_attention_scores: bool. Also return the self- and
            cross-attention probabilities.
        training: bool. Enables dropout.

    Returns:
        `outputs`; followed by `self_attention_scores, cross_attention_scores`
        when `return_attention_scores`; followed by `self_attention_cache,
        cross_attention_cache` when a cache is given.

    Example:
    >>> layer = keras_transformer_bit.layers.TransformerDecoderLayer(
    ...     hidden_dim=16, intermediate_dim=32, num_heads=2)
    >>> x = keras.ops.ones((2, 5, 16))
    >>> tuple(layer(x, encoder_sequence=keras.ops.ones((2, 3, 16))).shape)
    (2, 5, 16)
    """

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        parts.check_width(self, decoder_sequence_shape)
        shape = (None, None, self.hidden_dim)
        self.self_attention = parts.build_attention(
            self, "self_attention", shape, shape
        )
        self.self_attention_norm = parts.build_norm(self, "self_attention_norm", shape)
        self.self_attention_dropout = parts.build_dropout(
            self, "self_attention_dropout"
        )
        self.cross_attention = parts.build_attention(
            self, "cross_attention", shape, encoder_sequence_shape or shape
        )
        self.cross_attention_norm = parts.build_norm(
            self, "cross_attention_norm", shape
        )
        self.cross_attention_dropout = parts.build_dropout(
            self, "cross_attention_dropout"
        )
        parts.build_feedforward(self, shape)
        self.built = True

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        encoder_padding_mask=None,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        use_causal_mask=True,
        return_attention_scores=False,
        training=None,
    ):
        use_cache = self_attention_cache is not None or (
            cross_attention_cache is not None
        )
        if encoder_sequence is None and cross_attention_cache is None:
            raise ValueError(
                "TransformerDecoderLayer needs encoder_sequence or "
                "cross_attention_cache. Received: encoder_sequence=None, "
                "cross_attention_cache=None"
            )
        if use_cache and cross_attention_cache is None:
            cross_attention_cache = self.cross_attention.compute_key_value_cache(
                encoder_sequence
            )

        self_attention_mask = parts.merge_padding_and_attention_mask(
            decoder_sequence, decoder_padding_mask
        )
        cross_attention_mask = parts.merge_padding_and_attention_mask(
            encoder_sequence, encoder_padding_mask
        )

        def self_attention(h):
            return self.self_attention(
                h,
                h,
                attention_mask=self_attention_mask,
                use_causal_mask=use_causal_mask,
                cache=self_attention_cache,
                cache_update_index=self_attention_cache_update_index,
                return_attention_scores=return_attention_scores,
                training=training,
            )

        x = parts.residual(
            self,
            decoder_sequence,
            self.self_attention_norm,
            self_attention,
            self.self_attention_dropout,
            training,
        )
        x, self_scores, self_attention_cache = _split_attention_output(
            x, return_attention_scores, self_attention_cache
        )

        def cross_attention(h):
            return self.cross_attention(
                h,
                encoder_sequence,
                attention_mask=cross_attention_mask,
                cache=cross_attention_cache,
                return_attention_scores=return_attention_scores,
                training=training,
            )

        x = parts.residual(
            self,
            x,
            self.cross_attention_norm,
            cross_attention,
            self.cross_attention_dropout,
            training,
        )
        x, cross_scores, _ = _split_attention_output(
            x, return_attention_scores, cross_attention_cache
        )

        x = parts.feedforward(self, x, training)
        outputs = [x]
        if return_attention_scores:
            outputs += [self_scores, cross_scores]
        if use_cache:
            outputs += [self_attention_cache, cross_attention_cache]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _split_attention_output(output, return_attention_scores, cache):
    """Unpacks `MultiHeadAttention`'s output, [scores], [cache] into a triple.

    Missing scores come back as `None`; a missing cache comes back as `cache`.
    """
    if return_attention_scores and cache is not None:
        return output
    if return_attention_scores:
        output, scores = output
        return output, scores, cache
    if cache is not None:
        output, cache = output
        return output, None, cache
    return output, None, cache
