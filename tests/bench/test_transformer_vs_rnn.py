"""bench/transformer_vs_rnn.py: the pieces the comparison's numbers come from."""

import os
import pathlib
import sys
import time

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "bench"))

import transformer_vs_rnn  # noqa: E402

SENTENCE = "The cat sat on the mat."


def test_real_target_tokens_counts_non_padding_labels_until_reset():
    metric = transformer_vs_rnn.RealTargetTokens()
    metric.update_state(np.array([[5, 6, 3, 0], [7, 3, 0, 0]]), None)
    metric.update_state(np.array([[4, 3]]), None)
    assert float(metric.result()) == 7.0
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_the_clock_leaves_out_evaluation(monkeypatch):
    timer = transformer_vs_rnn.TimedTraining(
        minutes=1,
        validation_pairs=[("Die Katze sitzt.", SENTENCE)],
        tokenizer=None,
        max_length=8,
        eval_interval_minutes=0,
    )
    timer.start()

    def slow_translation(sources):
        time.sleep(0.3)
        return [SENTENCE]

    monkeypatch.setattr(
        transformer_vs_rnn, "translator", lambda *args, **kwargs: slow_translation
    )
    timer.steps, timer.steps_per_epoch = 3, 6
    timer.evaluate(timer.elapsed_seconds)
    assert timer.elapsed_seconds < 0.1
    assert timer.excluded_seconds >= 0.3
    assert timer.curve == [
        {
            "minutes": pytest.approx(0, abs=1e-3),
            "steps": 3,
            "bleu": pytest.approx(100.0),
        }
    ]


def _result(name, bleu, curve):
    return {
        "name": name,
        "parameters": 2_157_056,
        "epochs_reached": 3.5,
        "training_minutes": 20.0,
        "tokens_per_second": 1234.4,
        "tokens_per_second_after_first_epoch": None,
        "test_bleu": bleu,
        "test_chrf": 30.0,
        "decode_seconds": 12.0,
        "validation_curve": curve,
    }


def test_table_and_plot(tmp_path):
    results = [
        _result("A", 5.678, [{"minutes": 1.0, "bleu": 1.0}]),
        _result("B", 2.0, [{"minutes": 2.0, "bleu": 0.5}]),
    ]
    table = transformer_vs_rnn.markdown_table(results).splitlines()
    assert len(table) == 4
    assert table[2] == (
        "| A | 2,157,056 | 3.50 | 20.0 | 1,234 | n/a | 5.68 | 30.0 | 12 |"
    )
    path = transformer_vs_rnn.plot_curves(results, str(tmp_path / "c.png"), "t")
    assert os.path.getsize(path) > 1000


def test_quick_defaults_and_refused_flags(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["transformer_vs_rnn.py", "--quick"])
    args = transformer_vs_rnn.parse_arguments()
    assert args.minutes == transformer_vs_rnn.QUICK["minutes"]
    assert args.validation_sentences == transformer_vs_rnn.QUICK["validation"]
    monkeypatch.setattr(sys, "argv", ["transformer_vs_rnn.py", "--minutes", "0"])
    with pytest.raises(SystemExit):
        transformer_vs_rnn.parse_arguments()
    assert "--minutes must be > 0. Received: 0.0" in capsys.readouterr().err
