"""A `TranslationRun` epoch is one pass over the data, and Keras knows it."""

import warnings

from keras_transformer_bit.training import TranslationRun
from tests.cli.test_translate_cli import _write_corpus
from tests.training.test_translation_run import TINY


def test_a_tiny_run_does_not_run_out_of_data(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    run = TranslationRun(
        str(tmp_path / "run"), strategy="one_device", data=str(corpus), **TINY
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = run.train(epochs=2, bleu_every=0)
    assert [entry["epoch"] for entry in history] == [1, 2]
    assert "val_loss" in history[-1]
    messages = [str(warning.message) for warning in caught]
    assert not [m for m in messages if "ran out of data" in m], messages
