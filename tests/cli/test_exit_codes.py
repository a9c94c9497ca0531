"""`ktb` exit statuses: 75 (EX_TEMPFAIL) when the cluster loses a worker."""

import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.cli import bit, main


def test_a_lost_worker_exits_75_without_a_traceback(monkeypatch, tmp_path, capsys):
    # Both trainers end through main(); `ktb bit train` stands in for both
    # here (tests/cli/test_translate_cli.py kills a real worker).
    def lose_the_cluster(args):
        raise ktb.distribute.ClusterError(
            "Lost contact with the cluster during epoch 3 (training): task:1 "
            "stopped sending heartbeats"
        )

    monkeypatch.setattr(bit, "train_command", lose_the_cluster)
    argv = ["bit", "train", "--data", str(tmp_path), "--model-dir", str(tmp_path)]
    assert main.main(argv) == ktb.distribute.WORKER_FAILURE_EXIT_CODE == 75
    err = capsys.readouterr().err
    assert err.startswith("ERROR: Lost contact") and "task:1 stopped" in err
    assert "Traceback" not in err


def test_other_errors_still_raise(monkeypatch, tmp_path):
    def fail(args):
        raise ValueError("bad --data")

    monkeypatch.setattr(bit, "train_command", fail)
    with pytest.raises(ValueError, match="bad --data"):
        main.main(["bit", "train", "--data", "x", "--model-dir", str(tmp_path)])


def test_worker_timeout_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="--worker-timeout must be > 0"):
        main.main(
            ["bit", "train", "--data", str(tmp_path), "--model-dir", str(tmp_path),
             "--worker-timeout", "0"]
        )  # fmt: skip
