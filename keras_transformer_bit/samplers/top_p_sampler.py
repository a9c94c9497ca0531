"""Nucleus (top-p) sampling (Holtzman et al. 2020)."""

import numbers

from keras import ops

from keras_transformer_bit.samplers.sampler import RandomSampler
from keras_transformer_bit.utils import SettingError


def check_probability(key, value):
    """Returns `value` as a float in `(0, 1]`, or raises a `SettingError`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0 < value <= 1
    ):
        raise SettingError(
            lambda name: (
                f"{name(key)} must be a float in (0, 1]. "
                f"Received: {name(key)}={value!r}"
            )
        )
    return float(value)


class TopPSampler(RandomSampler):
    """Samples the next token from the smallest set holding probability `p`.

    Tokens are sorted by probability (after dividing the logits by
    `temperature`); a token stays a candidate when the probability of the
    tokens ranked above it is below `p`, so the most likely token always
    stays. The next token is drawn from the renormalised candidates. See
    `Sampler` for the step function contract and the call arguments.

    Args:
        p: float in `(0, 1]`. The probability mass to keep. Defaults to `0.9`.
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
    ...     return ops.log(ops.convert_to_tensor([[0.05, 0.6, 0.3, 0.05]])), state
    >>> ids, _ = TopPSampler(p=0.8, seed=1)(next_fn, np.zeros((1, 6), "int32"))
    >>> set(ops.convert_to_numpy(ids)[0, 1:].tolist()) <= {1, 2}
    True

    References:
        Holtzman et al., 2020. The Curious Case of Neural Text Degeneration.
    """

    def __init__(
        self,
        p=0.9,
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
        self.p = check_probability("p", p)

    def select(self, logits):
        vocabulary_size = logits.shape[-1]
        sorted_logits, sorted_indices = ops.top_k(logits, k=vocabulary_size)
        sorted_probabilities = ops.softmax(sorted_logits, axis=-1)
        mass_above = ops.cumsum(sorted_probabilities, axis=-1) - sorted_probabilities
        keep = mass_above < self.p
        # The top token always stays, even if rounding puts its mass above p.
        keep = ops.logical_or(keep, ops.arange(vocabulary_size)[None, :] == 0)
        choice = self.draw(ops.where(keep, sorted_logits, -1e9))
        return ops.take_along_axis(sorted_indices, choice[:, None], axis=-1)[:, 0]

    def get_config(self):
        return {**super().get_config(), "p": self.p}
