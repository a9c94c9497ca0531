"""tutorials/translate.py: its options, checked before any corpus is read."""

import json
import pathlib

import pytest

from keras_transformer_bit.training import default_config
from tests.helpers import run_script

TUTORIAL = pathlib.Path(__file__).parents[1] / "tutorials" / "translate.py"


def _run(*flags, cwd):
    return run_script(TUTORIAL, *flags, cwd=cwd, timeout=120)


def test_tokenizer_option_defaults_to_wordpiece(tmp_path):
    result = _run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    help_text = " ".join(result.stdout.split())
    assert "--tokenizer {sentencepiece,sentencepiece-bpe,wordpiece}" in help_text
    assert "(default: wordpiece)" in help_text
    assert "--subword-sampling-alpha" in help_text


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--subword-sampling-alpha", "0.1"], "needs --tokenizer sentencepiece"),
        (
            ["--tokenizer", "sentencepiece", "--subword-sampling-alpha", "0"],
            r"must be in (0, 1]. Received: 0.0",
        ),
    ],
)
def test_bad_sampling_options_stop_before_training(tmp_path, flags, message):
    result = _run(*flags, "--output-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "run").exists()


def test_another_tokenizer_on_a_saved_run_is_one_line_naming_the_flag(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    config = {**default_config(), "test_size": 1000, "validation_size": 1000}
    (run / "translate_config.json").write_text(json.dumps(config))
    flags = ["--tokenizer", "sentencepiece", "--output-dir", str(run)]
    result = _run(*flags, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--tokenizer sentencepiece (saved: --tokenizer wordpiece)" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in run.iterdir()) == ["translate_config.json"]
