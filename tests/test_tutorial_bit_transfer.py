"""tutorials/bit_transfer.py: statistics, the upstream cache and its outputs."""

import importlib.util
import json
import math
import pathlib

import numpy as np
import pytest

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


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--seeds", "0"], "--seeds must be a positive int"),
        (["--shots", "1", "0"], "--shots must be positive"),
        (["--dataset", "beans"], "--dataset needs --weights"),
    ],
)
def test_bad_flags_are_refused(tutorial, flags, message, capsys):
    with pytest.raises(SystemExit):
        tutorial.parse_args(flags)
    assert message in capsys.readouterr().err


@pytest.mark.large
def test_quick_run_writes_table_plot_and_raw_results_and_reuses_upstream(
    tutorial, tmp_path
):
    flags = [
        "--quick",
        "--shots",
        "1",
        "2",
        "--upstream-cache",
        str(tmp_path / "cache"),
        "--output-dir",
        str(tmp_path / "out"),
        "--test-examples",
        "64",
    ]
    results = tutorial.run(tutorial.parse_args(flags))
    assert results["upstream"]["cached"] is False
    cached = list((tmp_path / "cache").glob("upstream-*.npz"))
    assert len(cached) == 1 and not list((tmp_path / "cache").glob("*partial*"))
    raw = json.loads((tmp_path / "out" / "bit_transfer.json").read_text())
    for arm in ("transfer", "scratch"):
        values = raw["accuracy"][arm]["1"]
        assert len(values) == 2 and all(0 <= v <= 1 for v in values)
    assert raw["downstream_classes"] == list(tutorial.DOWNSTREAM_CLASSES)
    # Each shot count records its own rule (4 classes x shots examples).
    assert raw["rules"]["1"]["dataset_size"] == 4
    assert raw["rules"]["2"]["dataset_size"] == 8
    assert raw["test_examples"] == 64
    table = (tmp_path / "out" / "bit_transfer.md").read_text()
    assert "| 1 |" in table and "| 2 |" in table and "Welch t" in table
    assert "bit_transfer.png" in table
    assert "weights=path" in table
    png = (tmp_path / "out" / "bit_transfer.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000

    again = tutorial.run(tutorial.parse_args(flags[:-4] + ["--test-examples", "64"]))
    assert again["upstream"]["cached"] is True
    assert again["upstream"]["test_accuracy"] == results["upstream"]["test_accuracy"]
    # The same seeds on the same upstream give the same accuracies.
    np.testing.assert_allclose(
        again["accuracy"]["transfer"]["1"], results["accuracy"]["transfer"]["1"]
    )
