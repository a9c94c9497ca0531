"""Decoding strategies over a step function `next_fn(token_ids, index, state)`."""

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
