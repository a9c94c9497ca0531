import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.samplers import TopPSampler
from tests.samplers.toy_steps import constant_step

PROBABILITIES = [0.05, 0.1, 0.4, 0.25, 0.2]


def _sample(sampler, batch_size=400, length=11):
    ids, _ = sampler(
        constant_step(PROBABILITIES), np.zeros((batch_size, length), "int32")
    )
    return ops.convert_to_numpy(ids)[:, 1:]


@pytest.mark.parametrize(
    "p, nucleus", [(0.3, [2]), (0.6, [2, 3]), (0.8, [2, 3, 4]), (1.0, [0, 1, 2, 3, 4])]
)
def test_draws_from_the_nucleus_with_renormalised_frequencies(p, nucleus):
    tokens = _sample(TopPSampler(p=p, seed=0))
    assert set(np.unique(tokens)) == set(nucleus)
    frequencies = np.bincount(tokens.ravel(), minlength=5) / tokens.size
    expected = np.array(PROBABILITIES)[nucleus]
    np.testing.assert_allclose(
        frequencies[nucleus], expected / expected.sum(), atol=0.03
    )


def test_reproducible_for_a_seed():
    first = _sample(TopPSampler(p=0.9, seed=5))
    np.testing.assert_array_equal(first, _sample(TopPSampler(p=0.9, seed=5)))
    assert not np.array_equal(first, _sample(TopPSampler(p=0.9, seed=6)))


@pytest.mark.parametrize("p", [0, -0.1, 1.5, "x"])
def test_bad_p(p):
    with pytest.raises(ValueError, match=r"^p must be a float in \(0, 1\]"):
        TopPSampler(p=p)


def test_numpy_p_is_accepted_and_a_bad_p_is_named_as_given():
    assert TopPSampler(p=np.float32(0.5)).p == 0.5
    with pytest.raises(ValueError, match=r"^p must be .*Received: p='0.5'"):
        TopPSampler(p="0.5")


def test_a_cold_temperature_draws_the_most_likely_token():
    ids = _sample(TopPSampler(p=0.5, temperature=1e-3, seed=1), batch_size=100)
    assert set(ids.ravel().tolist()) == {2}
