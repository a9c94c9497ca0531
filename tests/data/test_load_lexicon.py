"""`load_lexicon`: a word lexicon by name or from a TSV file."""

import os

import pytest

from keras_transformer_bit.data import load_lexicon


def test_a_tsv_file_is_read_first_entry_first(tmp_path):
    path = tmp_path / "lexicon.tsv"
    path.write_text("Katze\tcat\n\nHund\t dog \nKatze\tkitten\n", encoding="utf-8")
    assert load_lexicon(path) == {"Katze": "cat", "Hund": "dog"}
    assert load_lexicon(str(path)) == {"Katze": "cat", "Hund": "dog"}


def test_bad_lexicons_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'nowhere.tsv' is neither one of"):
        load_lexicon("nowhere.tsv")
    with pytest.raises(FileNotFoundError, match=r"It is a directory"):
        load_lexicon(tmp_path)
    path = tmp_path / "bad.tsv"
    path.write_text("Katze\tcat\nHund dog\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2 is not 'word<TAB>translation'"):
        load_lexicon(path)
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"holds no entries"):
        load_lexicon(empty)
    for value in (None, 3, ["ding"]):
        with pytest.raises(TypeError, match=r"one of \['ding'\] or a TSV"):
            load_lexicon(value)


@pytest.mark.skipif(
    not os.path.exists("/usr/share/trans/de-en"), reason="needs Debian trans-de-en"
)
def test_ding_is_a_name():
    assert load_lexicon(" Ding ")["Hund"] == "dog"


def test_a_byte_order_mark_and_windows_line_ends_are_read(tmp_path):
    # Found by a user trial: the BOM stuck to the first word, which then
    # never matched, silently.
    path = tmp_path / "bom.tsv"
    path.write_bytes(b"\xef\xbb\xbfHund\tdog\r\nKatze\tcat\r\n")
    assert load_lexicon(path) == {"Hund": "dog", "Katze": "cat"}


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    # Found by a user trial: a bare UnicodeDecodeError, naming no file.
    path = tmp_path / "latin.tsv"
    path.write_bytes(b"Hund\tdog\nK\xe4tze\tcat\n")
    with pytest.raises(ValueError, match=r"latin.tsv:2 is not valid UTF-8"):
        load_lexicon(path)


def test_a_third_column_is_refused(tmp_path):
    # Found by a user trial: it joined the translation silently.
    path = tmp_path / "three.tsv"
    path.write_text("Hund\tdog\textra\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"three.tsv:1 has 3 columns"):
        load_lexicon(path)
