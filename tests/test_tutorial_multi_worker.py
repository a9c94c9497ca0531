"""tutorials/multi_worker.py: the toy pairs every worker writes, and two local
workers training a `TranslationRun` through the run API, then the rerun."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import keras
import pytest

import keras_transformer_bit as ktb
from tests.helpers import run_script

TUTORIAL = pathlib.Path(__file__).parents[1] / "tutorials" / "multi_worker.py"


def _tutorial():
    spec = importlib.util.spec_from_file_location("multi_worker_tutorial", TUTORIAL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(*flags, cwd):
    return run_script(TUTORIAL, *flags, cwd=cwd, timeout=300)


def test_reversal_pairs_are_words_and_the_same_words_reversed():
    tutorial = _tutorial()
    pairs = tutorial.reversal_pairs(200, seed=3)
    assert len(pairs) == 200
    lengths = set()
    for source, target in pairs:
        words = source.split(" ")
        assert target.split(" ") == words[::-1]
        assert set(words) <= set(tutorial.WORDS)
        lengths.add(len(words))
    assert lengths == set(range(tutorial.MIN_WORDS, tutorial.MAX_WORDS + 1))
    # Not all palindromes: the model has something to learn.
    assert sum(source != target for source, target in pairs) > 190


def test_the_pairs_file_is_the_same_on_every_call_and_reads_as_a_corpus(tmp_path):
    tutorial = _tutorial()
    first = tutorial.write_reversal_pairs(str(tmp_path / "a.tsv"), 300, seed=0)
    second = tutorial.write_reversal_pairs(str(tmp_path / "b.tsv"), 300, seed=0)
    again = tutorial.write_reversal_pairs(first, 300, seed=0)
    other_seed = tutorial.write_reversal_pairs(str(tmp_path / "c.tsv"), 300, seed=1)
    text = pathlib.Path(first).read_text()
    assert again == first
    assert pathlib.Path(second).read_text() == text
    assert pathlib.Path(other_seed).read_text() != text
    # Only the files themselves: no temporary file is left beside them.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tsv", "b.tsv", "c.tsv"]
    lines = text.splitlines()
    assert [line.split("\t") for line in lines] == [
        list(pair) for pair in tutorial.reversal_pairs(300, seed=0)
    ]
    corpus = ktb.data.load_translation_corpus(first, test_size=20, validation_size=30)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (
        250,
        30,
        20,
    )


def test_the_pairs_file_is_named_after_its_content_beside_a_local_run(tmp_path):
    tutorial = _tutorial()
    run_dir = str(tmp_path / "runs" / "mw")
    path = tutorial.pairs_path(run_dir, num_pairs=512, seed=7)
    assert os.path.dirname(path) == str(tmp_path / "runs")
    assert "512" in os.path.basename(path) and "7" in os.path.basename(path)
    assert path == tutorial.pairs_path(run_dir + "/", num_pairs=512, seed=7)
    assert path != tutorial.pairs_path(run_dir, num_pairs=256, seed=7)
    # A bucket is not a file the corpus reader opens: the pairs stay local.
    remote = tutorial.pairs_path("gs://bucket/runs/mw", num_pairs=512, seed=7)
    assert remote.startswith(tempfile.gettempdir())


def test_flags_name_the_run_api_settings(tmp_path):
    result = _run("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    help_text = " ".join(result.stdout.split())
    for flag in ("--launch-local", "--register-timeout", "--worker-timeout"):
        assert flag in help_text


@pytest.mark.parametrize("flag", ["--epochs", "--register-timeout"])
def test_a_flag_of_zero_is_refused_naming_it_before_anything_runs(tmp_path, flag):
    run_dir = tmp_path / "run"
    result = _run(
        "--model", "transformer", flag, "0", "--model-dir", str(run_dir), cwd=tmp_path
    )
    assert result.returncode == 2, (result.stdout + result.stderr)[-4000:]
    assert f"argument {flag}: must be > 0. Received: 0" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.large
def test_two_local_workers_train_a_translation_run_and_a_rerun_finds_it(tmp_path):
    run_dir = tmp_path / "run"
    flags = [
        "--launch-local",
        "2",
        "--model",
        "transformer",
        "--epochs",
        "1",
        "--examples",
        "256",
        "--model-dir",
        str(run_dir),
    ]
    first = _run(*flags, cwd=tmp_path)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "MultiWorkerMirroredStrategy" in first.stdout, first.stdout[-4000:]
    run = ktb.training.TranslationRun(str(run_dir))
    config, source_tokenizer, _, model = run.load("last")
    assert config["preset"] == "transformer_tiny"
    assert model.vocabulary_size == source_tokenizer.vocabulary_size
    assert [entry["epoch"] for entry in run.history()] == [1]
    assert not (run_dir / ktb.distribute.CHECKPOINT_DIRNAME).exists()
    saved = (run_dir / "model.keras").stat().st_mtime_ns

    rerun = _run(*flags, cwd=tmp_path)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-4000:]
    assert "nothing to train" in rerun.stdout
    assert (run_dir / "model.keras").stat().st_mtime_ns == saved
    assert [entry["epoch"] for entry in run.history()] == [1]
    assert json.loads((run_dir / "translate_config.json").read_text()) == config


@pytest.mark.large
def test_two_local_workers_fine_tune_a_bit_run_and_a_rerun_trains_nothing(tmp_path):
    run_dir = tmp_path / "run"
    flags = [
        "--launch-local",
        "2",
        "--model",
        "bit",
        "--epochs",
        "1",
        "--schedule-scale",
        "0.02",  # 10 updates of 64 images
        "--model-dir",
        str(run_dir),
    ]
    first = _run(*flags, cwd=tmp_path)
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    assert "MultiWorkerMirroredStrategy" in first.stdout, first.stdout[-4000:]
    run = ktb.training.BiTRun(str(run_dir), data="fashion_mnist")
    config = run.saved_config()
    assert config["flags"]["data"].startswith("LabeledImages(1024 images, 10 classes")
    assert config["rule"]["supports"][-1] == 10
    classifier = keras.saving.load_model(run.model_path)
    assert classifier.output_shape == (None, 10)
    assert not (run_dir / ktb.distribute.CHECKPOINT_DIRNAME).exists()
    saved = (run_dir / "model.keras").stat().st_mtime_ns

    rerun = _run(*flags, cwd=tmp_path)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-4000:]
    assert "nothing to train" in rerun.stdout
    assert "Workers on" in rerun.stdout
    assert (run_dir / "model.keras").stat().st_mtime_ns == saved


@pytest.mark.large
def test_a_worker_alone_exits_75_after_the_register_timeout(tmp_path):
    ports = ktb.distribute.free_ports(2)
    tf_config = ktb.distribute.make_tf_config(
        [f"127.0.0.1:{port}" for port in ports], task_index=0
    )
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            str(TUTORIAL),
            "--model",
            "transformer",
            "--examples",
            "64",
            "--register-timeout",
            "3",
            "--model-dir",
            str(run_dir),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **os.environ,
            "TF_CONFIG": tf_config,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "CUDA_VISIBLE_DEVICES": "",
        },
        timeout=120,
    )
    assert result.returncode == ktb.distribute.WORKER_FAILURE_EXIT_CODE == 75, (
        result.stdout + result.stderr
    )[-4000:]
    assert "did not form within 3.0 s" in result.stderr
    assert f"127.0.0.1:{ports[1]}" in result.stderr
    assert not run_dir.exists()
