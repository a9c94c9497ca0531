import os

import pytest

from keras_transformer_bit.utils import write_text_atomically


def test_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / "config.json")
    write_text_atomically(path, "first\n")
    write_text_atomically(path, "second ü\n")
    with open(path, encoding="utf-8") as file:
        assert file.read() == "second ü\n"
    assert os.listdir(tmp_path) == ["config.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "history.json")
    write_text_atomically(path, "[1, 2]\n")
    with pytest.raises(TypeError):
        write_text_atomically(path, None)  # fails inside the write
    with open(path, encoding="utf-8") as file:
        assert file.read() == "[1, 2]\n"
    assert os.listdir(tmp_path) == ["history.json"]
