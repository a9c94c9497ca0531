"""Which next tokens would make a stutter: one n-gram too many times in a row."""

from keras import ops

from keras_transformer_bit.samplers.no_repeat_ngram import banned_token_mask


def repeat_run_mask(token_ids, index, max_repeat_run, vocabulary_size):
    """Marks the next tokens that would repeat an n-gram too often in a row.

    A sequence holds tokens at positions `0..index` of `token_ids`. Token `t`
    is banned for position `index + 1` when the sequence would then end with
    `max_repeat_run + 1` back-to-back copies of one n-gram (the prompt
    included, as for `no_repeat_ngram_size`), for any `n`: with
    `max_repeat_run=2`, "very very" may follow, a third "very" may not, nor a
    third "1 2" after "1 2 1 2". Unlike `no_repeat_ngram_size`, n-grams that
    recur apart ("the ... the") stay allowed. The computation has static
    shapes (a comparison per period and position, then a scatter), so it runs
    inside a compiled decoding loop.

    Args:
        token_ids: int tensor `(batch, length)`, the token buffer.
        index: scalar int tensor, the position of the last token so far.
        max_repeat_run: int >= 1, the most back-to-back copies allowed.
        vocabulary_size: int, the width of the returned mask.

    Returns:
        bool `(batch, vocabulary_size)`: `True` for banned next tokens.

    Example:
    >>> import numpy as np
    >>> ids = np.array([[5, 1, 1, 0]])
    >>> mask = repeat_run_mask(ids, 2, 2, 6)  # a third 1 in a row
    >>> np.flatnonzero(keras.ops.convert_to_numpy(mask)[0]).tolist()
    [1]
    """
    token_ids = ops.cast(token_ids, "int32")
    index = ops.cast(index, "int32")
    length = token_ids.shape[1]
    copies = max_repeat_run + 1
    max_period = length // copies
    batch_size = ops.shape(token_ids)[0]
    if max_period < 1:
        return ops.zeros((batch_size, vocabulary_size), "bool")
    periods = ops.arange(1, max_period + 1, dtype="int32")[:, None]  # (P, 1)
    positions = ops.arange(length, dtype="int32")[None, :]  # (1, L)
    # same[b, p, j]: token j equals token j + p.
    shifted = ops.take(token_ids, ops.minimum(positions + periods, length - 1), axis=1)
    same = token_ids[:, None, :] == shifted
    # With t at index + 1, the last copies * p tokens are copies of one p-gram
    # when token j equals token j + p for every j from index + 2 - copies * p
    # to index - p (all known tokens), and t equals token index + 1 - p.
    first = index + 2 - copies * periods  # (P, 1)
    window = ops.logical_and(positions >= first, positions <= index - periods)
    runs = ops.all(ops.logical_or(same, ops.logical_not(window)[None]), axis=-1)
    runs = ops.logical_and(runs, (first >= 0)[None, :, 0])
    # The token that would end period p's run: the one p positions back.
    tokens = ops.take(token_ids, ops.maximum(index + 1 - periods[:, 0], 0), axis=1)
    return banned_token_mask(tokens, runs, vocabulary_size)
