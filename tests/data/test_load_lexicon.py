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
