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


@pytest.mark.parametrize("ending", ["\n\n", "\n \n\n", "\r\n\r\n"])
def test_blank_lines_at_the_end_of_an_aligned_file_are_no_lines(tmp_path, ending):
    source, target = tmp_path / "train.de", tmp_path / "train.en"
    pairs = _pairs(10)
    source.write_text("\n".join(s for s, _ in pairs) + ending)
    target.write_text("\n".join(t for _, t in pairs) + "\n")
    corpus = read_aligned_corpus(
        str(source), str(target), test_size=2, validation_size=0
    )
    assert sorted(corpus.train + corpus.test) == sorted(pairs)
    assert corpus.num_malformed == 0
    # Only blank lines beyond the other file's count: a lost sentence still shows.
    target.write_text("\n".join(t for _, t in pairs[:-1]) + "\n")
    with pytest.raises(ValueError, match="same number of lines.*has 10.*has 9"):
        read_aligned_corpus(str(source), str(target))
    target.write_text("\n".join(t for _, t in pairs[:-1]) + "\n\n\n\n")
    corpus = read_aligned_corpus(str(source), str(target), test_size=2)
    assert corpus.num_malformed == 1  # the last sentence, paired with a blank


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
    with pytest.raises(ValueError, match=r"bad.tsv has no column 1 .*at most 1 tab"):
        read_tsv_corpus(str(malformed_only))


@pytest.mark.parametrize(
    "columns, message",
    [
        ({"source_column": "0"}, r"source_column must be an int >= 0.*'0'"),
        ({"target_column": -1}, r"target_column must be an int >= 0.*-1"),
        ({"source_column": True}, r"source_column must be an int >= 0"),
        (
            {"source_column": 1, "target_column": 1},
            r"source_column and target_column must differ.*1",
        ),
    ],
)
def test_bad_columns_are_named(tmp_path, columns, message):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in _pairs(10)))
    with pytest.raises(ValueError, match=message):
        read_tsv_corpus(str(path), **columns)


def test_a_column_beyond_every_line_is_named_with_the_number_of_columns(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in _pairs(10)))
    with pytest.raises(
        ValueError, match=r"no column 5.*at most 2 tab-separated.*source_column=5"
    ):
        read_tsv_corpus(str(path), source_column=5)


def test_a_directory_is_refused_as_a_corpus_file(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"is a directory; expected a corpus"):
        read_tsv_corpus(str(tmp_path))
    with pytest.raises(IsADirectoryError, match=r"is a directory"):
        read_aligned_corpus(str(tmp_path), str(tmp_path))


def test_an_invisible_side_is_malformed(tmp_path):
    path = tmp_path / "pairs.tsv"
    lines = [f"{s}\t{t}" for s, t in _pairs(10)]
    lines += ["\u200b\tSentence.", "Satz.\t\ufeff"]
    path.write_text("\n".join(lines) + "\n")
    assert read_tsv_corpus(str(path)).num_malformed == 2
    with pytest.raises(ValueError, match=r"pairs.tsv:11 is malformed"):
        read_tsv_corpus(str(path), on_malformed="raise")


@pytest.mark.parametrize(
    "separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1e", "\r"]
)
def test_only_newlines_end_a_line(tmp_path, separator):
    sources = [f"Satz {i}." for i in range(10)]
    targets = [f"Sentence {i}." for i in range(10)]
    sources[2] = f"Satz 2{separator}zwei."
    targets[7] = f"Sentence 7{separator}seven."
    (tmp_path / "a.src").write_bytes(("\n".join(sources) + "\n").encode())
    (tmp_path / "a.tgt").write_bytes("\r\n".join(targets).encode())
    corpus = read_aligned_corpus(
        str(tmp_path / "a.src"), str(tmp_path / "a.tgt"), test_size=0, validation_size=0
    )
    numbers = [(s.split()[1][0], t.split()[1][0]) for s, t in corpus.train]
    assert all(a == b for a, b in numbers) and len(numbers) == 10
    tsv = tmp_path / "pairs.tsv"
    tsv.write_bytes("".join(f"{s}\t{t}\n" for s, t in zip(sources, targets)).encode())
    corpus = read_tsv_corpus(str(tsv), test_size=0, validation_size=0)
    assert len(corpus.train) == 10 and corpus.num_malformed == 0
