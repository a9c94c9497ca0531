import os

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.data import SubwordTokenizer
from keras_transformer_bit.data.subword_tokenizer import (
    PUNCTUATION_REWRITES,
    check_rewrite,
)

CORPUS = [
    "Ich bin seit fünf Tagen hier.",
    "Das Haus ist groß, aber alt.",
    "Wir gehen morgen in die Stadt.",
    "Don't worry, it's a well-known fact (really)!",
    "Sie hat das Buch gelesen.",
] * 3


@pytest.fixture(scope="module")
def tokenizer():
    return SubwordTokenizer.build(CORPUS, vocabulary_size=120)


def test_reserved_tokens_come_first(tokenizer):
    assert tokenizer.vocabulary[:4] == ["[PAD]", "[UNK]", "[START]", "[END]"]
    assert (tokenizer.pad_id, tokenizer.unknown_id) == (0, 1)
    assert (tokenizer.start_id, tokenizer.end_id) == (2, 3)
    assert tokenizer.token_to_id("[END]") == 3
    assert 4 < tokenizer.vocabulary_size <= 140


def test_round_trip_restores_text(tokenizer):
    ids = tokenizer.tokenize(tf.constant(CORPUS[:5]))
    assert isinstance(ids, tf.RaggedTensor)
    assert ids.dtype == tf.int64
    assert int(tf.reduce_min(ids.flat_values)) >= 4  # no reserved ids, no UNK
    text = tokenizer.detokenize(ids.to_tensor()).numpy()
    assert [t.decode() for t in text] == CORPUS[:5]


def test_detokenize_drops_reserved_and_stops_at_end(tokenizer):
    ids = tokenizer.tokenize(tf.constant(["Das Haus ist alt."])).to_tensor()
    row = ids.numpy()[0].tolist()
    padded = tf.constant([[2] + row[:2] + [1] + row[2:] + [3] + row[:2] + [0, 0]])
    assert tokenizer.detokenize(padded).numpy()[0].decode() == "Das Haus ist alt."
    ragged = tf.ragged.constant([[2] + row + [3]], dtype=tf.int32)
    assert tokenizer.detokenize(ragged).numpy()[0].decode() == "Das Haus ist alt."


def test_unknown_characters_map_to_unknown_id(tokenizer):
    ids = tokenizer.tokenize(tf.constant(["Ich bin ☃"])).numpy()[0].tolist()
    assert ids[-1] == tokenizer.unknown_id
    assert tokenizer.unknown_id not in ids[:-1]


def test_lower_case_and_normalization():
    decomposed = "Grösse".replace("ö", "o\u0308")
    tokenizer = SubwordTokenizer.build(
        ["GROSSE Größe Grösse"] * 3, vocabulary_size=40, lower_case=True
    )
    upper = tokenizer.tokenize(tf.constant(["GRÖSSE"])).to_list()
    lower = tokenizer.tokenize(tf.constant(["grösse"])).to_list()
    nfd = tokenizer.tokenize(tf.constant([decomposed.lower()])).to_list()
    assert upper == lower == nfd
    assert tokenizer.unknown_id not in upper[0]


