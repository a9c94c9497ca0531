"""bench/rnn_parallelism.py: the step-time probe behind the Transformer/RNN speed."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).parents[2] / "bench"


@pytest.mark.large
@pytest.mark.timeout(600)
def test_a_quick_run_measures_both_models_at_one_and_two_threads(tmp_path):
    output = tmp_path / "probe.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "rnn_parallelism.py"), "--quick",
         "--lengths", "8", "--output", str(output)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads(output.read_text())
    assert set(saved["raw"]) == {
        "transformer x1", "recurrent x1", "transformer x2", "recurrent x2"
    }  # fmt: skip
    for name, by_length in saved["raw"].items():
        step = by_length["8"]
        assert step["batch"] == 256 and step["tokens"] == 2048, name
        assert step["seconds_per_step"] > 0, name
    assert "| 8 | 256 |" in saved["table"]
