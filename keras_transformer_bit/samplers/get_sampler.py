"""Builds a sampler from a method name and its keyword arguments."""

from keras_transformer_bit.samplers.beam_sampler import BeamSampler
from keras_transformer_bit.samplers.greedy_sampler import GreedySampler
from keras_transformer_bit.samplers.sampler import Sampler
from keras_transformer_bit.samplers.top_k_sampler import TopKSampler
from keras_transformer_bit.samplers.top_p_sampler import TopPSampler, check_probability
from keras_transformer_bit.utils import check_positive_int

# method -> (sampler class, {keyword argument of `generate`: constructor argument}).
_METHODS = {
    "greedy": (
        GreedySampler,
        {
            "no_repeat_ngram_size": "no_repeat_ngram_size",
            "max_repeat_run": "max_repeat_run",
        },
    ),
    "beam": (
        BeamSampler,
        {
            "beam_size": "beam_size",
            "length_penalty": "length_penalty",
            "num_return_sequences": "num_return_sequences",
            "no_repeat_ngram_size": "no_repeat_ngram_size",
            "max_repeat_run": "max_repeat_run",
        },
    ),
    "top_k": (
        TopKSampler,
        {
            "top_k": "k",
            "temperature": "temperature",
            "seed": "seed",
            "no_repeat_ngram_size": "no_repeat_ngram_size",
            "max_repeat_run": "max_repeat_run",
        },
    ),
    "top_p": (
        TopPSampler,
        {
            "top_p": "p",
            "temperature": "temperature",
            "seed": "seed",
            "no_repeat_ngram_size": "no_repeat_ngram_size",
            "max_repeat_run": "max_repeat_run",
        },
    ),
}


def get_sampler(method="greedy", **kwargs):
    """Returns the sampler for a decoding `method`.

    Args:
        method: str or sampler. `"greedy"`, `"beam"` (keyword arguments
            `beam_size`, `length_penalty`, `num_return_sequences`), `"top_k"`
            (`top_k`, `temperature`, `seed`) or `"top_p"` (`top_p`,
            `temperature`, `seed`). Every method also takes
            `no_repeat_ngram_size` and `max_repeat_run`. A sampler instance is
            returned as is.
        **kwargs: the method's options; others raise a `ValueError`.

    Returns:
        A `GreedySampler`, `BeamSampler`, `TopKSampler` or `TopPSampler`.

    Example:
    >>> get_sampler("beam", beam_size=4, length_penalty=0.6).beam_size
    4
    """
    if isinstance(method, (Sampler, BeamSampler)):
        if kwargs:
            raise ValueError(
                "Options cannot be combined with a sampler instance. "
                f"Received: {sorted(kwargs)}"
            )
        return method
    if method not in _METHODS:
        raise ValueError(
            f"method must be one of {sorted(_METHODS)}. Received: method={method!r}"
        )
    sampler_cls, argument_names = _METHODS[method]
    unknown = sorted(set(kwargs) - set(argument_names))
    if unknown:
        raise ValueError(
            f"Unknown options for method={method!r}: {unknown}. "
            f"Expected some of {sorted(argument_names)}."
        )
    # Named as the caller wrote them; the samplers call them `k` and `p`.
    if "top_k" in kwargs:
        check_positive_int("top_k", kwargs["top_k"])
    if "top_p" in kwargs:
        check_probability("top_p", kwargs["top_p"])
    return sampler_cls(**{argument_names[name]: v for name, v in kwargs.items()})
