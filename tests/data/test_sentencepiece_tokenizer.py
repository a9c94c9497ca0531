import json
import os
import re
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.data import SentencePieceTokenizer
from keras_transformer_bit.data.ding_corpus import DING_DE_EN_PATH
from keras_transformer_bit.utils import SettingError

# Enough distinct words that a vocabulary of a few hundred pieces is learnable.
WORDS = (
    "Haus Häuser Buch Bücher Stadt Straße Garten Fenster Tisch Stuhl Lampe Brief "
    "Zeitung Kaffee Wasser Brot Schule Lehrer Kinder Hund Katze Vogel Baum Blume "
    "house houses book books city street garden window table chair lamp letter "
    "newspaper coffee water bread school teacher children dog cat bird tree flower"
).split()
CORPUS = [
    f"{subject} {verb} {count} {WORDS[(index * 7) % len(WORDS)]} und "
    f"{WORDS[(index * 11 + 3) % len(WORDS)]} in {place}."
    for index, (subject, verb, count, place) in enumerate(
        (subject, verb, count, place)
        for subject in ("Ich", "Du", "Wir", "Sie", "They", "We")
        for verb in ("sehe", "kaufe", "see", "buy", "malen")
        for count in ("zwei", "drei", "two", "3,5", "17")
        for place in ("Berlin", "London", "der Stadt", "the city")
    )
]
TEXTS = [
    'He said "hello there" to me.',
    "The «Haus» is old… isn't it?",
    "over / at, Hin- und Her, pummel(l)ed",
    "Mail me: a.b@example.org or https://example.org/x?y=1 😀 ☃ 中文",
]


def _collapse(text):
    return " ".join(unicodedata.normalize("NFC", text).split())


@pytest.fixture(scope="module")
def tokenizer():
    return SentencePieceTokenizer.build(CORPUS, vocabulary_size=340)


@pytest.fixture(scope="module")
def bpe_tokenizer():
    return SentencePieceTokenizer.build(CORPUS, vocabulary_size=340, model_type="bpe")


def test_reserved_ids_and_vocabulary(tokenizer):
    assert tokenizer.vocabulary[:4] == ["[PAD]", "[UNK]", "[START]", "[END]"]
    assert (tokenizer.pad_id, tokenizer.unknown_id) == (0, 1)
    assert (tokenizer.start_id, tokenizer.end_id) == (2, 3)
    assert tokenizer.vocabulary_size == len(tokenizer.vocabulary) == 340
    assert tokenizer.token_to_id("[END]") == 3
    assert tokenizer.id_to_token(tf.constant([0, 3])).numpy().tolist() == [
        b"[PAD]",
        b"[END]",
    ]
    piece = tokenizer.vocabulary[300]
    assert tokenizer.token_to_id(piece) == 300
    with pytest.raises(ValueError, match="not in the vocabulary.*'no such piece'"):
        tokenizer.token_to_id("no such piece")
    assert tokenizer.get_config() == {
        "model_type": "unigram",
        "lower_case": False,
        "normalization_form": "NFC",
        "vocabulary_size": 340,
    }


@pytest.mark.parametrize("kind", ["unigram", "bpe"])
def test_round_trip_is_exact_with_unseen_characters(kind, tokenizer, bpe_tokenizer):
    tokenizer = {"unigram": tokenizer, "bpe": bpe_tokenizer}[kind]
    ids = tokenizer.tokenize(tf.constant(TEXTS))
    assert isinstance(ids, tf.RaggedTensor) and ids.dtype == tf.int64
    # Byte fallback: characters never seen in training are bytes, not [UNK].
    assert int(tf.reduce_min(ids.flat_values)) >= 4
    assert int(tf.reduce_max(ids.flat_values)) < tokenizer.vocabulary_size
    for dense in (ids, ids.to_tensor()):
        back = [text.decode() for text in tokenizer.detokenize(dense).numpy()]
        assert back == TEXTS


def test_round_trip_normalises_to_nfc_and_collapses_spaces(tokenizer):
    decomposed = "Gro\u0308ße  Häuser\u00a0und   mehr "
    [back] = tokenizer.detokenize(tokenizer.tokenize(tf.constant([decomposed])))
    assert back.numpy().decode() == _collapse(decomposed).replace(" und", "\u00a0und")


