import json
import os

import pytest
import tensorflow as tf

from keras_transformer_bit.data import (
    SentencePieceTokenizer,
    SubwordTokenizer,
    load_tokenizer,
)

CORPUS = [
    f"{subject} {verb} {count} Bücher in {place}."
    for subject in ("Ich", "Du", "Wir", "We", "They")
    for verb in ("sehe", "kaufe", "see", "buy")
    for count in ("zwei", "drei", "two", "17")
    for place in ("Berlin", "London", "der Stadt", "the city")
]


def test_loads_a_sentencepiece_directory(tmp_path):
    tokenizer = SentencePieceTokenizer.build(CORPUS, vocabulary_size=300)
    tokenizer.save(str(tmp_path))
    loaded = load_tokenizer(str(tmp_path))
    assert isinstance(loaded, SentencePieceTokenizer)
    assert loaded.vocabulary == tokenizer.vocabulary


def test_loads_a_wordpiece_directory(tmp_path):
    tokenizer = SubwordTokenizer.build(CORPUS, vocabulary_size=100)
    tokenizer.save(str(tmp_path))
    loaded = load_tokenizer(str(tmp_path))
    assert isinstance(loaded, SubwordTokenizer)
    assert loaded.vocabulary == tokenizer.vocabulary
    text = tf.constant(["Wir sehe zwei Bücher."])
    assert loaded.tokenize(text).to_list() == tokenizer.tokenize(text).to_list()


def test_refuses_a_directory_without_a_tokenizer(tmp_path):
    with pytest.raises(FileNotFoundError, match="No tokenizer found in .*empty"):
        load_tokenizer(str(tmp_path / "empty"))


def test_refuses_an_unknown_kind(tmp_path):
    with open(tmp_path / "tokenizer.json", "w") as file:
        json.dump({"tokenizer": "bytes"}, file)
    with pytest.raises(ValueError, match=r"'wordpiece', 'sentencepiece'.*'bytes'"):
        load_tokenizer(str(tmp_path))
    assert os.listdir(tmp_path) == ["tokenizer.json"]


def test_wordpiece_saved_over_sentencepiece_loads_as_wordpiece(tmp_path):
    SentencePieceTokenizer.build(CORPUS, vocabulary_size=300).save(str(tmp_path))
    wordpiece = SubwordTokenizer.build(CORPUS, vocabulary_size=100)
    wordpiece.save(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["tokenizer.json", "vocabulary.txt"]
    loaded = load_tokenizer(str(tmp_path))
    assert isinstance(loaded, SubwordTokenizer)
    assert loaded.vocabulary == wordpiece.vocabulary


def test_sentencepiece_saved_over_wordpiece_leaves_no_stale_vocabulary(tmp_path):
    SubwordTokenizer.build(CORPUS, vocabulary_size=100).save(str(tmp_path))
    sentencepiece = SentencePieceTokenizer.build(CORPUS, vocabulary_size=300)
    sentencepiece.save(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["sentencepiece.model", "tokenizer.json"]
    loaded = load_tokenizer(str(tmp_path))
    assert isinstance(loaded, SentencePieceTokenizer)
    assert loaded.vocabulary == sentencepiece.vocabulary


def test_trusts_the_recorded_kind_over_leftover_files(tmp_path):
    """A directory written before save removed the other kind's files."""
    wordpiece = SubwordTokenizer.build(CORPUS, vocabulary_size=100)
    wordpiece.save(str(tmp_path))
    (tmp_path / "sentencepiece.model").write_bytes(b"left over")
    assert isinstance(load_tokenizer(str(tmp_path)), SubwordTokenizer)


def test_loads_a_wordpiece_directory_without_a_kind(tmp_path):
    """Directories written before tokenizer.json recorded the kind."""
    wordpiece = SubwordTokenizer.build(CORPUS, vocabulary_size=100)
    wordpiece.save(str(tmp_path))
    config = json.loads((tmp_path / "tokenizer.json").read_text())
    config.pop("tokenizer")
    (tmp_path / "tokenizer.json").write_text(json.dumps(config))
    loaded = load_tokenizer(str(tmp_path))
    assert isinstance(loaded, SubwordTokenizer)
    assert loaded.vocabulary == wordpiece.vocabulary


def test_names_a_config_that_is_not_json(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"tokenizer\.json is not valid JSON"):
        load_tokenizer(str(tmp_path))
