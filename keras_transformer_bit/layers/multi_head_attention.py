"""Keras' multi-head attention with a head-major key/value cache."""

import contextlib

import keras
from keras import ops

# Keras keeps its implicit-mask accessors out of the public API; its own
# MultiHeadAttention clears the masks of its inputs with them, and so do we, so
# that the projections do not warn that they drop a mask.
from keras.src.backend import get_keras_mask, set_keras_mask

from keras_transformer_bit.utils import (
    check_positive_int,
    check_rate,
    clone_initializer,
)


def _heads_first(x):
    """`(batch, length, heads, dim)` -> cache layout `(batch, heads, length, dim)`."""
    return ops.transpose(x, (0, 2, 1, 3))


@contextlib.contextmanager
def _masks_set_aside(tensors):
    """Takes the Keras masks off `tensors` for a block and puts them back.

    The projections do not take masks (they would warn that they drop them);
    the caller's tensors keep theirs, e.g. an encoder output that the next
    decoder layer reads again.
    """
    tensors = [x for x in tensors if x is not None]
    masks = [get_keras_mask(x) for x in tensors]
    for x in tensors:
        set_keras_mask(x, None)
    try:
        yield
    finally:
        for x, mask in zip(tensors, masks):
            if mask is not None:
                set_keras_mask(x, mask)


