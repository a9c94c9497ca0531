"""Which next tokens would repeat an n-gram a sequence already holds."""

from keras import ops

from keras_transformer_bit.utils import check_non_negative_int


def check_guard_setting(name, value):
    """A decoding guard's setting (`no_repeat_ngram_size`, `max_repeat_run`):
    `None` or `0` (no constraint: returns `None`) or a positive int (returns
    it as a Python int); anything else raises a `SettingError` naming `name`."""
    if value is None:
        return None
    return check_non_negative_int(name, value) or None


def repeated_ngram_mask(token_ids, index, ngram_size, vocabulary_size):
    """Marks the next tokens that would repeat an n-gram of the sequence so far.

    A sequence holds tokens at positions `0..index` of `token_ids`. Choosing
    token `t` for position `index + 1` completes the n-gram `token_ids[index -
    n + 2 : index + 1] + [t]`; it is banned when that n-gram already occurs
    inside positions `0..index`. With `ngram_size=1` no token may appear twice.
    The computation has static shapes (one comparison per n-gram position and
    a scatter), so it runs inside a compiled decoding loop.

    Args:
        token_ids: int tensor `(batch, length)`, the token buffer.
        index: scalar int tensor, the position of the last token so far.
        ngram_size: int >= 1, the `n`.
        vocabulary_size: int, the width of the returned mask.

    Returns:
        bool `(batch, vocabulary_size)`: `True` for banned next tokens.

    Example:
    >>> import numpy as np
    >>> ids = np.array([[1, 2, 3, 1, 2, 0]])
    >>> mask = repeated_ngram_mask(ids, 4, 3, 5)  # "1 2" was followed by 3
    >>> np.flatnonzero(keras.ops.convert_to_numpy(mask)[0]).tolist()
    [3]
    """
    token_ids = ops.cast(token_ids, "int32")
    index = ops.cast(index, "int32")
    context = ngram_size - 1
    length = token_ids.shape[1]
    starts = length - context
    if starts <= 0:
        return ops.zeros((ops.shape(token_ids)[0], vocabulary_size), "bool")
    # The n-gram starting at p is token_ids[p : p + context] followed by
    # token_ids[p + context]; it is complete when p + context <= index.
    following = token_ids[:, context:]
    matches = ops.arange(starts, dtype="int32")[None, :] + context <= index
    for offset in range(context):
        suffix_position = ops.maximum(index - context + 1 + offset, 0)
        suffix_token = ops.take(token_ids, suffix_position, axis=1)
        window = token_ids[:, offset : offset + starts]
        matches = ops.logical_and(matches, window == suffix_token[:, None])
    return banned_token_mask(following, matches, vocabulary_size)


def banned_token_mask(tokens, banned, vocabulary_size):
    """The `(batch, vocabulary_size)` bool mask of the `tokens` (int32
    `(batch, n)`) whose `banned` flag (bool `(batch, n)`) is set, by one
    scatter with static shapes."""
    batch_size = ops.shape(tokens)[0]
    rows = ops.broadcast_to(
        ops.arange(batch_size, dtype="int32")[:, None], ops.shape(tokens)
    )
    # Tokens that are not banned point at an extra column that is dropped.
    columns = ops.where(banned, tokens, vocabulary_size)
    pairs = ops.reshape(ops.stack([rows, columns], axis=-1), (-1, 2))
    counts = ops.scatter(
        pairs,
        ops.ones((batch_size * tokens.shape[1],), "int32"),
        (batch_size, vocabulary_size + 1),
    )
    return counts[:, :vocabulary_size] > 0
