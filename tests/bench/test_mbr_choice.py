"""bench/mbr_choice.py: the minimum-Bayes-risk choice against brute force."""

import pathlib
import sys

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import mbr_choice  # noqa: E402


def _overlap(hypothesis, reference):
    """Shared words over the hypothesis's words: a utility that is easy to
    follow by hand, and not symmetric."""
    words = hypothesis.split()
    return sum(word in reference.split() for word in words) / max(len(words), 1)


def test_the_consensus_wins_over_the_top_scored_outlier():
    candidates = ["a cat sat", "the cat sat", "the cat sat down", "dogs run fast"]
    # The outlier has the highest score, but no support from the others.
    scores = [-1.2, -1.1, -1.3, -0.5]
    assert mbr_choice.mbr_choose(candidates, scores, _overlap, 1.0) == 1
    # A low temperature trusts the scores: beam search's top-1.
    assert mbr_choice.mbr_choose(candidates, scores, _overlap, 0.01) == 3


@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_matches_brute_force_on_random_lists(temperature):
    rng = np.random.default_rng(0)
    words = ["a", "b", "c", "d"]
    for _ in range(20):
        candidates = [
            " ".join(rng.choice(words, size=rng.integers(1, 4))) for _ in range(5)
        ]
        scores = rng.normal(size=5)
        probabilities = np.exp(scores / temperature)
        probabilities /= probabilities.sum()
        expected = {
            i: sum(
                probabilities[j] * _overlap(candidates[i], candidates[j])
                for j in range(5)
            )
            for i in range(5)
        }
        best = max(expected.values())
        chosen = mbr_choice.mbr_choose(candidates, scores, _overlap, temperature)
        assert expected[chosen] == pytest.approx(best)
        assert chosen == min(i for i in range(5) if np.isclose(expected[i], best))


def test_sentence_utilities_and_bad_arguments():
    for name in mbr_choice.UTILITIES:
        utility = mbr_choice.sentence_utility(name)
        assert utility("the cat sat", "the cat sat") == pytest.approx(100.0)
        assert utility("the cat sat", "dogs run") < 50
    with pytest.raises(ValueError, match="utility must be one of"):
        mbr_choice.sentence_utility("ter")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        mbr_choice.mbr_choose(["a"], [0.0], _overlap, 0)


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--beam-size", "1", "expected an int >= 2"),
        ("--beam-size", "0", "expected an int >= 2"),
        ("--beam-size", "x", "expected an int >= 2"),
        ("--temperatures", "0", "expected a finite number > 0"),
        ("--temperatures", "-1", "expected a finite number > 0"),
        ("--temperatures", "nan", "expected a finite number > 0"),
        ("--temperatures", "inf", "expected a finite number > 0"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_decoded(
    flag, value, expected, capsys
):
    with pytest.raises(SystemExit):
        mbr_choice.parse_args(["--run-dir", "runs/x", flag, value])
    error = capsys.readouterr().err
    assert expected in error and repr(value) in error


def test_a_run_without_a_validation_split_is_named_not_decoded(monkeypatch):
    import types

    from keras_transformer_bit import training

    class RunWithoutValidation:
        def __init__(self, model_dir):
            self.model_dir = model_dir

        def load(self, checkpoint):
            return {"max_length": 16}, None, None, None

        def corpus(self):
            return types.SimpleNamespace(validation=[], test=[("a", "b")])

    monkeypatch.setattr(training, "TranslationRun", RunWithoutValidation)
    monkeypatch.setattr(sys, "argv", ["mbr_choice.py", "--run-dir", "runs/noval"])
    with pytest.raises(SystemExit, match="runs/noval has no validation split"):
        mbr_choice.main()