def all_of(masks):
    """The logical AND of a list of broadcastable bool masks; `None` if empty."""
    if not masks:
        return None
    merged = ops.cast(masks[0], "bool")
    for mask in masks[1:]:
        merged = ops.logical_and(merged, ops.cast(mask, "bool"))
    return merged


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
class MultiHeadAttention(keras.layers.MultiHeadAttention):
    """Multi-head scaled dot-product attention with a key/value cache (§3.2).

    A subclass of `keras.layers.MultiHeadAttention`: projections, independent
    initializers for each projection, seeded attention dropout, Keras
    implicit masks and `ops.dot_product_attention` come from Keras. This layer
    adds what fast generation needs, a key/value cache, and computes the
    softmax in float32 so that masked positions get exactly zero weight under
    mixed precision too.

    Masks are merged in one place, `_compute_attention_mask`: the Keras masks
    of `query`, `value` and `key` (e.g. from `Embedding(mask_zero=True)`),
    the explicit `attention_mask` (padding) and, with `use_causal_mask=True`,
    a causal mask in which query `i` sees key `j` only when
    `j <= i + cache_update_index`. Attention itself is computed in one place,
    `_compute_attention`.

    Key/value cache. Cached keys and values are kept head-major, `(batch,
    num_heads, length, head_dim)`, the layout both attention products read
    directly (no transposes of the cache in a decoding step). `cache` is
    either a `(keys, values)` pair of such tensors (the fast form that
    generation loops carry) or one stacked tensor `(batch, 2, num_heads,
    length, head_dim)` with keys in `cache[:, 0]` and values in
    `cache[:, 1]`; the returned cache has the form that was passed in.

    - with `cache_update_index`, the keys/values of the given step(s) are
      projected and written into the cache at that position along the length
      axis with `ops.slice_update` (an in-place update under XLA), and
      attention runs over the whole cache (cache slots after the current step
      must be hidden, by `use_causal_mask=True` or by `attention_mask`);
      returns `(output, new_cache)`;
    - without `cache_update_index`, the cached keys/values are used as they are
      (precomputed cross-attention, see `compute_key_value_cache`); returns
      `(output, cache)`.

    With a cache, the Keras masks of `value` and `key` are not used (they
    describe the new step, not the cache); pass `attention_mask` instead.

    Args:
        num_heads: int. Number of attention heads.
        key_dim: int. Width of each query/key head.
        value_dim: int. Width of each value head. Defaults to `key_dim`. The
            cache needs `value_dim == key_dim`.
        dropout: float in [0, 1). Dropout on the attention probabilities.
            Defaults to `0.0`.
        use_bias: bool. Whether the projections have biases. Defaults to `True`.
        output_dim: int. Width of the output. Defaults to the width of `query`.
        kernel_initializer: initializer of the projection kernels; each
            projection gets its own copy. Defaults to `"glorot_uniform"`.
        bias_initializer: initializer of the projection biases. Defaults to
            `"zeros"`.
        **kwargs: other `keras.layers.MultiHeadAttention` arguments (`seed`,
            regularizers, constraints) and base layer keyword arguments
            (`name`, `dtype`, ...).

    Call arguments:
        query: `(batch, target_length, query_dim)`.
        value: `(batch, source_length, value_dim_in)`. May be `None` when a
            cache without `cache_update_index` supplies keys and values.
        key: `(batch, source_length, key_dim_in)`. Defaults to `value`.
        query_mask, value_mask, key_mask: bool `(batch, length)` masks; filled
            in by Keras from the inputs' implicit masks.
        attention_mask: bool/int tensor broadcastable to `(batch, target_length,
            source_length)`; `True`/1 means "may attend". For a padding mask
            over keys pass `padding_mask[:, None, :]`.
        return_attention_scores: bool. Also return the attention probabilities
            `(batch, num_heads, target_length, source_length)`. Defaults to
            `False`.
        training: bool. Enables attention dropout.
        use_causal_mask: bool. Hide future positions. Defaults to `False`.
        cache: optional key/value cache: a `(keys, values)` pair or a stacked
            tensor, see above.
        cache_update_index: optional int or scalar int tensor, see above.

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
        check_positive_int("num_heads", num_heads)
        check_positive_int("key_dim", key_dim)
        if value_dim is not None:
            check_positive_int("value_dim", value_dim)
        # Keras' own config names the output width `output_shape`.
        output_shape = kwargs.pop("output_shape", None)
        if output_dim is None and output_shape:
            output_shape = tuple(keras.tree.flatten(output_shape))
            if len(output_shape) != 1:
                raise ValueError(
                    "MultiHeadAttention outputs (batch, length, output_dim); "
                    f"Received: output_shape={output_shape}"
                )
            output_dim = output_shape[0]
        if output_dim is not None:
            check_positive_int("output_dim", output_dim)
        check_rate("dropout", dropout)
        super().__init__(
            num_heads=int(num_heads),
            key_dim=int(key_dim),
            value_dim=None if value_dim is None else int(value_dim),
            dropout=float(dropout),
            use_bias=use_bias,
            output_shape=None if output_dim is None else int(output_dim),
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            **kwargs,
        )
        self.output_dim = output_dim

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        self._sublayers_made = 0
        super().build(query_shape, value_shape, key_shape)

    def _get_common_kwargs_for_sublayer(self):
        # Keras clones the initializers for each projection, but a clone of a
        # seeded initializer keeps its seed, which would make the query, key
        # and value kernels equal; each projection gets a seed of its own.
        kwargs = super()._get_common_kwargs_for_sublayer()
        salt = f"projection_{self._sublayers_made}"
        self._sublayers_made += 1
        kwargs["kernel_initializer"] = clone_initializer(self._kernel_initializer, salt)
        kwargs["bias_initializer"] = clone_initializer(self._bias_initializer, salt)
        return kwargs

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
            [
                _heads_first(self._key_dense(key)),
                _heads_first(self._value_dense(value)),
            ],
            axis=1,
        )

    def _compute_attention_mask(
        self,
        query,
        value,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        use_causal_mask=False,
        cache_update_index=None,
        key_length=None,
    ):
        """Merges every mask into one bool mask broadcastable to `(B, T, S)`.

        Args:
            query: `(batch, target_length, ...)`.
            value: `(batch, source_length, ...)`; only its length is used, and
                only when `key_length` is not given.
            query_mask, value_mask, key_mask: Keras implicit masks or `None`.
            attention_mask: explicit rank-3 mask or `None`.
            use_causal_mask: bool.
            cache_update_index: position of the first query (cached decoding).
            key_length: number of keys (the cache length when cached).

        Returns:
            A bool mask of rank 3, or `None` when nothing is masked.
        """
        masks = []
        if attention_mask is not None:
            if len(attention_mask.shape) != 3:
                raise ValueError(
                    "attention_mask must have rank 3, broadcastable to (batch, "
                    "target_length, source_length). Received: attention_mask "
                    f"with shape {attention_mask.shape}"
                )
            masks.append(ops.cast(attention_mask, "bool"))
        if query_mask is not None:
            masks.append(ops.cast(query_mask, "bool")[:, :, None])
        for mask in (value_mask, key_mask):
            if mask is not None:
                masks.append(ops.cast(mask, "bool")[:, None, :])
        if use_causal_mask:
            if key_length is None:
                key_length = ops.shape(value)[1]
            offset = 0 if cache_update_index is None else cache_update_index
            query_positions = ops.arange(ops.shape(query)[1]) + ops.cast(
                offset, "int32"
            )
            key_positions = ops.arange(key_length)
            masks.append(
                ops.greater_equal(query_positions[:, None], key_positions[None, :])[
                    None
                ]
            )
        return all_of(masks)

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        heads_first=False,
    ):
        """Scaled dot-product attention over projected heads.

        Args:
            query: `(batch, target_length, num_heads, key_dim)`.
            key, value: `(batch, source_length, num_heads, dim)`, or head-major
                `(batch, num_heads, source_length, dim)` when `heads_first`
                (a cache).
            attention_mask: bool mask broadcastable to `(batch, target_length,
                source_length)`, or `None`.
            training: bool. Enables attention dropout.
            return_attention_scores: bool.
            heads_first: bool. The layout of `key` and `value`.

        Returns:
            `(attention_output, attention_scores)`: `(batch, target_length,
            num_heads, value_dim)` and the float probabilities `(batch,
            num_heads, target_length, source_length)` (`None` unless asked
            for).
        """
        dropout_active = bool(training) and self._dropout > 0
        if not (heads_first or return_attention_scores or dropout_active):
            mask = None if attention_mask is None else attention_mask[:, None]
            output = ops.dot_product_attention(
                query,
                key,
                value,
                mask=mask,
                scale=self._inverse_sqrt_key_dim,
            )
            return output, None
        key_equation = "bhsk" if heads_first else "bshk"
        query = query * ops.cast(self._inverse_sqrt_key_dim, query.dtype)
        scores = ops.einsum(f"bthk,{key_equation}->bhts", query, key)
        # Softmax in float32: -1e9 and exp() of it are exact zeros there.
        scores = ops.cast(scores, "float32")
        if attention_mask is not None:
            scores = ops.where(attention_mask[:, None, :, :], scores, -1e9)
        probabilities = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        dropped = self._dropout_layer(probabilities, training=training)
        output = ops.einsum(f"bhts,{key_equation}->bthk", dropped, value)
        return output, probabilities if return_attention_scores else None

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        if cache_update_index is not None and cache is None:
            raise ValueError(
                "cache_update_index needs a cache. Received: cache=None, "
                f"cache_update_index={cache_update_index}"
            )
        if query_mask is None:
            query_mask = get_keras_mask(query)
        with _masks_set_aside([query, value, key]):
            query_heads = self._query_dense(query)
            if cache is not None:
                key_heads, value_heads = _split_cache(cache)
                if cache_update_index is not None:
                    key = value if key is None else key
                    new_keys = _heads_first(self._key_dense(key))
                    new_values = _heads_first(self._value_dense(value))
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
                # The masks of the new step do not describe the cache.
                value_mask = key_mask = None
                heads_first, key_length = True, ops.shape(key_heads)[2]
            else:
                key = value if key is None else key
                if key is value:
                    key_mask = None
                key_heads = self._key_dense(key)
                value_heads = self._value_dense(value)
                heads_first, key_length = False, ops.shape(key_heads)[1]

            mask = self._compute_attention_mask(
                query,
                value,
                query_mask=query_mask,
                value_mask=value_mask,
                key_mask=key_mask,
                attention_mask=attention_mask,
                use_causal_mask=use_causal_mask,
                cache_update_index=cache_update_index,
                key_length=key_length,
            )
            attended, scores = self._compute_attention(
                query_heads,
                key_heads,
                value_heads,
                mask,
                training=training,
                return_attention_scores=return_attention_scores,
                heads_first=heads_first,
            )
            output = self._output_dense(attended)
            if query_mask is not None:
                set_keras_mask(output, query_mask)

            outputs = [output]
            if return_attention_scores:
                outputs.append(scores)
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
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
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
        config = super().get_config()
        del config["output_shape"]
        return {**config, "output_dim": self.output_dim}
