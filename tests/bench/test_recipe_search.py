"""bench/recipe_search.py: trials train through TranslationRun and are scored
on the validation split only; a rerun skips finished trials."""

import json
import pathlib
import subprocess
import sys

import pytest

from tests.cli.test_translate_cli import _write_corpus

SCRIPT = pathlib.Path(__file__).parents[2] / "bench" / "recipe_search.py"


@pytest.mark.large
@pytest.mark.timeout(400)
def test_quick_search_scores_each_trial_on_validation_and_resumes(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus, num_pairs=120)
    output = tmp_path / "search"
    command = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--data",
        str(corpus),
        "--output-dir",
        str(output),
        "--average-windows",
        "1",
        "999",
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    assert "averaging window 999 skipped: the trial trained" in done.stderr
    results = json.loads((output / "results.json").read_text())
    assert [r["name"] for r in results] == ["base", "averaged"]
    for result in results:
        assert result["validation_sentences"] == 20
        assert 0 <= result["last_bleu"] <= 100 and result["epochs"] >= 1
    assert "averaged_bleu" in results[1] and "averaged_bleu" not in results[0]
    # --average-windows: the mean of the last epoch alone is the last weights;
    # a window longer than the epochs trained is left out.
    assert results[1]["averaged_1_bleu"] == results[1]["last_bleu"]
    assert results[1]["averaged_1_chrf"] == results[1]["last_chrf"]
    assert "averaged_999_bleu" not in results[1]
    assert "averaged_1_bleu" not in results[0]  # no averaging in that trial
    assert (output / "averaged" / "averaged.keras").exists()
    table = (output / "results.md").read_text()
    assert len(table.strip().splitlines()) == 4  # header, separator, two trials
    assert '| base | `{"average_checkpoints": 0}` |' in table and "nan" not in table
    assert "| averaged 1 | val chrF (best) |" in table.splitlines()[0]
    assert all(line.count("|") == 9 for line in table.strip().splitlines())
    # Only validation is decoded: the test split is for the final number.
    source = SCRIPT.read_text()
    assert "corpus.test" not in source
    # A rerun finds both trials done and trains nothing.
    again = subprocess.run(command, check=True, capture_output=True, text=True)
    assert again.stdout.count("done before, skipped") == 2


def test_trials_need_unique_names(tmp_path):
    trials = tmp_path / "trials.json"
    trials.write_text(json.dumps([{"name": "a"}, {"name": "a"}]))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--trials", str(trials)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "every trial needs a unique name. Received: ['a', 'a']" in done.stderr


@pytest.mark.parametrize("window", ["0", "-2", "x", "1.5"])
def test_an_averaging_window_that_is_not_a_positive_int_is_refused(window):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--average-windows", window],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert f"expected a positive int, got {window!r}" in done.stderr
