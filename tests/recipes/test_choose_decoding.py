import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.recipes import choose_decoding, corpus_bleu
from tests.tiny_translation import tiny_model, tiny_tokenizer

PAIRS = [
    ("ich bin hier .", "i am here ."),
    ("du bist dort !", "you are there !"),
    ("wir sind seit fünf tagen hier", "we are here for five days"),
]


@pytest.mark.large
def test_every_setting_is_scored_through_a_translator_best_first():
    model, tokenizer = tiny_model(), tiny_tokenizer()
    results = choose_decoding(
        model,
        tokenizer,
        tokenizer,
        PAIRS,
        beam_sizes=(1, 2),
        length_penalties=(0.0, 1.0),
        max_length=8,
    )
    settings = {(r["beam_size"], r["length_penalty"]) for r in results}
    assert settings == {(1, None), (2, 0.0), (2, 1.0)}  # greedy decoded once
    scores = [r["bleu"] for r in results]
    assert scores == sorted(scores, reverse=True)
    beam = next(r for r in results if r["beam_size"] == 2 and r["length_penalty"])
    translator = ktb.Translator(
        model, tokenizer, tokenizer, beam_size=2, length_penalty=1.0, max_length=8
    )
    hypotheses = translator([source for source, _ in PAIRS])
    assert beam["bleu"] == pytest.approx(
        corpus_bleu(hypotheses, [reference for _, reference in PAIRS])
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one pair"):
        choose_decoding(None, None, None, [])
    with pytest.raises(ValueError, match="beam_sizes must be a positive int"):
        choose_decoding(None, None, None, PAIRS, beam_sizes=(0,))
    with pytest.raises(ValueError, match="must not be empty"):
        choose_decoding(None, None, None, PAIRS, length_penalties=())


def test_a_negative_length_penalty_is_refused():
    with pytest.raises(ValueError, match=r"length_penalties must be numbers >= 0"):
        choose_decoding(None, None, None, PAIRS, length_penalties=(0.6, -1.0))
