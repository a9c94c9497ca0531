import pytest

from keras_transformer_bit.recipes import repetition_report
from keras_transformer_bit.recipes.repetition_report import longest_word_run


def test_longest_word_run():
    assert longest_word_run("") == 0
    assert longest_word_run("a b a b") == 1
    assert longest_word_run("Her latest latest latest latest latest premotes") == 5
    assert longest_word_run("No, no, NO!") == 3


def test_counts_repetitions_not_in_the_source_and_empty_outputs():
    report = repetition_report(
        [
            "Her latest latest latest latest premotes the flat.",
            "No, no, no!",
            "It is late late.",
            "...",
            "Fine.",
        ],
        ["Ihr neuestes Buch.", "Nein, nein, nein!", "Es ist spät.", "Ja.", "Gut."],
    )
    assert report["repetitive"] == 1
    assert report["empty"] == 1
    assert report["repetition_rate"] == pytest.approx(0.2)
    assert report["repetitive_examples"][0][0] == "Ihr neuestes Buch."


def test_bad_input():
    with pytest.raises(ValueError, match="2 hypotheses, 1 sources"):
        repetition_report(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="min_repeats=0"):
        repetition_report(["a"], ["a"], min_repeats=0)
