import pytest

from keras_transformer_bit.data.text_file_corpus import (
    read_aligned_corpus,
    read_tsv_corpus,
)


def _pairs(n):
    return [(f"Quelle Nummer {i}.", f"Source number {i}.") for i in range(n)]


def test_tsv_counts_and_skips_malformed_lines(tmp_path):
    lines = [f"{s}\t{t}" for s, t in _pairs(20)]
    lines += ["no tab here", "\tempty source", "", "only source\t  "]
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = read_tsv_corpus(str(path), test_size=4, validation_size=2)
    assert corpus.num_malformed == 3
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (14, 2, 4)
    assert sorted(corpus.train + corpus.validation + corpus.test) == sorted(_pairs(20))
    with pytest.raises(ValueError, match=r"pairs.tsv:21 is malformed"):
        read_tsv_corpus(str(path), on_malformed="raise")
    with pytest.raises(ValueError, match="on_malformed"):
        read_tsv_corpus(str(path), on_malformed="ignore")


def test_tsv_columns(tmp_path):
    path = tmp_path / "three.tsv"
    path.write_text("".join(f"id{i}\t{s}\t{t}\n" for i, (s, t) in enumerate(_pairs(6))))
    corpus = read_tsv_corpus(
        str(path), source_column=2, target_column=1, test_size=0, validation_size=0
    )
    assert sorted(corpus.train) == sorted((t, s) for s, t in _pairs(6))


def test_aligned_files(tmp_path):
    source, target = tmp_path / "train.de", tmp_path / "train.en"
    pairs = _pairs(10)
    source.write_text("\n".join([s for s, _ in pairs] + ["nur deutsch"]) + "\n")
    target.write_text("\n".join([t for _, t in pairs] + [""]) + "\n")
    corpus = read_aligned_corpus(
        str(source), str(target), test_size=2, validation_size=0
    )
    assert corpus.num_malformed == 1
    assert sorted(corpus.train + corpus.test) == sorted(pairs)
    with pytest.raises(ValueError, match="empty side"):
        read_aligned_corpus(str(source), str(target), on_malformed="raise")
    target.write_text("one line\n")
    with pytest.raises(ValueError, match="same number of lines"):
        read_aligned_corpus(str(source), str(target))


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        read_tsv_corpus(str(tmp_path / "missing.tsv"))
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_tsv_corpus(str(empty))
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes(
        "Grüße\tgreetings\n".encode("utf-8") + "Grüße\tx\n".encode("latin-1")
    )
    with pytest.raises(ValueError, match=r"latin1.tsv:2 is not valid UTF-8"):
        read_tsv_corpus(str(latin1))
    malformed_only = tmp_path / "bad.tsv"
    malformed_only.write_text("a\nb\n")
    with pytest.raises(ValueError, match="empty"):
        read_tsv_corpus(str(malformed_only))
