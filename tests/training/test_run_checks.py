"""The checks both runs share: one message for each, in Python and the CLI."""

import pytest

from keras_transformer_bit.training import bit_run, translation_run
from keras_transformer_bit.training.run_checks import (
    check_model_dir_not_a_file,
    check_positive_number,
    describe_setting,
)


def test_describe_setting_is_the_runs_default():
    assert describe_setting("shots", 5) == "shots=5"
    assert describe_setting("data", "a.tsv") == "data='a.tsv'"
    assert describe_setting("model_overrides.num_layers", 2) == "num_layers=2"
    assert describe_setting("model_overrides.dropout", None) == "dropout=(the preset's)"
    assert bit_run.describe_setting is describe_setting
    assert bit_run.changed_settings({"shots": 1}, {"shots": 2}) == [
        "shots=2 (saved: shots=1)"
    ]
    saved = {**translation_run.default_config(), "max_length": 8}
    assert translation_run.changed_settings(saved, {"max_length": 16}) == [
        "max_length=16 (saved: max_length=8)"
    ]


def test_a_file_is_not_a_run_directory(tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    check_model_dir_not_a_file(str(tmp_path))
    check_model_dir_not_a_file(str(tmp_path / "absent"))
    with pytest.raises(ValueError, match=r"^--model-dir .*notes.txt is a file, not"):
        check_model_dir_not_a_file(str(afile), "--model-dir")
    for run in (
        bit_run.BiTRun(str(afile), data="fashion_mnist"),
        translation_run.TranslationRun(str(afile)),
    ):
        with pytest.raises(ValueError, match=r"^model_dir .*notes.txt is a file, not"):
            run.train(worker_timeout=60)


@pytest.mark.parametrize("value", [0, -1, True, "5", float("nan")])
def test_positive_numbers(value):
    with pytest.raises(ValueError, match=r"^t must be > 0 seconds. Received: t="):
        check_positive_number("t", value, unit=" seconds")
    with pytest.raises(ValueError, match=r"^t must be > 0. Received: t="):
        check_positive_number("t", value, allow_none=True)


def test_positive_numbers_pass_and_none_only_where_allowed():
    check_positive_number("t", 0.5)
    check_positive_number("t", None, allow_none=True)
    with pytest.raises(ValueError, match=r"t must be > 0. Received: t=None"):
        check_positive_number("t", None)


def test_both_runs_refuse_a_worker_timeout_of_zero(tmp_path):
    with pytest.raises(ValueError, match=r"worker_timeout must be > 0 seconds"):
        bit_run.BiTRun(str(tmp_path / "r"), data="fashion_mnist").train(
            worker_timeout=0
        )
    with pytest.raises(ValueError, match=r"^worker_timeout must be > 0. Received"):
        translation_run.TranslationRun(str(tmp_path / "r")).train(worker_timeout=0)


@pytest.mark.parametrize(
    "columns, message",
    [
        (dict(source_column=-1), r"source_column must be an int >= 0.*-1"),
        (dict(target_column="1"), r"target_column must be an int >= 0.*'1'"),
        (dict(source_column=True), r"source_column must be an int >= 0"),
        (dict(source_column=1, target_column=1), r"must differ"),
    ],
)
def test_resolve_config_checks_the_columns(tmp_path, columns, message):
    from keras_transformer_bit.training import TranslationRun

    with pytest.raises(ValueError, match=message):
        TranslationRun(tmp_path / "run", **columns).resolve_config()
