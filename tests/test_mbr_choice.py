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


@pytest.mark.parametrize("temperature", [0, -1.0, math.nan, math.inf, True, "1"])
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
