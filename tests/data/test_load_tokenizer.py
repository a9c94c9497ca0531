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
    tokenizer = SubwordTokenizer.build(CORPUS, vocabulary_size=80)
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
