import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.samplers import (
    BeamSampler,
    GreedySampler,
    TopKSampler,
    TopPSampler,
    get_sampler,
)
from keras_transformer_bit.samplers.repeat_run import repeat_run_mask
from tests.samplers.toy_steps import END, VOCABULARY, StepTable


def longest_run(tokens):
    """The most back-to-back copies of any n-gram in `tokens`, by brute force."""
    best = 1 if tokens else 0
    for period in range(1, len(tokens) + 1):
        for start in range(len(tokens) - period + 1):
            block = tokens[start : start + period]
            copies = 1
            while tokens[start + copies * period : start + (copies + 1) * period] == (
                block
            ):
                copies += 1
            best = max(best, copies)
    return best


def reference_mask(tokens, max_run, vocabulary_size):
    tokens = list(tokens)
    return np.array(
        [longest_run(tokens + [t]) > max_run for t in range(vocabulary_size)]
    )


def test_longest_run_reference():
    assert longest_run([5, 1, 1, 1, 2]) == 3
    assert longest_run([1, 2, 1, 2, 1, 2, 7]) == 3
    assert longest_run([1, 2, 3, 1, 2]) == 1


@pytest.mark.parametrize("max_run", [1, 2, 3])
def test_mask_equals_a_brute_force_check(max_run):
    rng = np.random.default_rng(max_run)
    ids = rng.integers(0, 3, size=(40, 10)).astype("int32")
    checked = 0
    for index in range(10):
        mask = ops.convert_to_numpy(repeat_run_mask(ids, index, max_run, 5))
        for row in range(len(ids)):
            prefix = ids[row, : index + 1].tolist()
            if longest_run(prefix) > max_run:
                continue  # random prefixes may already hold a run; decoding never does
            np.testing.assert_array_equal(
                mask[row], reference_mask(prefix, max_run, 5), err_msg=f"{prefix}"
            )
            checked += 1
    assert checked > 100


def test_mask_examples():
    # "5 1 1": a third 1 would make a run of three.
    mask = ops.convert_to_numpy(repeat_run_mask(np.array([[5, 1, 1, 0]]), 2, 2, 6))
    assert np.flatnonzero(mask[0]).tolist() == [1]
    # "1 2 1 2": a third "1 2" is refused at its last token only.
    ids = np.array([[1, 2, 1, 2, 1, 0, 0]])
    assert not ops.convert_to_numpy(repeat_run_mask(ids, 3, 2, 4))[0].any()
    assert np.flatnonzero(ops.convert_to_numpy(repeat_run_mask(ids, 4, 2, 4))[0]) == [2]


# Prefers to stutter "1 1 1 ..." or loop "1 2 1 2 ...".
STEPS = StepTable([((..., 1), 2.0), ((..., 2), 1.5), ((1, 1, 1), 2.0)])
next_fn = STEPS.next_fn


@pytest.mark.parametrize("max_run", [1, 2])
def test_beam_search_equals_brute_force_enumeration(max_run):
    max_new = 5  # a beam of every sequence: 4**5 is the widest beam allowed
    sampler = BeamSampler(
        beam_size=VOCABULARY**max_new, length_penalty=0.6, max_repeat_run=max_run
    )
    ids, score = sampler(next_fn, np.zeros((1, max_new + 1), "int32"), end_token_id=END)
    expected, expected_score = STEPS.brute_force_beam(
        max_new, lambda tokens: longest_run(tokens) <= max_run, 0.6
    )
    got = ops.convert_to_numpy(ids)[0, 1:].tolist()
    assert got[: len(expected)] == expected
    np.testing.assert_allclose(
        float(ops.convert_to_numpy(score)[0]), expected_score, rtol=1e-5
    )
    # Without the option the best sequence holds a longer run.
    plain = BeamSampler(beam_size=VOCABULARY**max_new, length_penalty=0.6)
    plain_ids, _ = plain(next_fn, np.zeros((1, max_new + 1), "int32"), end_token_id=END)
    assert longest_run(ops.convert_to_numpy(plain_ids)[0].tolist()) > max_run


@pytest.mark.parametrize("max_run", [1, 2])
def test_greedy_equals_a_step_by_step_reference(max_run):
    max_new = 8
    ids, _ = GreedySampler(max_repeat_run=max_run)(
        next_fn, np.zeros((2, max_new + 1), "int32"), end_token_id=END
    )
    got = ops.convert_to_numpy(ids)[0, 1:].tolist()
    expected = STEPS.greedy_reference(
        max_new, lambda tokens: reference_mask(tokens, max_run, VOCABULARY)
    )
    assert got[: len(expected)] == expected
    assert longest_run([0, *expected]) <= max_run


@pytest.mark.parametrize("sampler_class", [TopKSampler, TopPSampler])
def test_sampling_never_makes_a_run_of_three(sampler_class):
    options = {"k": 4} if sampler_class is TopKSampler else {"p": 0.99}
    sampler = sampler_class(seed=3, max_repeat_run=2, **options)
    ids, _ = sampler(next_fn, np.zeros((32, 10), "int32"), end_token_id=END)
    for row in ops.convert_to_numpy(ids).tolist():
        body = row[: row.index(END) + 1] if END in row else row
        assert longest_run(body) <= 2, row


def test_the_option_is_kept_in_the_config_and_get_sampler_passes_it():
    for method in ["greedy", "beam", "top_k", "top_p"]:
        sampler = get_sampler(method, max_repeat_run=2)
        assert sampler.max_repeat_run == 2
        assert sampler.get_config()["max_repeat_run"] == 2
        assert type(sampler).from_config(sampler.get_config()).max_repeat_run == 2


def test_0_and_none_are_no_constraint():
    assert GreedySampler(max_repeat_run=0).max_repeat_run is None
    assert BeamSampler(max_repeat_run=None).max_repeat_run is None


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
def test_bad_values_name_the_value(value):
    for sampler_class in (GreedySampler, BeamSampler):
        with pytest.raises(ValueError, match=f"Received: max_repeat_run={value!r}"):
            sampler_class(max_repeat_run=value)


@pytest.mark.parametrize("method", ["greedy", "beam", "top_p"])
def test_generate_option_stops_stutters_in_a_real_model(method):
    import keras_transformer_bit as ktb

    # A random tiny model over 3 ordinary tokens stutters within 16 tokens.
    model = ktb.models.Transformer.from_preset("transformer_tiny", vocabulary_size=7)
    source = np.random.default_rng(0).integers(4, 7, size=(4, 6)).astype("int32")
    options = {"seed": 1} if method == "top_p" else {}
    plain = model.generate(source, max_length=16, method=method, **options)
    guarded = model.generate(
        source, max_length=16, method=method, max_repeat_run=1, **options
    )

    def body(row):
        return [t for t in row if t != 0]

    plain_runs = [longest_run(body(r)) for r in ops.convert_to_numpy(plain).tolist()]
    assert max(plain_runs) > 1  # the same compiled loop is not reused
    for row in ops.convert_to_numpy(guarded).tolist():
        assert longest_run(body(row)) <= 1, row
