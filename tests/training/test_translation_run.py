"""`TranslationRun`: the run directory of `ktb translate train`, from Python."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_transformer_bit.training import TranslationRun
from keras_transformer_bit.training import translation_run as run_files
from tests.cli.test_translate_cli import _write_corpus
from tests.distribute.processes import kill, wait_for_line

# A model and pipeline small enough for seconds per epoch.
TINY = dict(
    preset="transformer_tiny",
    model_overrides=dict(num_layers=1, hidden_dim=16, intermediate_dim=32, num_heads=2),
    vocabulary_size=80,
    max_length=16,
    tokens_per_batch=128,
    test_size=6,
    validation_size=6,
)


@pytest.mark.large
def test_train_then_resume_in_user_code(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    run = TranslationRun(
        str(model_dir), strategy="one_device", data=str(corpus), **TINY
    )
    history = run.train(epochs=2, bleu_every=1, bleu_examples=4)
    assert [entry["epoch"] for entry in history] == [1, 2]
    assert all(0 <= entry["val_bleu"] <= 100 for entry in history)
    assert {"model.keras", "best.keras", "history.json"} <= set(os.listdir(model_dir))
    config = json.loads((model_dir / run_files.CONFIG_FILE).read_text())
    assert config["max_length"] == 16 and config["data"] == str(corpus)
    # Again: the saved settings are kept (none need repeating) and it goes on.
    history = TranslationRun(str(model_dir), strategy="one_device").train(
        epochs=1, bleu_every=0
    )
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    # A different setting is refused, named the Python way.
    with pytest.raises(ValueError, match=r"max_length=32 \(saved: max_length=16\)"):
        TranslationRun(str(model_dir), max_length=32).train(epochs=1)


def test_bad_settings_are_named_before_anything_is_read(tmp_path):
    with pytest.raises(
        ValueError, match=r"Unknown TranslationRun settings \['epoch'\]"
    ):
        TranslationRun(str(tmp_path / "run"), epoch=3)
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        TranslationRun(str(tmp_path / "run"), max_length=0).train(epochs=1)
    with pytest.raises(ValueError, match=r"tokenizer must be one of .*'bpe'"):
        TranslationRun(str(tmp_path / "run"), tokenizer="bpe").train(epochs=1)
    with pytest.raises(ValueError, match="budget_minutes must be > 0"):
        TranslationRun(str(tmp_path / "run")).train(budget_minutes=-1)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        TranslationRun(str(tmp_path / "run")).train(epochs=0)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no translate_config"):
        TranslationRun(str(tmp_path / "full")).train(epochs=1)
    assert os.listdir(tmp_path / "full") == ["notes.txt"]


USER_SCRIPT = textwrap.dedent(
    """
    import sys
    from keras_transformer_bit.training import TranslationRun

    model_dir, corpus, settings = sys.argv[1], sys.argv[2], eval(sys.argv[3])
    run = TranslationRun(model_dir, strategy="one_device", data=corpus, **settings)
    history = run.train(epochs=10, bleu_every=0)
    print("EPOCHS", [entry["epoch"] for entry in history], flush=True)
    """
)


@pytest.mark.large
@pytest.mark.timeout(300)
def test_a_killed_run_resumes_from_its_backup(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    script = tmp_path / "train.py"
    script.write_text(USER_SCRIPT)
    command = [sys.executable, str(script), str(model_dir), str(corpus), repr(TINY)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.getcwd() + os.pathsep + env.get("PYTHONPATH", "")
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for_line(log.read_text, r"^Epoch 4/10", 200), log.read_text()
    finally:
        kill(first)
    assert not (model_dir / "history.json").exists()  # killed before the end
    backup = json.loads((model_dir / "backup" / "training_metadata.json").read_text())
    second = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=200
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"from epoch {backup['epoch'] + 1} to 10" in second.stdout, second.stdout
    assert "EPOCHS [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" in second.stdout
    history = json.loads((model_dir / "history.json").read_text())
    assert all(np.isfinite(entry["loss"]) for entry in history)
    assert "backup" not in os.listdir(model_dir)
