import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_transformer_bit.samplers import GreedySampler
from keras_transformer_bit.samplers.greedy_sampler import first_argmax
from tests.samplers.toy_steps import PrefixTable

END = 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_numpy_greedy(seed):
    toy = PrefixTable(vocabulary_size=5, length=8, seed=seed, scale=1.0)
    ids, scores = GreedySampler()(toy.next_fn, toy.start_buffer(5), end_token_id=END)
    ids = ops.convert_to_numpy(ids)
    for row in range(5):
        expected = toy.greedy(row, END)
        assert ids[row].tolist() == expected
        generated = [t for t in expected[1:]]
        if END in generated:
            generated = generated[: generated.index(END) + 1]
        log_prob = sum(
            toy.log_probs(expected[: i + 1])[t] for i, t in enumerate(generated)
        )
        np.testing.assert_allclose(
            ops.convert_to_numpy(scores)[row], log_prob, rtol=1e-5
        )


def test_stops_when_every_sequence_ended():
    calls = []
    toy = PrefixTable(vocabulary_size=4, length=6, seed=3)

    def next_fn(token_ids, index, state):
        calls.append(1)
        logits, state = toy.next_fn(token_ids, index, state)
        return ops.where(ops.arange(4) == END, 100.0, logits), state

    ids, _ = GreedySampler()(next_fn, toy.start_buffer(2), end_token_id=END)
    assert len(calls) == 1
    assert ops.convert_to_numpy(ids)[:, 1].tolist() == [END, END]


def test_prompt_and_start_index():
    toy = PrefixTable(vocabulary_size=4, length=6, seed=4)
    start = toy.start_buffer(1)
    start[0, 1:3] = [2, 1]
    ids, _ = GreedySampler()(toy.next_fn, start, start_index=2)
    ids = ops.convert_to_numpy(ids)[0].tolist()
    assert ids[:3] == [0, 2, 1]
    for i in range(3, 6):
        assert ids[i] == int(np.argmax(toy.log_probs(ids[:i])))


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.tensorflow_only
def test_compiles_in_tf_function(jit_compile):
    toy = PrefixTable(vocabulary_size=4, length=6, seed=5)
    start = toy.start_buffer(4)
    sampler = GreedySampler()
    eager = sampler(toy.next_fn, start, end_token_id=END)
    fn = tf.function(
        lambda ids: sampler(toy.next_fn, ids, end_token_id=END),
        jit_compile=jit_compile,
    )
    for a, e in zip(fn(tf.constant(start)), eager):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(e))


def test_bad_temperature():
    with pytest.raises(ValueError, match="Received: temperature=0"):
        GreedySampler(temperature=0)


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.tensorflow_only
def test_first_argmax_equals_argmax_with_ties(jit_compile):
    rng = np.random.default_rng(0)
    logits = rng.integers(-3, 3, size=(6, 50)).astype("float32")
    logits[0] = -np.inf  # a row of ties only
    logits[1, 7] = np.inf
    expected = np.argmax(logits, axis=-1)
    first = tf.function(first_argmax, jit_compile=jit_compile)(logits)
    np.testing.assert_array_equal(ops.convert_to_numpy(first), expected)