def test_edge_cases_round_trip(tokenizer):
    cases = ["", "a\tb\nc", "x\x00y", "👨\u200d👩\u200d👧", "[END] [PAD]", "<0x41>"]
    ids = tokenizer.tokenize(tf.constant(cases))
    assert tokenizer.unknown_id not in ids.flat_values.numpy()
    assert tokenizer.end_id not in ids.flat_values.numpy()  # "[END]" is text
    back = [text.decode() for text in tokenizer.detokenize(ids).numpy()]
    assert back == cases
    # The documented exception: SentencePiece's space mark reads as a space.
    marked = tokenizer.tokenize(tf.constant(["a\u2581b"]))
    assert tokenizer.detokenize(marked).numpy()[0].decode() == "a b"


def test_detokenize_drops_reserved_and_stops_at_end(tokenizer):
    row = tokenizer.tokenize(tf.constant(["Wir sehe drei Bücher."])).to_list()[0]
    padded = tf.constant([[2] + row[:2] + [1] + row[2:] + [3] + row[:2] + [0, 0]])
    assert tokenizer.detokenize(padded).numpy()[0].decode() == "Wir sehe drei Bücher."
    ragged = tf.ragged.constant([[2] + row + [3]], dtype=tf.int32)
    assert tokenizer.detokenize(ragged).numpy()[0].decode() == "Wir sehe drei Bücher."
    # Ids a model could emit but the vocabulary lacks are dropped, not an error.
    out_of_range = tf.constant([row + [tokenizer.vocabulary_size, 10**6]])
    assert tokenizer.detokenize(out_of_range).numpy()[0].decode() == (
        "Wir sehe drei Bücher."
    )


def test_lower_case():
    tokenizer = SentencePieceTokenizer.build(
        CORPUS, vocabulary_size=320, lower_case=True
    )
    upper, lower = tokenizer.tokenize(tf.constant(["WIR SEHE", "wir sehe"])).to_list()
    assert upper == lower


def test_survives_clear_session(tokenizer):
    """Keras and KerasTuner clear TensorFlow's kernel cache, where
    tensorflow-text keeps the model unless it is shared."""
    import keras

    before = tokenizer.tokenize(tf.constant(TEXTS)).to_list()
    keras.utils.clear_session(free_memory=False)
    other = SentencePieceTokenizer.build(CORPUS[:300], vocabulary_size=310)
    assert tokenizer.tokenize(tf.constant(TEXTS)).to_list() == before
    assert other.tokenize(tf.constant(TEXTS)).to_list() != before
    back = tokenizer.detokenize(tf.ragged.constant(before)).numpy()
    assert back[0].decode() == TEXTS[0]


def test_build_is_deterministic(tokenizer):
    again = SentencePieceTokenizer.build(CORPUS, vocabulary_size=340)
    assert again.vocabulary == tokenizer.vocabulary


def test_build_from_dataset(tokenizer):
    dataset = tf.data.Dataset.from_tensor_slices(CORPUS)
    assert (
        SentencePieceTokenizer.build(dataset, vocabulary_size=340).vocabulary
        == tokenizer.vocabulary
    )


def test_save_and_load(tokenizer, tmp_path):
    directory = str(tmp_path / "spm")
    tokenizer.save(directory)
    assert sorted(os.listdir(directory)) == ["sentencepiece.model", "tokenizer.json"]
    with open(os.path.join(directory, "tokenizer.json")) as file:
        assert json.load(file)["tokenizer"] == "sentencepiece"
    loaded = SentencePieceTokenizer.load(directory)
    assert loaded.vocabulary == tokenizer.vocabulary
    assert loaded.get_config() == tokenizer.get_config()
    ids = tokenizer.tokenize(tf.constant(TEXTS))
    assert loaded.tokenize(tf.constant(TEXTS)).to_list() == ids.to_list()


def test_save_to_ram_file_system(tokenizer):
    tokenizer.save("ram://sentencepiece_tokenizer")
    loaded = SentencePieceTokenizer.load("ram://sentencepiece_tokenizer")
    assert loaded.vocabulary == tokenizer.vocabulary


