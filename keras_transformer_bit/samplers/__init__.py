"""Samplers: decoding strategies over a step function `next_fn(ids, index, state)`.

A sampler fills a fixed-size token buffer one position at a time, calling
the step function for the logits of the next token, until every sequence has
produced the end token. `GreedySampler` takes the most likely token,
`TopKSampler` and `TopPSampler` draw from the `k` most likely tokens or from
the smallest set holding probability `p` (both `RandomSampler`s, seeded), and
`BeamSampler` keeps `beam_size` hypotheses with the GNMT length penalty.
`Sampler` is the base class of the one-token-per-step samplers.
`get_sampler(method, **options)` maps the `method=` names of
`Transformer.generate` and `Translator` to a sampler. Samplers use
`keras.ops` only, so the loop compiles with XLA and exports to a SavedModel.

Example:
>>> import keras_transformer_bit as ktb
>>> sampler = ktb.samplers.get_sampler("top_k", top_k=10, temperature=0.7, seed=1)
>>> type(sampler).__name__, sampler.k
('TopKSampler', 10)
"""

from keras_transformer_bit.samplers.beam_sampler import BeamSampler
from keras_transformer_bit.samplers.get_sampler import get_sampler
from keras_transformer_bit.samplers.greedy_sampler import GreedySampler
from keras_transformer_bit.samplers.sampler import RandomSampler, Sampler
from keras_transformer_bit.samplers.top_k_sampler import TopKSampler
from keras_transformer_bit.samplers.top_p_sampler import TopPSampler

__all__ = [
    "BeamSampler",
    "GreedySampler",
    "RandomSampler",
    "Sampler",
    "TopKSampler",
    "TopPSampler",
    "get_sampler",
]
