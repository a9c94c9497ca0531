"""The MBR choice in TensorFlow ops against sacreBLEU's chrF and brute force."""

import math

import numpy as np
import pytest
import tensorflow as tf
from sacrebleu.metrics import CHRF

from keras_transformer_bit.mbr_choice import mbr_choice, pairwise_chrf

ALPHABET = list("abcde ") + ["ü", "ß", "é", "\u00a0", ".", ","]


def _random_sentences(rng, rows, n):
    return [
        ["".join(rng.choice(ALPHABET, size=rng.integers(0, 14))) for _ in range(n)]
        for _ in range(rows)
    ]


def _sacrebleu_chrf(hypothesis, reference):
    return CHRF().sentence_score(hypothesis, [reference]).score / 100


def test_pairwise_chrf_is_sacrebleus_sentence_chrf():
    rng = np.random.default_rng(0)
    candidates = _random_sentences(rng, rows=6, n=5)
    candidates[0] = ["", "   ", "a", "aaaaaaa", "a b c"]
    candidates[1] = ["Das ist gut.", "That is good.", "that is good", "x", "good"]
    scores = pairwise_chrf(tf.constant(candidates)).numpy()
    assert scores.shape == (6, 5, 5)
    for row, sentences in enumerate(candidates):
        for i, hypothesis in enumerate(sentences):
            for j, reference in enumerate(sentences):
                assert scores[row, i, j] == pytest.approx(
                    _sacrebleu_chrf(hypothesis, reference), abs=1e-6
                ), (hypothesis, reference)


def test_n_grams_of_other_rows_never_match():
    # The same words in another row must not count as shared n-grams.
    scores = pairwise_chrf([["the cat", "a dog"], ["a dog", "the cat"]]).numpy()
    assert scores[0, 0, 1] == pytest.approx(_sacrebleu_chrf("the cat", "a dog"))
    assert scores[0, 0, 0] == scores[1, 1, 1] == pytest.approx(1.0)


def _brute_force(candidates, scores, temperature):
    chosen = []
    for row, row_scores in zip(candidates, scores):
        logits = np.asarray(row_scores, "float64") / temperature
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        expected = [
            sum(w * _sacrebleu_chrf(c, other) for w, other in zip(weights, row))
            for c in row
        ]
        chosen.append(int(np.argmax(expected)))
    return chosen


@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_the_choice_is_the_brute_force_argmax(temperature):
    rng = np.random.default_rng(1)
    words = "the a cat dog sat runs on mat is small".split()
    candidates = [
        [" ".join(rng.choice(words, size=rng.integers(1, 6))) for _ in range(6)]
        for _ in range(20)
    ]
    scores = rng.normal(-3.0, 1.0, size=(20, 6))
    chosen = mbr_choice(candidates, scores, temperature).numpy().tolist()
    assert chosen == _brute_force(candidates, scores, temperature)
    # Not always the top-scored one: the choice differs from the argmax.
    assert chosen != np.argmax(scores, axis=1).tolist()


def test_consensus_beats_a_top_scored_outlier():
    candidates = [["zebra crossing", "the dog runs", "the dog ran", "a dog runs"]]
    scores = [[-1.0, -1.2, -1.3, -1.4]]
    assert mbr_choice(candidates, scores, 1.0).numpy().tolist() == [1]
    # At a very low temperature the top-scored candidate holds all the weight.
    assert mbr_choice(candidates, scores, 0.001).numpy().tolist() == [0]


def test_unfinished_beams_are_never_chosen():
    inf = float("inf")
    candidates = [["", "the dog", "the dog"], ["x", "y", "z"]]
    scores = [[-inf, -2.0, -2.5], [-inf, -inf, -inf]]
    assert mbr_choice(candidates, scores).numpy().tolist() == [1, 0]
    # An empty candidate with a finite score is a candidate like any other.
    assert mbr_choice([["", ""]], [[-1.0, -2.0]]).numpy().tolist() == [0]


@pytest.mark.parametrize(
    # User trial: 1e-40 and 1e39 passed "> 0" and broke the float32 softmax.
    "temperature",
    [0, -1.0, math.nan, math.inf, True, "1", 1e-40, 1e-4, 1e39],
)
def test_bad_temperature(temperature):
    with pytest.raises(ValueError, match="mbr_temperature must be a finite number"):
        mbr_choice([["a", "b"]], [[-1.0, -2.0]], temperature)


def test_runs_inside_a_graph_with_unknown_shapes():
    function = tf.function(
        lambda c, s: mbr_choice(c, s, 0.5),
        input_signature=[
            tf.TensorSpec([None, None], tf.string),
            tf.TensorSpec([None, None], tf.float32),
        ],
    )
    candidates = [["a dog", "the dog", "the dog runs"]]
    np.testing.assert_array_equal(
        function(tf.constant(candidates), tf.constant([[-1.0, -1.1, -1.2]])),
        mbr_choice(candidates, [[-1.0, -1.1, -1.2]], 0.5),
    )
    empty = function(tf.zeros([0, 3], tf.string), tf.zeros([0, 3]))
    assert empty.shape == (0,)


@pytest.mark.parametrize("temperature", [1e-3, 1e3])
def test_the_extreme_temperatures_choose_within_the_row(temperature):
    candidates = [["the dog", "a dog runs", "the dog runs"]] * 2
    scores = [[-1.0, -50.0, -400.0], [-300.0, -2.0, -2.5]]
    chosen = mbr_choice(candidates, scores, temperature).numpy()
    assert ((0 <= chosen) & (chosen < 3)).all()


@pytest.mark.parametrize(
    "candidates, scores, message",
    [
        ([["a", "b"]], [[-1.0, -2.0], [-1.0, -2.0]], "the same shape"),
        (["a", "b"], [-1.0, -2.0], r"\(batch, n\) tensors"),
        (tf.zeros([1, 0], tf.string), tf.zeros([1, 0]), "at least one candidate"),
    ],
)
def test_bad_shapes_are_refused(candidates, scores, message):
    # User trial: a batch of 1 broadcast against 2 rows of scores; no
    # candidates returned index 2**31 - 1.
    with pytest.raises(ValueError, match=message):
        mbr_choice(candidates, scores)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"char_order": 0}, "char_order must be a positive int"),
        ({"beta": math.nan}, "beta must be a finite number > 0"),
        ({"beta": 0}, "beta must be a finite number > 0"),
    ],
)
def test_bad_chrf_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pairwise_chrf([["a", "b"]], **kwargs)
