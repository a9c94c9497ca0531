"""Top-k sampling (Fan et al. 2018)."""

from keras import ops

from keras_transformer_bit.samplers.sampler import RandomSampler
from keras_transformer_bit.utils import check_positive_int


class TopKSampler(RandomSampler):
    """Samples the next token from the `k` most likely ones.

    The logits (divided by `temperature`) of all but the `k` highest-scoring
    tokens are dropped and the next token is drawn from the softmax of the
    rest. See `Sampler` for the step function contract and the call arguments.

    Args:
        k: int. How many of the top tokens may be drawn. Defaults to `10`.
        temperature: float in `[0.001, 1000]`. Defaults to `1.0`.
        no_repeat_ngram_size: int or `None`. Never choose a token that
            repeats an n-gram of this size (see `Sampler`). Defaults to `None`.
        max_repeat_run: int or `None`. Never choose a token that makes one
            n-gram occur more than this many times in a row (see `Sampler`).
            Defaults to `None`.
        seed: int or `None`. With an int, every call restarts the same random
            stream, so results are reproducible. Defaults to `None`.

    Example:
    >>> import numpy as np
    >>> def next_fn(token_ids, index, state):
    ...     return ops.convert_to_tensor([[0.0, 1.0, 5.0, 4.0]]), state
    >>> ids, _ = TopKSampler(k=2, seed=1)(next_fn, np.zeros((1, 6), "int32"))
    >>> set(ops.convert_to_numpy(ids)[0, 1:].tolist()) <= {2, 3}
    True

    References:
        Fan et al., 2018. Hierarchical Neural Story Generation.
    """

    def __init__(
        self,
        k=10,
        temperature=1.0,
        seed=None,
        no_repeat_ngram_size=None,
        max_repeat_run=None,
    ):
        super().__init__(
            temperature=temperature,
            seed=seed,
            no_repeat_ngram_size=no_repeat_ngram_size,
            max_repeat_run=max_repeat_run,
        )
        self.k = check_positive_int("k", k)

    def select(self, logits):
        top_logits, top_indices = ops.top_k(
            logits, k=min(self.k, logits.shape[-1]), sorted=False
        )
        choice = self.draw(top_logits)
        return ops.take_along_axis(top_indices, choice[:, None], axis=-1)[:, 0]

    def get_config(self):
        return {**super().get_config(), "k": self.k}
