"""bench/decoding_choice.py: every decoding setting scored on the pairs given."""

import pathlib
import sys

import pytest

BENCH = pathlib.Path(__file__).parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import decoding_choice  # noqa: E402

PAIRS = [
    ("Das Haus ist alt.", "The house is old."),
    ("Ich bin hier.", "I am here."),
    ("Er ist nicht da.", "He is not there."),
]


def test_every_setting_is_decoded_and_scored_greedy_first():
    calls = []

    def translate(sources, **decoding):
        calls.append(decoding)
        assert sources == [source for source, _ in PAIRS]
        if decoding.get("length_penalty") == 1.0:  # the one exact setting
            return [reference for _, reference in PAIRS]
        return ["The the the house.", "", "He is there."]

    rows = decoding_choice.decode_grid(translate, PAIRS, [2, 4], [0.6, 1.0], [0, 2])
    beam = [
        {"method": "beam", "beam_size": size, "length_penalty": penalty}
        | ({"no_repeat_ngram_size": 2} if no_repeat else {})
        for size in (2, 4)
        for penalty in (0.6, 1.0)
        for no_repeat in (False, True)
    ]
    assert calls == [{"method": "greedy"}] + beam
    assert [r["no_repeat_ngram_size"] for r in rows] == [0] + [0, 2] * 4
    assert [(r["method"], r["beam_size"]) for r in rows][:2] == [
        ("greedy", 1),
        ("beam", 2),
    ]
    exact = [r for r in rows if r["length_penalty"] == 1.0]
    assert all(r["bleu"] == pytest.approx(100.0) for r in exact)
    assert all(r["repetitive"] == 0 and r["empty"] == 0 for r in exact)
    wrong = rows[0]
    assert wrong["bleu"] < 50 and wrong["empty"] == 1 and wrong["repetitive"] == 1
