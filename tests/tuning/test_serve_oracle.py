import keras_tuner
import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.tuning.serve_oracle import serve_oracle


def _finished_search(tmp_path):
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "max"), max_trials=1, seed=0
    )
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.hyperparameters.Choice("x", [1, 2])
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"score": 1.0})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)
    return oracle


@pytest.mark.timeout(60)
def test_a_restarted_chief_of_a_finished_search_returns_at_once(tmp_path):
    # User trial: a chief restarted after its tuners finished waited forever;
    # its oracle.json had queued a finished trial for a retry.
    oracle = _finished_search(tmp_path)
    oracle._retry_queue.append("0")
    lines = []
    port = ktb.distribute.free_ports(1)[0]
    assert serve_oracle(oracle, f"127.0.0.1:{port}", log=lines.append) == []
    assert oracle._retry_queue == []
    assert lines == ["chief: all 1 trials of this search have ended already"]


def test_trial_timeout_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="Received: 0"):
        serve_oracle(_finished_search(tmp_path), "127.0.0.1:0", trial_timeout=0)
