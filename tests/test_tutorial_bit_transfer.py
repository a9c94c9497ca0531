"""tutorials/bit_transfer.py: statistics, the upstream cache and its outputs."""

import importlib.util
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_transformer_bit as ktb

TUTORIAL = pathlib.Path(__file__).parents[1] / "tutorials" / "bit_transfer.py"


@pytest.fixture(scope="module")
def tutorial():
    spec = importlib.util.spec_from_file_location("bit_transfer_tutorial", TUTORIAL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_welch_t_matches_the_textbook_formula(tutorial):
    a, b = [0.61, 0.58, 0.66, 0.63, 0.60], [0.52, 0.57, 0.49, 0.55, 0.50]
    t, df = tutorial.welch_t(a, b)
    # By hand: means 0.616 and 0.526, variances 0.00093 and 0.00113 (ddof=1).
    se = math.sqrt(0.00093 / 5 + 0.00113 / 5)
    assert t == pytest.approx((0.616 - 0.526) / se, rel=1e-6)
    expected_df = (0.00093 / 5 + 0.00113 / 5) ** 2 / (
        (0.00093 / 5) ** 2 / 4 + (0.00113 / 5) ** 2 / 4
    )
    assert df == pytest.approx(expected_df, rel=1e-6)
    assert tutorial.welch_t(b, a)[0] == pytest.approx(-t)


def test_welch_t_edge_cases(tutorial):
    assert math.isnan(tutorial.welch_t([0.5], [0.4, 0.3])[0])
    assert tutorial.welch_t([0.5, 0.5], [0.4, 0.4])[0] == math.inf
    assert tutorial.welch_t([0.5, 0.5], [0.5, 0.5])[0] == 0.0


def test_verdict_names_the_shot_counts_that_miss(tutorial):
    rows = [(1, 0, 0, 0, 0, 1.0, 1.2, 8.0), (5, 0, 0, 0, 0, 5.0, 3.0, 8.0)]
    sentence = tutorial.verdict(rows)
    assert "does not hold everywhere" in sentence
    assert "t < 2 at 1 example" in sentence and "t >= 2 at 5" in sentence
    assert "holds here" in tutorial.verdict([(1, 0, 0, 0, 0, 4.0, 2.5, 8.0)])


def test_upstream_cache_key_follows_the_settings(tutorial, tmp_path):
    base = ["--upstream-cache", str(tmp_path)]
    path = tutorial.upstream_cache_path(tutorial.parse_args(base))
    assert path == tutorial.upstream_cache_path(tutorial.parse_args(base))
    assert path.startswith(str(tmp_path)) and path.endswith(".npz")
    for flags in (["--upstream-steps", "10"], ["--crop-size", "48"]):
        other = tutorial.upstream_cache_path(tutorial.parse_args(base + flags))
        assert other != path


def test_the_cpu_rule_is_passed_to_the_runs_as_settings(tutorial):
    # The documented run: the rule's learning rate and updates, crop 32 and
    # batch 32 (see "CPU budget"); --quick runs 4% of the schedule.
    default = tutorial.fine_tune_settings(tutorial.parse_args([]))
    assert default == {"crop_size": 32, "batch_size": 32, "schedule_scale": 1.0}
    quick = tutorial.fine_tune_settings(tutorial.parse_args(["--quick"]))
    assert quick["schedule_scale"] == 0.04
    # --full-hyperrule: the rule unchanged, whatever else is passed.
    full = tutorial.parse_args(["--full-hyperrule", "--quick", "--crop-size", "48"])
    assert tutorial.fine_tune_settings(full) == {}
    settings = set(ktb.training.default_bit_settings())
    assert set(default) <= settings


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--seeds", "0"], "--seeds must be a positive int"),
        (["--shots", "1", "0"], "--shots must be positive"),
        (["--dataset", "beans"], "--dataset needs --weights"),
        (["--schedule-scale", "2"], "--schedule-scale must be in (0, 1]"),
    ],
)
def test_bad_flags_are_refused(tutorial, flags, message, capsys):
    with pytest.raises(SystemExit):
        tutorial.parse_args(flags)
    assert message in capsys.readouterr().err


