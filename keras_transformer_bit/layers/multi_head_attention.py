"""Multi-head scaled dot-product attention with masks and a key/value cache."""

import math
import numbers

import keras
from keras import ops

from keras_transformer_bit.utils import check_positive_int


def _check_rate(name, value):
    if not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a float in [0, 1). Received: {name}={value}")


def _heads_first(x):
    """`(batch, length, heads, dim)` -> cache layout `(batch, heads, length, dim)`."""
    return ops.transpose(x, (0, 2, 1, 3))


def _split_cache(cache):
    """The `(keys, values)` of a pair or of a stacked `(batch, 2, ...)` cache."""
    if isinstance(cache, (tuple, list)):
        if len(cache) != 2:
            raise ValueError(
                "A key/value cache pair must hold 2 tensors (keys, values). "
                f"Received: a {type(cache).__name__} of {len(cache)}"
            )
        return cache[0], cache[1]
    if len(cache.shape) != 5 or cache.shape[1] != 2:
        raise ValueError(
            "A stacked key/value cache must have shape (batch, 2, num_heads, "
            f"length, head_dim). Received: cache with shape {cache.shape}"
        )
    return cache[:, 0], cache[:, 1]


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017, §3.2).

    Queries, keys and values are projected into `num_heads` heads of width
    `key_dim` (`value_dim` for values); each head computes
    `softmax(q k^T / sqrt(key_dim)) v` and the heads are concatenated and
    projected back to `output_dim`.

    Masks are merged in one place (`_compute_attention_mask`): the explicit
    `attention_mask` (padding) and, with `use_causal_mask=True`, a causal mask
    in which query `i` sees key `j` only when `j <= i + cache_update_index`.
    The softmax runs in float32 so that masked positions get exactly zero
    weight under mixed precision too.

    Key/value cache. Cached keys and values are kept head-major, `(batch,
    num_heads, length, head_dim)`, the layout both attention products read
    directly (no transposes of the cache). `cache` is either a `(keys,
    values)` pair of such tensors (the fast form that generation loops carry)
    or one stacked tensor `(batch, 2, num_heads, length, head_dim)` with keys
    in `cache[:, 0]` and values in `cache[:, 1]`; the returned cache has the
    form that was passed in.

    - with `cache_update_index`, the keys/values of the given step(s) are
      projected and written into the cache at that position along the length
      axis with `ops.slice_update` (an in-place update under XLA), and
      attention runs over the whole cache (cache slots after the current step
      must be hidden, by `use_causal_mask=True` or by `attention_mask`);
      returns `(output, new_cache)`;
    - without `cache_update_index`, the cached keys/values are used as they are
      (precomputed cross-attention, see `compute_key_value_cache`); returns
      `(output, cache)`.

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Width of each query/key head.
        value_dim: int. Width of each value head. Defaults to `key_dim`. The
            cache needs `value_dim == key_dim`.
        dropout: float in [0, 1). Dropout on the attention probabilities.
            Defaults to `0.0`.
        use_bias: bool. Whether the projections have biases. Defaults to `True`.
        output_dim: int. Width of the output. Defaults to the width of `query`.
        kernel_initializer: initializer of the projection kernels. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer of the projection biases. Defaults to
            `"zeros"`.
        **kwargs: base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        query: `(batch, target_length, query_dim)`.
        value: `(batch, source_length, value_dim_in)`. May be `None` when a
            cache without `cache_update_index` supplies keys and values.
        key: `(batch, source_length, key_dim_in)`. Defaults to `value`.
        attention_mask: bool/int tensor broadcastable to `(batch, target_length,
            source_length)`; `True`/1 means "may attend". For a padding mask
            over keys pass `padding_mask[:, None, :]`.
        use_causal_mask: bool. Hide future positions. Defaults to `False`.
        cache: optional key/value cache: a `(keys, values)` pair or a stacked
            tensor, see above.
        cache_update_index: optional int or scalar int tensor, see above.
        return_attention_scores: bool. Also return the attention probabilities
            `(batch, num_heads, target_length, source_length)`. Defaults to
            `False`.
        training: bool. Enables attention dropout.

    Returns:
        `output`, then the attention scores when `return_attention_scores`,
        then the cache when `cache` is given; a tuple when more than one.

    Example:
    >>> attention = keras_transformer_bit.layers.MultiHeadAttention(
    ...     num_heads=2, key_dim=8)
    >>> x = keras.ops.ones((2, 5, 16))
    >>> tuple(attention(x, x, use_causal_mask=True).shape)
    (2, 5, 16)

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §3.2.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_dim=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int("num_heads", num_heads)
        check_positive_int("key_dim", key_dim)
        if value_dim is not None:
            check_positive_int("value_dim", value_dim)
        if output_dim is not None:
            check_positive_int("output_dim", output_dim)
        _check_rate("dropout", dropout)
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.output_dim = output_dim
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _projection(self, name, heads_dim):
        return keras.layers.EinsumDense(
            "btd,dhk->bthk",
            output_shape=(None, self.num_heads, heads_dim),
            bias_axes="hk" if self.use_bias else None,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = value_shape or query_shape
        key_shape = key_shape or value_shape
        value_dim = self.value_dim or self.key_dim
        self.query_dense = self._projection("query", self.key_dim)
        self.query_dense.build(query_shape)
        self.key_dense = self._projection("key", self.key_dim)
        self.key_dense.build(key_shape)
        self.value_dense = self._projection("value", value_dim)
        self.value_dense.build(value_shape)
        self.output_dense = keras.layers.EinsumDense(
            "bthk,hkd->btd",
            output_shape=(None, self.output_dim or query_shape[-1]),
            bias_axes="d" if self.use_bias else None,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="attention_output",
        )
        self.output_dense.build((None, None, self.num_heads, value_dim))
        self.dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_dropout"
        )
        self.built = True

    def compute_key_value_cache(self, value, key=None):
        """Projects `key`/`value` once, e.g. the encoder output for cross-attention.

        Args:
            value: `(batch, source_length, dim)`.
            key: `(batch, source_length, dim)`. Defaults to `value`.

        Returns:
            A stacked `(batch, 2, num_heads, source_length, key_dim)` cache;
            `cache[:, 0]` and `cache[:, 1]` form the equivalent `(keys,
            values)` pair.
        """
        key = value if key is None else key
        return ops.stack(
            [_heads_first(self.key_dense(key)), _heads_first(self.value_dense(value))],
            axis=1,
        )

    def _compute_attention_mask(
        self,
        query_length,
        key_length,
        attention_mask=None,
        use_causal_mask=False,
        cache_update_index=None,
    ):
        """Merges padding and causal masks into one `(batch|1, T|1, S)` bool mask."""
        mask = None
        if attention_mask is not None:
            if len(attention_mask.shape) != 3:
                raise ValueError(
                    "attention_mask must have rank 3, broadcastable to (batch, "
                    "target_length, source_length). Received: attention_mask "
                    f"with shape {attention_mask.shape}"
                )
            mask = ops.cast(attention_mask, "bool")
        if use_causal_mask:
            offset = 0 if cache_update_index is None else cache_update_index
            query_positions = ops.arange(query_length) + ops.cast(offset, "int32")
            key_positions = ops.arange(key_length)
            causal = ops.greater_equal(
                query_positions[:, None], key_positions[None, :]
            )[None]
            mask = causal if mask is None else ops.logical_and(mask, causal)
        return mask

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
    ):
        if cache_update_index is not None and cache is None:
            raise ValueError(
                "cache_update_index needs a cache. Received: cache=None, "
                f"cache_update_index={cache_update_index}"
            )
        query_heads = self.query_dense(query)
        if cache is not None:
            key_heads, value_heads = _split_cache(cache)
            if cache_update_index is not None:
                key = value if key is None else key
                new_keys = _heads_first(self.key_dense(key))
                new_values = _heads_first(self.value_dense(value))
                if isinstance(cache, (tuple, list)):
                    start = [0, 0, cache_update_index, 0]
                    key_heads = ops.slice_update(
                        key_heads, start, ops.cast(new_keys, key_heads.dtype)
                    )
                    value_heads = ops.slice_update(
                        value_heads, start, ops.cast(new_values, value_heads.dtype)
                    )
                    cache = (key_heads, value_heads)
                else:
                    # One update of the stacked tensor; no re-stacking copy.
                    new_entries = ops.stack([new_keys, new_values], axis=1)
                    cache = ops.slice_update(
                        cache,
                        [0, 0, 0, cache_update_index, 0],
                        ops.cast(new_entries, cache.dtype),
                    )
                    key_heads, value_heads = cache[:, 0], cache[:, 1]
            key_equation, length_axis = "bhsk", 2
        else:
            key = value if key is None else key
            key_heads = self.key_dense(key)
            value_heads = self.value_dense(value)
            key_equation, length_axis = "bshk", 1

        mask = self._compute_attention_mask(
            ops.shape(query_heads)[1],
            ops.shape(key_heads)[length_axis],
            attention_mask,
            use_causal_mask,
            cache_update_index,
        )
        query_heads = query_heads * ops.cast(
            1.0 / math.sqrt(self.key_dim), query_heads.dtype
        )
        scores = ops.einsum(f"bthk,{key_equation}->bhts", query_heads, key_heads)
        # Softmax in float32: -1e9 and exp() of it are exact zeros there.
        scores = ops.cast(scores, "float32")
        if mask is not None:
            scores = ops.where(mask[:, None, :, :], scores, -1e9)
        probabilities = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        dropped = self.dropout_layer(probabilities, training=training)
        attended = ops.einsum(f"bhts,{key_equation}->bthk", dropped, value_heads)
        output = self.output_dense(attended)

        outputs = [output]
        if return_attention_scores:
            outputs.append(probabilities)
        if cache is not None:
            outputs.append(cache)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return tuple(query_shape[:-1]) + (self.output_dim or query_shape[-1],)

    def compute_output_spec(
        self,
        query,
        value=None,
        key=None,
        attention_mask=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
        return_attention_scores=False,
        training=None,
    ):
        outputs = [
            keras.KerasTensor(
                self.compute_output_shape(query.shape), dtype=self.compute_dtype
            )
        ]
        if return_attention_scores:
            if isinstance(cache, (tuple, list)):
                key_length = cache[0].shape[2]
            elif cache is not None:
                key_length = cache.shape[3]
            else:
                key_length = (value if key is None else key).shape[1]
            outputs.append(
                keras.KerasTensor(
                    (query.shape[0], self.num_heads, query.shape[1], key_length),
                    dtype=self.compute_dtype,
                )
            )
        if cache is not None:
            outputs.append(
                keras.tree.map_structure(
                    lambda x: keras.KerasTensor(x.shape, dtype=x.dtype), cache
                )
            )
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_dim,
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_dim": self.output_dim,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
