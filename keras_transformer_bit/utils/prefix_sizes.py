"""The prefix lengths of a position buffer that cached decoding touches."""

from keras import ops

# Powers of two: a step at position i touches the smallest that covers i + 1.
PREFIX_SIZES = (8, 16, 32, 64, 128, 256)


def prefix_sizes(length):
    """The prefix lengths to read of a buffer of `length` positions.

    Cached decoding writes one position of its key/value caches per step, so
    step `i` needs only the first `i + 1`. Reading (or reordering) the
    smallest of these prefixes that covers them, instead of the whole buffer,
    keeps each step's memory traffic near what was written; one static shape
    per prefix lets `tf.function` and XLA compile every branch.

    Args:
        length: int or None. The buffer's static length.

    Returns:
        The ascending prefix lengths, the last being `length`; `[length]` when
        no prefix is shorter (or `[None]` for an unknown length).

    Example:
    >>> prefix_sizes(49)
    [8, 16, 32, 49]
    >>> prefix_sizes(5)
    [5]
    """
    if length is None:
        return [None]
    return [n for n in PREFIX_SIZES if n < length] + [length]


def prefix_index(end, sizes):
    """Which of `sizes` is the first to cover `end` positions (a tensor)."""
    end = ops.cast(end, "int32")
    return sum(ops.cast(end > n, "int32") for n in sizes[:-1])