def weights_of(path):
    return [w.numpy() for w in keras.saving.load_model(path).weights]


def max_difference(weights, others):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(weights, others))


def run_tutorial(flags):
    """The tutorial as a user runs it: a fresh process; returns its stdout."""
    done = subprocess.run(
        [sys.executable, str(TUTORIAL), *flags],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.large
def test_quick_run_writes_table_plot_and_raw_results_and_reruns_only_what_is_missing(
    tutorial, tmp_path
):
    flags = [
        "--quick",
        "--shots",
        "1",
        "2",
        "--upstream-cache",
        str(tmp_path / "cache"),
        "--work-dir",
        str(tmp_path / "work"),
        "--test-examples",
        "64",
    ]
    # Each run is its own process, as when a user types the command: inside
    # one long-lived process (the whole test suite) the CPU kernels gave a
    # retrained run weights 0.011 away from the first in one run of the suite,
    # while separate processes reproduce the weights bitwise.
    run_tutorial(flags + ["--output-dir", str(tmp_path / "out")])
    results = json.loads((tmp_path / "out" / "bit_transfer.json").read_text())
    assert results["upstream"]["cached"] is False
    cached = list((tmp_path / "cache").glob("upstream-*.npz"))
    assert len(cached) == 1 and not list((tmp_path / "cache").glob("*partial*"))
    for arm in ("transfer", "scratch"):
        values = results["accuracy"][arm]["1"]
        assert len(values) == 2 and all(0 <= v <= 1 for v in values)
    assert results["downstream_classes"] == list(tutorial.DOWNSTREAM_CLASSES)
    # Each shot count records its own rule (4 classes x shots examples), the
    # CPU rule: crop 32 of 40, batch 32, lr 0.003, 4% of 500 updates.
    assert results["rules"]["1"]["dataset_size"] == 4
    assert results["rules"]["2"]["dataset_size"] == 8
    rule = results["rules"]["1"]
    assert (rule["crop_size"], rule["resize_size"], rule["batch_size"]) == (32, 40, 32)
    assert rule["base_learning_rate"] == 0.003 and rule["supports"][-1] == 20
    assert results["test_examples"] == 64
    table = (tmp_path / "out" / "bit_transfer.md").read_text()
    assert "| 1 |" in table and "| 2 |" in table and "Welch t" in table
    assert "bit_transfer.png" in table
    assert "weights=path" in table
    png = (tmp_path / "out" / "bit_transfer.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    # Each fine-tune is a BiTRun directory holding its finished model.
    runs = tmp_path / "work" / "runs"
    assert len(list(runs.glob("*/model.keras"))) == 8
    assert not list(runs.glob("*/backup"))

    # The same command again: the finished runs are skipped, their saved
    # models evaluated (the same accuracy exactly); a run whose directory
    # went is trained again from the same seed on the same upstream, to the
    # same weights.
    lost = runs / "shots1_seed0_transfer"
    first = weights_of(lost / "model.keras")
    other_seed = weights_of(runs / "shots1_seed1_transfer" / "model.keras")
    shutil.rmtree(lost)
    out = run_tutorial(flags + ["--output-dir", str(tmp_path / "again")])
    again = json.loads((tmp_path / "again" / "bit_transfer.json").read_text())
    assert out.count("holds a finished run") == 7
    assert again["upstream"]["cached"] is True
    assert again["upstream"]["test_accuracy"] == results["upstream"]["test_accuracy"]
    retrained = weights_of(lost / "model.keras")
    drift = max_difference(retrained, first)
    assert drift < 1e-5 and max_difference(other_seed, first) > 1e-3, drift
    assert again["accuracy"] == results["accuracy"]
    # Another setting in the same --work-dir: refused, naming it.
    with pytest.raises(ValueError, match=r"batch_size=16 \(saved: batch_size=32\)"):
        tutorial.run(tutorial.parse_args(flags + ["--batch-size", "16"]))