def test_save_load_round_trip(tokenizer, tmp_path):
    tokenizer.save(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["tokenizer.json", "vocabulary.txt"]
    restored = SubwordTokenizer.load(str(tmp_path))
    assert restored.vocabulary == tokenizer.vocabulary
    assert restored.get_config() == tokenizer.get_config()
    ids = tokenizer.tokenize(tf.constant(CORPUS[:3]))
    assert restored.tokenize(tf.constant(CORPUS[:3])).to_list() == ids.to_list()


def test_traces_into_saved_model(tokenizer, tmp_path):
    class Wrapper(tf.Module):
        def __init__(self, tokenizer):
            super().__init__()
            self.tokenizer = tokenizer

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def round_trip(self, strings):
            ids = self.tokenizer.tokenize(strings).to_tensor()
            return self.tokenizer.detokenize(ids)

    wrapper = Wrapper(tokenizer)
    path = str(tmp_path / "saved")
    tf.saved_model.save(wrapper, path)
    restored = tf.saved_model.load(path)
    out = restored.round_trip(tf.constant(CORPUS[:2])).numpy()
    assert [t.decode() for t in out] == CORPUS[:2]
    graph = wrapper.round_trip.get_concrete_function().graph
    graph_ops = {op.type for op in graph.get_operations()}
    assert not any(op_type.startswith("PyFunc") for op_type in graph_ops)


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="empty corpus"):
        SubwordTokenizer.build([], vocabulary_size=50)
    with pytest.raises(ValueError, match="vocabulary_size"):
        SubwordTokenizer.build(["a b"], vocabulary_size=2)
    with pytest.raises(ValueError, match="normalization_form"):
        SubwordTokenizer(
            ["[PAD]", "[UNK]", "[START]", "[END]", "a"], normalization_form="X"
        )
    with pytest.raises(ValueError, match="reserved tokens"):
        SubwordTokenizer(["a", "[PAD]", "[UNK]", "[START]", "[END]"])
    (tmp_path / "vocabulary.txt").write_text("[PAD]\n[UNK]\n[START]\n[END]\na\n")
    (tmp_path / "tokenizer.json").write_text('{"vocabulary_size": 9}')
    with pytest.raises(ValueError, match="vocabulary_size=9"):
        SubwordTokenizer.load(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="vocabulary.txt"):
        SubwordTokenizer.load(str(tmp_path / "missing"))


def test_vocabulary_ids_are_stable(tokenizer):
    ids = tokenizer.tokenize(tf.constant(["Das Haus"])).to_list()[0]
    tokens = tokenizer.id_to_token(tf.constant(ids)).numpy().tolist()
    assert b"".join(t.replace(b"##", b"") for t in tokens) == b"DasHaus"
    assert np.all(np.asarray(ids) < tokenizer.vocabulary_size)


QUOTED = ['He said "hello there" to me.', 'The "Haus" is old.']


def test_detokenize_keeps_quoted_words(capfd):
    tokenizer = SubwordTokenizer.build(QUOTED * 2, vocabulary_size=80)
    ids = tokenizer.tokenize(tf.constant(QUOTED))
    text = tokenizer.detokenize(ids.to_tensor()).numpy()
    assert [t.decode() for t in text] == QUOTED
    # RE2 reports a rewrite it refuses on the C++ stderr, and drops the match.
    assert "invalid rewrite pattern" not in capfd.readouterr().err


# (pattern, rewrite, text it matches, whether RE2 accepts the rewrite)
REWRITES = [
    (r"(a)(b)", r"\2\1", "xab", True),
    (r"(a)(b)", r"\\\1", "xab", True),
    (r"(a)b", r"<\0>", "xab", True),
    (r"(?:a)(b)", r"\1", "xab", True),
    (r"(?P<first>a)b", r"\1", "xab", True),
    (r"[(]a(b)", r"\1", "x(ab", True),
    (r"\" ([^\"]*?) \"", r"\"\1\"", 'x " a "', False),  # the old quote rewrite
    (r"(a)b", r"\2", "xab", False),  # no group 2: RE2 replaces nothing
    (r"(?:a)b", r"\1", "xab", False),
    (r"[(]a\(b\)", r"\1", "x(a(b)", False),
    (r"(a)b", r"\n", "xab", False),
    (r"(a)b", "x\\", "xab", False),
    (r"(a)b", r"$1", "xab", True),  # literal text to RE2, not a group
]


@pytest.mark.parametrize("pattern, rewrite, text, valid", REWRITES)
def test_rewrite_check_agrees_with_re2(capfd, pattern, rewrite, text, valid):
    replaced = tf.strings.regex_replace(text, pattern, rewrite).numpy().decode()
    refused = "invalid rewrite pattern" in capfd.readouterr().err
    assert (replaced != text and not refused) == valid  # what RE2 does
    if valid:
        check_rewrite(pattern, rewrite)
    else:
        with pytest.raises(ValueError, match="rewrite"):
            check_rewrite(pattern, rewrite)


def test_every_rewrite_of_the_detokenizer_is_valid():
    assert len(PUNCTUATION_REWRITES) > 3
    for pattern, rewrite in PUNCTUATION_REWRITES:
        check_rewrite(pattern, rewrite)
