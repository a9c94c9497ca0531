import pytest

from keras_transformer_bit.samplers import (
    BeamSampler,
    GreedySampler,
    TopKSampler,
    TopPSampler,
    get_sampler,
)


def test_methods_and_options():
    assert isinstance(get_sampler("greedy"), GreedySampler)
    beam = get_sampler("beam", beam_size=5, length_penalty=1.0, num_return_sequences=2)
    assert isinstance(beam, BeamSampler)
    assert beam.get_config() == {
        "beam_size": 5,
        "length_penalty": 1.0,
        "num_return_sequences": 2,
        "no_repeat_ngram_size": None,
        "max_repeat_run": None,
    }
    top_k = get_sampler("top_k", top_k=3, temperature=0.5, seed=1)
    assert isinstance(top_k, TopKSampler) and top_k.k == 3
    assert (
        TopKSampler.from_config(top_k.get_config()).get_config() == top_k.get_config()
    )
    assert isinstance(get_sampler("top_p", top_p=0.5), TopPSampler)
    assert get_sampler(beam) is beam


def test_unknown_method_and_options():
    with pytest.raises(ValueError, match="Received: method='nucleus'"):
        get_sampler("nucleus")
    with pytest.raises(
        ValueError, match=r"Unknown options for method='greedy': \['beam_size'\]"
    ):
        get_sampler("greedy", beam_size=2)
