import pytest
import tensorflow_datasets as tfds

from keras_transformer_bit.data.tfds_corpus import load_tfds_corpus


def test_loads_through_tfds_load_offline():
    with tfds.testing.mock_data(num_examples=12):
        corpus = load_tfds_corpus("ted_hrlr_translate/pt_to_en", max_examples=10)
    assert (corpus.source_language, corpus.target_language) == ("pt", "en")
    assert corpus.name == "ted_hrlr_translate/pt_to_en"
    assert len(corpus.validation) == len(corpus.test) == 10
    assert 0 < len(corpus.train) <= 10
    source, target = corpus.train[0]
    assert isinstance(source, str) and isinstance(target, str)


def test_rejects_non_translation_and_unknown_names():
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(ValueError, match="not a translation dataset"):
            load_tfds_corpus("mnist")
    with pytest.raises(ValueError, match="Unknown tensorflow-datasets"):
        load_tfds_corpus("no_such_dataset_xyz")


def test_split_sizes():
    with tfds.testing.mock_data(num_examples=12):
        corpus = load_tfds_corpus(
            "ted_hrlr_translate/pt_to_en", test_size=3, validation_size=4
        )
    assert (len(corpus.validation), len(corpus.test)) == (4, 3)
    with pytest.raises(ValueError, match="Received: validation_size=-1"):
        load_tfds_corpus("ted_hrlr_translate/pt_to_en", validation_size=-1)