def test_load_errors(tmp_path, tokenizer):
    with pytest.raises(FileNotFoundError, match="sentencepiece.model"):
        SentencePieceTokenizer.load(str(tmp_path / "nothing"))
    directory = str(tmp_path / "mismatch")
    tokenizer.save(directory)
    config_path = os.path.join(directory, "tokenizer.json")
    with open(config_path) as file:
        config = json.load(file)
    with open(config_path, "w") as file:
        json.dump({**config, "vocabulary_size": 9}, file)
    with pytest.raises(ValueError, match="vocabulary_size=9"):
        SentencePieceTokenizer.load(directory)


def test_constructor_refuses_a_model_without_the_reserved_pieces():
    with pytest.raises(ValueError, match="model must be.*bytes"):
        SentencePieceTokenizer("not bytes")
    with pytest.raises(ValueError, match="serialized SentencePiece model"):
        SentencePieceTokenizer(b"\x00garbage")


@pytest.mark.parametrize("size", [0, -3, 4, 2.5, "8000"])
def test_build_refuses_bad_vocabulary_sizes(size):
    with pytest.raises(ValueError, match=f"vocabulary_size={size!r}"):
        SentencePieceTokenizer.build(CORPUS, vocabulary_size=size)


@pytest.mark.parametrize(
    "size, bound", [(50000, r"at most \d+"), (100, r"at least \d+"), (4, "than 4")]
)
def test_build_names_the_sizes_that_work_as_the_caller_names_it(size, bound):
    with pytest.raises(SettingError) as e:
        SentencePieceTokenizer.build(CORPUS, vocabulary_size=size)
    # The value and the sizes that work, in whichever order the message says them.
    assert f"vocabulary_size={size}" in str(e.value)
    assert re.search(bound, str(e.value))
    restated = str(e.value.restated({"vocabulary_size": "--vocabulary-size"}))
    assert f"--vocabulary-size={size}" in restated
    assert "vocabulary_size" not in restated


def test_the_coverage_advice_is_left_out_where_the_caller_has_no_such_setting():
    with pytest.raises(SettingError) as e:
        SentencePieceTokenizer.build(CORPUS, vocabulary_size=100)
    assert "character_coverage" in str(e.value)  # build() takes it
    # A caller without the setting (`ktb`, `TranslationRun`) names it None.
    restated = str(e.value.restated({"character_coverage": None}))
    assert "coverage" not in restated and "use at least" in restated


@pytest.mark.parametrize("texts", [[], ["", "  "]])
def test_build_refuses_an_empty_corpus(texts):
    with pytest.raises(ValueError, match="empty corpus"):
        SentencePieceTokenizer.build(texts, vocabulary_size=340)


def test_build_refuses_unknown_options():
    with pytest.raises(ValueError, match=r"model_type.*'unigram', 'bpe'.*'word'"):
        SentencePieceTokenizer.build(CORPUS, vocabulary_size=340, model_type="word")
    with pytest.raises(ValueError, match="normalization_form='NFX'"):
        SentencePieceTokenizer.build(
            CORPUS, vocabulary_size=340, normalization_form="NFX"
        )


@pytest.mark.parametrize("kind", ["unigram", "bpe"])
def test_sampling_varies_and_detokenizes_back(kind, tokenizer, bpe_tokenizer):
    tokenizer = {"unigram": tokenizer, "bpe": bpe_tokenizer}[kind]
    texts = tf.constant(TEXTS + CORPUS[:20])
    deterministic = tokenizer.tokenize(texts).to_list()
    assert tokenizer.tokenize(texts).to_list() == deterministic
    samples = [tokenizer.sample_tokenize(texts, alpha=0.5) for _ in range(4)]
    as_lists = [sample.to_list() for sample in samples]
    assert any(sample != deterministic for sample in as_lists)
    assert any(sample != as_lists[0] for sample in as_lists[1:])
    expected = [_collapse(text) for text in TEXTS + CORPUS[:20]]
    for sample in samples:
        assert sample.dtype == tf.int64
        back = [text.decode() for text in tokenizer.detokenize(sample).numpy()]
        assert back == expected


