import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_transformer_bit.samplers import BeamSampler, GreedySampler
from keras_transformer_bit.samplers.beam_sampler import top_k
from tests.samplers.toy_steps import PrefixTable, constant_step

END = 3


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_exhaustive_beam_finds_the_enumerated_best(alpha, seed):
    toy = PrefixTable(vocabulary_size=4, length=5, seed=seed)
    sampler = BeamSampler(beam_size=64, length_penalty=alpha, num_return_sequences=5)
    ids, scores = sampler(toy.next_fn, toy.start_buffer(3), end_token_id=END)
    ids, scores = ops.convert_to_numpy(ids), ops.convert_to_numpy(scores)
    assert ids.shape == (3, 5, 5) and scores.shape == (3, 5)
    for row in range(3):
        expected = toy.enumerate(row, END, alpha)[:5]
        np.testing.assert_allclose(scores[row], [s for s, _ in expected], rtol=1e-5)
        assert ids[row, 0].tolist() == expected[0][1]


@pytest.mark.parametrize("alpha", [0.0, 0.6])
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_beam_size_one_is_greedy(alpha, seed):
    toy = PrefixTable(vocabulary_size=5, length=7, seed=seed, scale=1.0)
    start = toy.start_buffer(5)
    beam_ids, _ = BeamSampler(beam_size=1, length_penalty=alpha)(
        toy.next_fn, start, end_token_id=END
    )
    greedy_ids, _ = GreedySampler()(toy.next_fn, start, end_token_id=END)
    expected = [toy.greedy(row % 5, END) for row in range(5)]
    assert ops.convert_to_numpy(greedy_ids).tolist() == expected
    assert ops.convert_to_numpy(beam_ids).tolist() == expected


def test_finished_beams_freeze_and_search_stops_early():
    # The end token is near-certain, so one step decides everything.
    calls = []
    next_fn = constant_step([0.001, 0.001, 0.001, 0.997])

    def counting_next_fn(token_ids, index, state):
        calls.append(1)
        return next_fn(token_ids, index, state)

    ids, scores = BeamSampler(beam_size=3)(
        counting_next_fn, np.full((2, 10), 0, "int32"), end_token_id=END
    )
    assert len(calls) == 1
    assert ops.convert_to_numpy(ids).tolist() == [[0, END] + [0] * 8] * 2
    np.testing.assert_allclose(ops.convert_to_numpy(scores), np.log(0.997), rtol=1e-4)


def test_without_end_token_runs_to_the_buffer_length():
    toy = PrefixTable(vocabulary_size=3, length=4, seed=5)
    ids, scores = BeamSampler(beam_size=27, length_penalty=0.0)(
        toy.next_fn, toy.start_buffer(1)
    )
    best = toy.enumerate(0, end_token=-1, alpha=0.0)[0]
    assert ops.convert_to_numpy(ids)[0].tolist() == best[1]
    np.testing.assert_allclose(ops.convert_to_numpy(scores)[0], best[0], rtol=1e-5)


def test_state_is_reordered_with_the_hypotheses():
    # The state records each hypothesis' last token; a step function that
    # reads it instead of token_ids must give the same search.
    toy = PrefixTable(vocabulary_size=4, length=5, seed=6)

    def next_fn(token_ids, index, state):
        history = ops.where(
            ops.arange(5)[None, :] == index,
            ops.take(token_ids, index, axis=1)[:, None],
            state,
        )
        return toy.next_fn(history, index, history)

    start = toy.start_buffer(2)
    sampler = BeamSampler(beam_size=4)
    expected = sampler(toy.next_fn, start, end_token_id=END)
    actual = sampler(next_fn, start, state=ops.zeros((2, 5), "int32"), end_token_id=END)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(e))


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.tensorflow_only
def test_compiles_in_tf_function(jit_compile):
    toy = PrefixTable(vocabulary_size=4, length=6, seed=7)
    start = toy.start_buffer(3)
    sampler = BeamSampler(beam_size=3, num_return_sequences=2)
    eager = sampler(toy.next_fn, start, end_token_id=END)
    compiled = tf.function(
        lambda ids: sampler(toy.next_fn, ids, end_token_id=END),
        jit_compile=jit_compile,
    )(tf.constant(start))
    for a, e in zip(compiled, eager):
        np.testing.assert_allclose(ops.convert_to_numpy(a), ops.convert_to_numpy(e))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beam_size": 0}, "beam_size must be a positive int. Received: beam_size=0"),
        ({"beam_size": 2.5}, "Received: beam_size=2.5"),
        ({"length_penalty": float("nan")}, "Received: length_penalty=nan"),
        # Negative: the stopping rule needs a penalty that grows with length.
        ({"length_penalty": -1.0}, r"length_penalty must be a float in \[0, 10\]"),
        ({"length_penalty": 1e308}, "Received: length_penalty=1e\\+308"),
        ({"length_penalty": True}, "Received: length_penalty=True"),
        ({"length_penalty": "1"}, "Received: length_penalty='1'"),
        ({"beam_size": 2, "num_return_sequences": 3}, "num_return_sequences=3"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BeamSampler(**kwargs)


def test_a_beam_wider_than_the_cap_is_refused():
    # 10**9 beams overflowed int32 inside the search.
    with pytest.raises(ValueError, match=r"beam_size must be an int in \[1, 1024\]"):
        BeamSampler(beam_size=10**9)
    assert BeamSampler(beam_size=1024).beam_size == 1024


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize("size, k, block_size", [(700, 4, 64), (640, 4, 64), (9, 3, 2)])
@pytest.mark.tensorflow_only
def test_blocked_top_k_equals_top_k_with_ties(jit_compile, size, k, block_size):
    rng = np.random.default_rng(size)
    x = rng.integers(-4, 4, size=(3, 2, size)).astype("float32")  # many ties
    x[0, 0] = -np.inf
    x[1, 1, : size // 2] = -np.inf
    values, indices = tf.function(
        lambda x: top_k(x, k, block_size=block_size), jit_compile=jit_compile
    )(x)
    expected_values, expected_indices = ops.top_k(x, k)
    np.testing.assert_array_equal(ops.convert_to_numpy(values), expected_values)
    np.testing.assert_array_equal(ops.convert_to_numpy(indices), expected_indices)
