"""The `ktb` console script: user errors are one line, not a traceback."""

import os
import signal
import subprocess
import sys
import time

import pytest

from keras_transformer_bit.cli.main import run


def test_a_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.tsv"
    code = run(["translate", "train", "--data", str(missing), "--model-dir", "r"])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("ktb: error: ") and "missing.tsv" in error
    assert "Traceback" not in error


def test_a_missing_run_directory_is_one_line(tmp_path, capsys):
    code = run(["translate", "predict", "--model-dir", str(tmp_path / "none"), "Hi"])
    assert code == 2
    assert "ktb: error:" in capsys.readouterr().err


def test_the_installed_script_uses_run():
    script = os.path.join(os.path.dirname(sys.executable), "ktb")
    with open(script) as file:
        assert "run" in file.read()


@pytest.mark.large
def test_ctrl_c_says_how_to_resume(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    corpus.write_text(
        "".join(f"Ich bin {i} hier.\tI am here {i}.\n" for i in range(60)),
        encoding="utf-8",
    )
    script = os.path.join(os.path.dirname(sys.executable), "ktb")
    command = [script, "translate", "train", "--data", str(corpus), "--model-dir"]
    command += [str(tmp_path / "run"), "--preset", "transformer_tiny"]
    # Far more epochs than can finish: the interrupt must land mid-training
    # however fast or loaded the machine is.
    command += ["--epochs", "100000"]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # A shell without job control starts background jobs (a test suite
        # run with `&`) with SIGINT ignored, and children inherit that: give
        # the command the default disposition a terminal's Ctrl-C meets.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # The tokenizer is written just before training starts.
    started = tmp_path / "run" / "source_tokenizer"
    deadline = time.monotonic() + 240
    while not started.exists() and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        time.sleep(1)
    time.sleep(5)
    process.send_signal(signal.SIGINT)
    try:
        _, error = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()  # never leave a 100,000-epoch run behind
        process.communicate()
        raise
    assert process.returncode == 130, error[-2000:]
    # Deferred to the next step: inside one, TensorFlow could turn the
    # KeyboardInterrupt into a SystemError or swallow it.
    assert "stopping once the current step" in error, error[-2000:]
    assert "Run the same command again to go on" in error