def test_sampling_inside_tf_data_varies_between_epochs(tokenizer):
    dataset = (
        tf.data.Dataset.from_tensor_slices(CORPUS[:50])
        .batch(50)
        .map(lambda texts: tokenizer.sample_tokenize(texts, alpha=0.5))
    )
    first, second = (next(iter(dataset)).to_list() for _ in range(2))
    assert first != second


@pytest.mark.parametrize("alpha", [0, -0.1, 1.5, "0.1"])
def test_sampling_refuses_bad_alpha(alpha, tokenizer):
    with pytest.raises(ValueError, match=f"alpha={alpha!r}"):
        tokenizer.sample_tokenize(tf.constant(["x"]), alpha=alpha)


def test_tokenize_traces_into_a_saved_model(tokenizer, tmp_path):
    path = str(tmp_path / "saved")
    tf.saved_model.save(tokenizer, path)
    code = (
        "import sys, tensorflow as tf, tensorflow_text\n"
        "module = tf.saved_model.load(sys.argv[1])\n"
        "ids = module.tokenize(tf.constant([sys.argv[2]]))\n"
        "print(module.detokenize(ids).numpy()[0].decode())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, path, TEXTS[0]],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.stdout.strip().splitlines()[-1] == TEXTS[0]


@pytest.fixture(scope="module")
def ding():
    if not os.path.exists(DING_DE_EN_PATH):
        pytest.skip("trans-de-en missing")
    from keras_transformer_bit.data import load_ding_de_en

    return load_ding_de_en()


@pytest.mark.large
def test_round_trip_on_ding_test_and_validation(ding):
    """At least 99.9% of 4,000 held-out sentences come back exactly."""
    tokenizer = SentencePieceTokenizer.build(
        [sentence for pair in ding.train[:4000] for sentence in pair],
        vocabulary_size=4000,
    )
    sentences = [sentence for pair in ding.test + ding.validation for sentence in pair]
    assert len(sentences) == 4000
    ids = tokenizer.tokenize(tf.constant(sentences))
    assert int(np.sum(ids.flat_values.numpy() == tokenizer.unknown_id)) == 0
    back = [text.decode() for text in tokenizer.detokenize(ids).numpy()]
    exact = sum(_collapse(a) == _collapse(b) for a, b in zip(sentences, back))
    assert exact / len(sentences) >= 0.999, [
        (a, b) for a, b in zip(sentences, back) if _collapse(a) != _collapse(b)
    ][:10]


LOAD_AND_TRANSLATE = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the SentencePiece ops)
served = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
outputs = served(text=tf.constant(json.loads(sys.argv[2])))
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("keras_transformer_bit")),
    "translation": [t.decode() for t in outputs["translation"].numpy()],
}))
"""


@pytest.mark.large
def test_exported_translator_runs_without_our_package(tokenizer, tmp_path):
    import keras_transformer_bit as ktb
    from tests.tiny_translation import tiny_model

    model = tiny_model(seed=1, vocabulary_size=tokenizer.vocabulary_size)
    translator = ktb.Translator(model, tokenizer, tokenizer, beam_size=2, max_length=12)
    path = ktb.export.export_translator(translator, str(tmp_path / "translator" / "1"))
    expected, _ = translator.translate(TEXTS)
    assert any(expected)  # a random model, but not an empty output
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_TRANSLATE, path, json.dumps(TEXTS)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["modules"] == []
    assert served["translation"] == expected


# What a new user tried (issue 15): ids a model may emit, odd inputs.
RUN_ID_TO_TOKEN = """
import sys, tensorflow as tf
from keras_transformer_bit.data import SentencePieceTokenizer
tokenizer = SentencePieceTokenizer.load(sys.argv[1])
ids = tf.constant([5, int(sys.argv[2])])
try:
    tokenizer.id_to_token(ids)
except ValueError as error:
    print(error)
try:  # in a graph, a runtime check
    tf.function(tokenizer.id_to_token)(ids)
except tf.errors.InvalidArgumentError as error:
    print("graph:", " ".join(error.message.split()))
