import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_transformer_bit.data.tfds_corpus import load_tfds_corpus
from keras_transformer_bit.utils import SettingError


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


def test_sizes_beyond_a_split_are_refused_naming_it():
    with tfds.testing.mock_data(num_examples=12):
        corpus = load_tfds_corpus(
            "ted_hrlr_translate/pt_to_en", test_size=np.int64(12), validation_size=0
        )
        assert (len(corpus.validation), len(corpus.test)) == (0, 12)
        with pytest.raises(SettingError) as error:
            load_tfds_corpus("ted_hrlr_translate/pt_to_en", test_size=13)
    message = str(error.value.restated({"test_size": "--test-size"}))
    assert message == (
        "--test-size=13 asks for more pairs than the test split of "
        "ted_hrlr_translate/pt_to_en holds: 12. Use at most 12."
    )
    with pytest.raises(ValueError, match="Received: test_size=True"):
        load_tfds_corpus("ted_hrlr_translate/pt_to_en", test_size=True)
