import pytest

from keras_transformer_bit.recipes import corpus_chrf


def test_perfect_partial_and_disjoint():
    assert corpus_chrf(["the cat sat"], ["the cat sat"]) == pytest.approx(100.0)
    partial = corpus_chrf(["the cats sit"], ["the cat sat"])
    assert 20 < partial < 100
    assert corpus_chrf(["xyz"], ["the cat sat"]) < partial


def test_bad_input():
    with pytest.raises(ValueError, match="1 hypotheses, 2 references"):
        corpus_chrf(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        corpus_chrf([], [])