"""


@pytest.mark.parametrize("bad_id", ["size", "1000000", "-1"])
def test_id_to_token_names_an_id_outside_the_vocabulary(tokenizer, tmp_path, bad_id):
    """Such ids segfaulted tensorflow-text (exit 139); in a subprocess, so a
    crash fails this test instead of ending pytest."""
    tokenizer.save(str(tmp_path))
    size = tokenizer.vocabulary_size
    bad_id = str(size) if bad_id == "size" else bad_id
    result = subprocess.run(
        [sys.executable, "-c", RUN_ID_TO_TOKEN, str(tmp_path), bad_id],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    message, graph_message = result.stdout.strip().splitlines()[-2:]
    assert f"[0, {size})" in message
    assert f"Received: token_ids[1]={bad_id}" in message
    assert graph_message.startswith("graph:")
    assert f"token_ids must be in [0, {size})" in graph_message


def test_detokenize_does_not_wrap_ids_past_32_bits(tokenizer):
    wide = tf.constant([[2**32 + 29], [2**32], [-1]], tf.int64)
    assert tokenizer.detokenize(wide).numpy().tolist() == [b"", b"", b""]


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.bool])
def test_detokenize_refuses_non_integer_ids(tokenizer, dtype):
    with pytest.raises(TypeError, match=f"integer.*Received: dtype {dtype.name}"):
        tokenizer.detokenize(tf.cast(tf.constant([[5, 6]]), dtype))


@pytest.mark.parametrize("ids", [[5, 6, 7], [[[5, 6]]]])
def test_detokenize_names_the_shape_it_expects(tokenizer, ids):
    shape = re.escape(str(tuple(np.shape(ids))))
    with pytest.raises(ValueError, match=rf"\(N, T\).*Received: shape {shape}"):
        tokenizer.detokenize(tf.constant(ids))


@pytest.mark.parametrize(
    "strings, error, received",
    [
        ("Hallo", ValueError, "shape ()"),
        ([["Hallo"], ["Welt"]], ValueError, "shape (2, 1)"),
        ([1, 2], TypeError, "dtype int32"),
        (None, TypeError, "None"),
    ],
)
@pytest.mark.parametrize("method", ["tokenize", "sample_tokenize"])
def test_tokenize_explains_a_bad_batch(tokenizer, method, strings, error, received):
    with pytest.raises(error, match="strings must be a 1-D batch of strings") as info:
        getattr(tokenizer, method)(strings)
    assert f"Received: {received}" in str(info.value)


def test_tokenize_accepts_lists(tokenizer):
    expected = tokenizer.tokenize(tf.constant(TEXTS)).to_list()
    assert tokenizer.tokenize(TEXTS).to_list() == expected
    assert isinstance(tokenizer.sample_tokenize(TEXTS[:1]), tf.RaggedTensor)


@pytest.mark.parametrize("texts", ["Hallo Welt. " * 100, b"Hallo Welt. "])
def test_build_refuses_one_string(texts):
    with pytest.raises(TypeError, match="iterable of sentences, not one string"):
        SentencePieceTokenizer.build(texts, vocabulary_size=300)


@pytest.mark.parametrize("coverage", [2, 0.5, 0, "1", True])
def test_build_refuses_a_character_coverage_out_of_range(coverage):
    with pytest.raises(
        ValueError, match=rf"0\.98.*1.*Received: character_coverage={coverage!r}"
    ):
        SentencePieceTokenizer.build(
            CORPUS, vocabulary_size=340, character_coverage=coverage
        )


def test_load_names_an_empty_or_foreign_model_file(tokenizer, tmp_path):
    tokenizer.save(str(tmp_path))
    model_path = tmp_path / "sentencepiece.model"
    model_path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"sentencepiece\.model is empty"):
        SentencePieceTokenizer.load(str(tmp_path))
    model_path.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"sentencepiece\.model is not a Sen"):
        SentencePieceTokenizer.load(str(tmp_path))
    with pytest.raises(ValueError, match="model is empty"):
        SentencePieceTokenizer(b"")


def test_load_names_a_config_that_is_not_json(tokenizer, tmp_path):
    tokenizer.save(str(tmp_path))
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"tokenizer\.json is not valid JSON"):
        SentencePieceTokenizer.load(str(tmp_path))
