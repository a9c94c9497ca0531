import glob

import pytest
import sacrebleu

from keras_transformer_bit.recipes.bleu import (
    BleuCallback,
    corpus_bleu,
    translate_texts,
)
from tests.tiny_translation import tiny_model, tiny_tokenizer

HYPOTHESES = ["The cat sat on a mat.", "I have been here for five days.", "Hello!"]
REFERENCES = [
    "The cat sat on the mat.",
    "I've been here for five days.",
    "Hello there!",
]


def test_corpus_bleu_matches_sacrebleu_13a():
    expected = sacrebleu.corpus_bleu(HYPOTHESES, [REFERENCES]).score
    assert corpus_bleu(HYPOTHESES, REFERENCES) == pytest.approx(expected)
    assert corpus_bleu(REFERENCES, REFERENCES) == pytest.approx(100.0)
    assert 0 < corpus_bleu(HYPOTHESES, REFERENCES) < 100
    lower = corpus_bleu([h.upper() for h in HYPOTHESES], REFERENCES, lowercase=True)
    assert lower == pytest.approx(expected)
    with pytest.raises(ValueError, match="same length"):
        corpus_bleu(HYPOTHESES, REFERENCES[:2])


def test_callback_logs_bleu_to_logs_and_tensorboard(tmp_path):
    pairs = list(zip(["a", "b", "c"], REFERENCES))
    answers = iter([HYPOTHESES, REFERENCES])
    callback = BleuCallback(
        pairs,
        None,
        None,
        every_n_epochs=2,
        log_dir=str(tmp_path),
        translate_fn=lambda sources: next(answers),
    )
    logs = [{}, {}, {}, {}]
    for epoch, epoch_logs in enumerate(logs):
        callback.on_epoch_end(epoch, epoch_logs)
    assert "val_bleu" not in logs[0] and "val_bleu" not in logs[2]
    assert logs[1]["val_bleu"] == pytest.approx(corpus_bleu(HYPOTHESES, REFERENCES))
    assert logs[3]["val_bleu"] == pytest.approx(100.0)
    assert [epoch for epoch, _, _ in callback.history] == [1, 3]
    assert glob.glob(str(tmp_path / "validation" / "events.out.tfevents.*"))
    with pytest.raises(ValueError, match="every_n_epochs"):
        BleuCallback(pairs, None, None, every_n_epochs=0)


@pytest.mark.large
def test_translate_texts_keeps_order_with_the_model():
    model, tokenizer = tiny_model(), tiny_tokenizer()
    texts = ["ich bin hier .", "du", "wir sind seit fünf tagen dort !"]

    def translate(sources, batch_size=2):
        return translate_texts(
            model,
            tokenizer,
            tokenizer,
            sources,
            max_length=6,
            batch_size=batch_size,
            jit_compile=False,
        )

    together = translate(texts)
    assert together == [translate([text])[0] for text in texts]
    callback = BleuCallback(
        list(zip(texts, together)), tokenizer, tokenizer, translate_fn=translate
    )
    callback.set_model(model)
    assert callback.score() == pytest.approx(corpus_bleu(together, together))
