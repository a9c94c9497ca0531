import os
import stat

import pytest

from keras_transformer_bit.export.write_directory_atomically import (
    write_directory_atomically,
)


def _write(directory):
    with open(os.path.join(directory, "saved_model.pb"), "w") as file:
        file.write("model")


def test_export_is_readable_by_other_users(tmp_path):
    """TF Serving may run as another user: no private 0700 directory."""
    old = os.umask(0o022)
    try:
        write_directory_atomically(str(tmp_path / "1"), _write)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "1").st_mode) == 0o755


def test_never_replaces_an_export_and_leaves_nothing_behind(tmp_path):
    write_directory_atomically(str(tmp_path / "1"), _write)
    (tmp_path / "1" / "saved_model.pb").write_text("served")
    with pytest.raises(FileExistsError, match=r"export the next version, e\.g\. .*2"):
        write_directory_atomically(str(tmp_path / "1"), _write)
    assert (tmp_path / "1" / "saved_model.pb").read_text() == "served"
    assert sorted(os.listdir(tmp_path)) == ["1"]


def test_an_export_written_meanwhile_is_not_replaced(tmp_path):
    def write_while_another_export_lands(directory):
        _write(directory)
        (tmp_path / "1").mkdir()
        (tmp_path / "1" / "saved_model.pb").write_text("the other one")

    with pytest.raises(FileExistsError, match="already exists"):
        write_directory_atomically(
            str(tmp_path / "1"), write_while_another_export_lands
        )
    assert (tmp_path / "1" / "saved_model.pb").read_text() == "the other one"
    assert sorted(os.listdir(tmp_path)) == ["1"]  # no staging directory left


def test_refuses_to_replace_a_file(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        write_directory_atomically(str(notes), _write)
    assert notes.read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_an_export_under_a_file_is_refused_naming_the_file(tmp_path):
    notes = tmp_path / "notes"
    notes.write_text("mine")
    with pytest.raises(FileExistsError, match="under .*notes, which is a file"):
        write_directory_atomically(str(notes / "1"), _write)
    assert notes.read_text() == "mine"
