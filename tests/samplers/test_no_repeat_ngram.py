import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.samplers import BeamSampler, GreedySampler, TopKSampler
from keras_transformer_bit.samplers.no_repeat_ngram import repeated_ngram_mask
from tests.samplers.toy_steps import END, VOCABULARY, StepTable


def has_repeated_ngram(tokens, n):
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(grams) != len(set(grams))


def reference_mask(tokens, n, vocabulary_size):
    banned = np.zeros(vocabulary_size, bool)
    for t in range(vocabulary_size):
        banned[t] = has_repeated_ngram(list(tokens) + [t], n) and not (
            has_repeated_ngram(list(tokens), n)
        )
    return banned


@pytest.mark.parametrize("n", [1, 2, 3])
def test_mask_equals_a_brute_force_check(n):
    rng = np.random.default_rng(n)
    ids = rng.integers(0, 3, size=(6, 9)).astype("int32")
    for index in range(9):
        mask = ops.convert_to_numpy(repeated_ngram_mask(ids, index, n, 5))
        for row in range(6):
            prefix = ids[row, : index + 1]
            if has_repeated_ngram(list(prefix), n):
                continue  # random prefixes may already repeat; decoding never does
            np.testing.assert_array_equal(
                mask[row], reference_mask(prefix, n, 5), err_msg=f"{prefix}"
            )


# Prefers to loop "1 2 1 2 ...", which n-gram blocking must break.
STEPS = StepTable([((..., 1), 2.0), ((..., 2), 1.5)])
next_fn = STEPS.next_fn


@pytest.mark.parametrize("n", [1, 2, 3])
def test_beam_search_equals_brute_force_enumeration(n):
    max_new = 5
    sampler = BeamSampler(
        beam_size=VOCABULARY**max_new, length_penalty=0.6, no_repeat_ngram_size=n
    )
    ids, score = sampler(next_fn, np.zeros((1, max_new + 1), "int32"), end_token_id=END)
    expected, expected_score = STEPS.brute_force_beam(
        max_new, lambda tokens: not has_repeated_ngram(tokens, n), 0.6
    )
    got = ops.convert_to_numpy(ids)[0, 1:].tolist()
    assert got[: len(expected)] == expected
    np.testing.assert_allclose(
        float(ops.convert_to_numpy(score)[0]), expected_score, rtol=1e-5
    )


@pytest.mark.parametrize("n", [1, 2, 3])
def test_greedy_never_repeats_and_equals_a_step_by_step_reference(n):
    max_new = 6 if n > 1 else 3
    ids, _ = GreedySampler(no_repeat_ngram_size=n)(
        next_fn, np.zeros((2, max_new + 1), "int32"), end_token_id=END
    )
    got = ops.convert_to_numpy(ids)[0, 1:].tolist()
    expected = STEPS.greedy_reference(
        max_new, lambda tokens: reference_mask(tokens, n, VOCABULARY)
    )
    assert got[: len(expected)] == expected
    assert not has_repeated_ngram([0, *expected], n)
    # Without the option the same model loops.
    plain, _ = GreedySampler()(next_fn, np.zeros((1, 7), "int32"), end_token_id=END)
    assert has_repeated_ngram(ops.convert_to_numpy(plain)[0].tolist(), 2)


def test_sampling_never_repeats_a_bigram():
    sampler = TopKSampler(k=4, seed=3, no_repeat_ngram_size=2)
    ids, _ = sampler(next_fn, np.zeros((16, 8), "int32"), end_token_id=END)
    for row in ops.convert_to_numpy(ids).tolist():
        body = row[: row.index(END) + 1] if END in row else row
        assert not has_repeated_ngram(body, 2), row


def test_a_size_of_0_is_no_constraint_as_none():
    # As in bench/decoding_choice.py's grids, where 0 means none.
    assert GreedySampler(no_repeat_ngram_size=0).no_repeat_ngram_size is None
    assert BeamSampler(no_repeat_ngram_size=0).no_repeat_ngram_size is None


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_bad_sizes_name_the_value(value):
    with pytest.raises(ValueError, match=f"no_repeat_ngram_size={value}"):
        GreedySampler(no_repeat_ngram_size=value)
    with pytest.raises(ValueError, match=f"no_repeat_ngram_size={value}"):
        BeamSampler(no_repeat_ngram_size=value)


@pytest.mark.parametrize("method", ["greedy", "beam", "top_p"])
def test_generate_option_blocks_repeats_in_a_real_model(method):
    import keras_transformer_bit as ktb

    model = ktb.models.Transformer.from_preset("transformer_tiny", vocabulary_size=12)
    source = np.random.default_rng(0).integers(4, 12, size=(3, 6)).astype("int32")
    ids = model.generate(source, max_length=12, method=method, no_repeat_ngram_size=2)
    for row in ops.convert_to_numpy(ids).tolist():
        row = [t for t in row if t != 0]
        assert not has_repeated_ngram(row, 2), row


@pytest.mark.parametrize("temperature", [float("nan"), float("inf"), 0.0, -1.0, True])
def test_temperature_must_be_a_finite_positive_number(temperature):
    with pytest.raises(ValueError, match="temperature"):
        TopKSampler(k=2, temperature=temperature)


def test_numpy_seed_is_accepted_and_reproducible():
    first, _ = TopKSampler(k=3, seed=np.int64(5))(
        next_fn, np.zeros((4, 6), "int32"), end_token_id=END
    )
    second, _ = TopKSampler(k=3, seed=5)(
        next_fn, np.zeros((4, 6), "int32"), end_token_id=END
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(first), ops.convert_to_numpy(second)
    )
