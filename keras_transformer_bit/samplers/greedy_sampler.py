"""Greedy decoding: the most likely token at every step."""

from keras import ops

from keras_transformer_bit.samplers.sampler import Sampler


class GreedySampler(Sampler):
    """Picks the highest-scoring token at every step.

    See `Sampler` for the step function contract and the call arguments.

    Example:
    >>> import numpy as np
    >>> table = np.log(np.array([[.1, .2, .7], [.6, .3, .1], [.2, .5, .3]]))
    >>> def next_fn(token_ids, index, state):
    ...     last = ops.take(token_ids, index, axis=1)
    ...     return ops.take(table, last, axis=0), state
    >>> ids, scores = GreedySampler()(next_fn, np.zeros((1, 4), "int32"))
    >>> ops.convert_to_numpy(ids).tolist()
    [[0, 2, 1, 0]]
    """

    def select(self, logits):
        return ops.argmax(logits, axis=-1)
