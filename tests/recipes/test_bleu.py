import glob

import pytest
import sacrebleu

from keras_transformer_bit.recipes.bleu import BleuCallback, corpus_bleu
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
def test_validation_bleu_equals_bleu_through_the_exported_translator(tmp_path):
    """The callback decodes with a `Translator` of the model in training, so
    the SavedModel exported from it scores the same BLEU on the same pairs."""
    import tensorflow as tf

    import keras_transformer_bit as ktb

    model, tokenizer = tiny_model(), tiny_tokenizer()
    sources = ["ich bin hier .", "du", "wir sind seit fünf tagen dort !", "", "ich"]
    references = ["i am here .", "you", "we are there for five days !", "", "i"]
    callback = BleuCallback(
        list(zip(sources, references)),
        tokenizer,
        tokenizer,
        max_length=6,
        method="beam",
        beam_size=2,
        length_penalty=0.6,
        max_source_length=5,
    )
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    translator = callback.translator()
    assert translator.model is model and translator.max_source_length == 5
    assert callback.translator() is translator  # traced once, reused
    ktb.export.export_translator(translator, str(tmp_path / "export"))
    served = tf.saved_model.load(str(tmp_path / "export"))
    outputs = served.signatures["serving_default"](text=tf.constant(sources))
    exported = [t.decode("utf-8") for t in outputs["translation"].numpy()]
    assert exported == translator(sources)
    assert logs["val_bleu"] == pytest.approx(corpus_bleu(exported, references))


def test_bad_decoding_options_are_refused_when_the_callback_is_made():
    pairs = [("a", "b")]
    with pytest.raises(ValueError, match="nucleus"):
        BleuCallback(pairs, None, None, method="nucleus")
    with pytest.raises(ValueError, match="beam_size"):
        BleuCallback(pairs, None, None, method="beam", beam_size=0)
