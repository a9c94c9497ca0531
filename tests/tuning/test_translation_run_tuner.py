"""`TranslationRunTuner`: KerasTuner trials that are `TranslationRun`s."""

import json
import os
import re
import subprocess
import sys
import textwrap

import keras_tuner
import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.models.transformer.transformer_presets import (
    transformer_presets,
)
from keras_transformer_bit.training import RunLock, RunLockedError, default_config
from keras_transformer_bit.training import translation_run as run_files
from keras_transformer_bit.tuning import (
    TRANSLATION_RUN_SEARCH_SPACE,
    TranslationRunTuner,
    default_values,
)
from tests.cli.test_translate_cli import _write_corpus
from tests.distribute.processes import kill, wait_until

# Sizes small enough for seconds per trial; the rest is the search space's
# defaults, which are the translation recipe's.
TINY_SPACE = {
    "num_layers": [1],
    "hidden_dim": [16],
    "num_heads": [2],
    "intermediate_multiplier": [2],
    "vocabulary_size": [120],
    "tokens_per_batch": [128],
}
# The run hyperparameters held at the recipe's values: with only one
# hyperparameter left to vary, the second trial must take its other value.
ONLY = {
    "label_smoothing": [0.1],
    "warmup_steps": [500],
    "learning_rate_scale": [0.8],
    "dropout": [0.1],
}
TINY_SETTINGS = dict(max_length=16, test_size=6, validation_size=6)
SEARCH = dict(epochs=1, bleu_examples=4, verbose=0)


def _tuner(
    tmp_path, oracle="random_search", search_space=None, data_override=None, **kwargs
):
    corpus = tmp_path / "pairs.tsv"
    if not corpus.exists():
        _write_corpus(corpus)
    return TranslationRunTuner(
        oracle,
        search_space={**TINY_SPACE, **(search_space or {})},
        directory=str(tmp_path / "search"),
        project_name="p",
        strategy="one_device",
        data=data_override or str(corpus),
        **TINY_SETTINGS,
        **kwargs,
    )


def _trial(trial_id, **values):
    hp = keras_tuner.HyperParameters()
    hp.values.update(values)
    return keras_tuner.engine.trial.Trial(hp, trial_id=trial_id)


def test_the_default_space_starts_from_the_translation_recipe(tmp_path):
    # Trial 0 trains what `ktb translate train` trains: the recipe's config.
    first = default_values(TRANSLATION_RUN_SEARCH_SPACE)
    assert all(first[name] == spec[0] for name, spec in
               TRANSLATION_RUN_SEARCH_SPACE.items())  # fmt: skip
    corpus = str(tmp_path / "pairs.tsv")
    _write_corpus(tmp_path / "pairs.tsv")
    tuner = TranslationRunTuner(directory=str(tmp_path), data=corpus)
    settings = tuner.trial_settings(keras_tuner.HyperParameters())
    run_dir = str(tmp_path / "run")
    config = ktb.training.TranslationRun(run_dir, **settings).resolve_config()
    expected = ktb.training.TranslationRun(run_dir, data=corpus).resolve_config()

    def model_config(config):
        preset = transformer_presets[config.pop("preset")]["config"]
        return {**preset, **config.pop("model_overrides")}

    assert model_config(config) == model_config(expected)
    assert config == expected


def test_one_function_picks_the_oracle_of_both_kinds_of_tuner(tmp_path):
    from keras_tuner import oracles

    from tests.tuning.toy_hypermodel import DenseHyperModel

    expected = {
        "random_search": oracles.RandomSearchOracle,
        "hyperband": oracles.HyperbandOracle,
        "bayesian_optimization": oracles.BayesianOptimizationOracle,
    }
    for name, oracle_class in expected.items():
        runs = TranslationRunTuner(name, directory=str(tmp_path), project_name=name)
        assert type(runs.oracle) is oracle_class, name
        # The search space is declared up front, every value at the recipe's.
        space = {hp.name: hp.default for hp in runs.oracle.hyperparameters.space}
        assert space == default_values(TRANSLATION_RUN_SEARCH_SPACE)
        dense = ktb.tuning.make_tuner(
            name, DenseHyperModel(), directory=str(tmp_path), project_name=f"d{name}"
        )
        assert type(dense.oracle) is oracle_class, name
        assert isinstance(dense, keras_tuner.Hyperband) == (name == "hyperband")


def test_bad_settings_are_refused_before_any_trial(tmp_path):
    with pytest.raises(TypeError, match="unknown argument 'max_lenght'"):
        TranslationRunTuner(directory=str(tmp_path), max_lenght=16)
    with pytest.raises(ValueError, match="vocabulary_size=100 fixes a hyperparam"):
        TranslationRunTuner(
            directory=str(tmp_path),
            vocabulary_size=100,
            search_space={"vocabulary_size": [90, 100]},
        )
    with pytest.raises(ValueError, match="through search_space intermediate_mul"):
        TranslationRunTuner(
            directory=str(tmp_path), model_overrides={"intermediate_dim": 64}
        )
    with pytest.raises(ValueError, match="validation_size=0"):
        TranslationRunTuner(directory=str(tmp_path), validation_size=0)
    with pytest.raises(ValueError, match="strategy='multi_worker'"):
        TranslationRunTuner(directory=str(tmp_path), strategy="multi_worker")
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        TranslationRunTuner(directory=str(tmp_path), max_length=0)
    with pytest.raises(ValueError, match="Unknown tuner"):
        TranslationRunTuner("grid", directory=str(tmp_path))
    with pytest.raises(ValueError, match="Unknown hyperparameters"):
        TranslationRunTuner(directory=str(tmp_path), search_space={"depth": [1]})
    with pytest.raises(ValueError, match="Received: max_trials=0"):
        TranslationRunTuner(directory=str(tmp_path), max_trials=0)
    with pytest.raises(ValueError, match="Received: max_epochs=0"):
        TranslationRunTuner("hyperband", directory=str(tmp_path), max_epochs=0)
    assert not os.listdir(tmp_path)


@pytest.mark.large
@pytest.mark.timeout(180)
def test_trials_are_translation_runs_scored_by_validation_bleu(tmp_path):
    tuner = _tuner(tmp_path, search_space={**ONLY, "dropout": [0.1, 0.0]}, max_trials=2)
    tuner.search(**SEARCH)
    trials = [tuner.oracle.trials[key] for key in sorted(tuner.oracle.trials)]
    assert [t.status for t in trials] == ["COMPLETED", "COMPLETED"]
    first, second = trials
    defaults = default_config()
    config = json.loads(
        (tmp_path / "search/p" / f"trial_{first.trial_id}/run/translate_config.json")
        .read_text()
    )  # fmt: skip
    # The recipe, only the sizes of the test's space changed.
    assert config["model_overrides"] == {
        "num_layers": 1, "hidden_dim": 16, "num_heads": 2, "intermediate_dim": 32,
        "dropout": 0.1,
    }  # fmt: skip
    for key in ("preset", "warmup_steps", "learning_rate_scale", "label_smoothing",
                "tokenizer", "average_checkpoints", "seed"):  # fmt: skip
        assert config[key] == defaults[key], key
    assert (config["vocabulary_size"], config["tokens_per_batch"]) == (120, 128)
    assert second.hyperparameters.values["dropout"] == 0.0
    for trial in trials:
        run_dir = tuner.run_dir(trial.trial_id)
        saved, source, target, model = run_files.load_run(run_dir)
        assert isinstance(model, ktb.models.Transformer)
        assert model.dropout == trial.hyperparameters.values["dropout"]
        history = json.loads(open(os.path.join(run_dir, "history.json")).read())
        assert [entry["epoch"] for entry in history] == [1]
        assert trial.score == max(entry["val_bleu"] for entry in history)
        assert "val_loss" in trial.metrics.metrics
    (best,) = tuner.get_best_models()
    assert isinstance(best, ktb.models.Transformer)
    best_dir = tuner.get_best_run_dirs()[0]
    assert best_dir == tuner.run_dir(tuner.oracle.get_best_trials()[0].trial_id)
    table = ktb.tuning.results_table(tuner)
    assert table.splitlines()[0].startswith("| rank | trial | status | val_bleu |")


@pytest.mark.large
@pytest.mark.timeout(120)
def test_a_combination_the_model_refuses_fails_its_trial_only(tmp_path):
    tuner = _tuner(tmp_path, search_space={**ONLY, "num_heads": [2, 3]}, max_trials=2)
    tuner.search(**SEARCH)
    first, second = (tuner.oracle.trials[key] for key in sorted(tuner.oracle.trials))
    assert first.status == "COMPLETED"
    assert second.status == "FAILED"
    assert second.hyperparameters.values["num_heads"] == 3
    assert "num_heads must divide hidden_dim" in second.message
    assert "skipping this combination" in second.message
    assert not os.path.exists(tuner.run_dir(second.trial_id))


@pytest.mark.large
@pytest.mark.timeout(180)
def test_a_hyperband_follow_up_continues_its_predecessors_run(tmp_path):
    tuner = _tuner(tmp_path, oracle="hyperband", max_epochs=3)
    first = _trial("0000", **{"tuner/epochs": 1, "tuner/initial_epoch": 0})
    tuner.run_trial(first, **SEARCH)
    first_history = ktb.training.TranslationRun(tuner.run_dir("0000")).history()
    follow_up = _trial(
        "0003",
        **{"tuner/epochs": 3, "tuner/initial_epoch": 1, "tuner/trial_id": "0000"},
    )
    metrics = tuner.run_trial(follow_up, **SEARCH)
    history = ktb.training.TranslationRun(tuner.run_dir("0003")).history()
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    assert history[0] == first_history[0]  # the predecessor's epoch, copied
    assert metrics["val_bleu"] == max(entry["val_bleu"] for entry in history)
    # The predecessor's run is left as it was.
    assert ktb.training.TranslationRun(tuner.run_dir("0000")).history() == (
        first_history
    )
    # Reported again (a tuner restarted before it reported): nothing trains.
    assert tuner.run_trial(follow_up, **SEARCH) == metrics
    assert ktb.training.TranslationRun(tuner.run_dir("0003")).history() == history


_SEARCH_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from tests.tuning.test_translation_run_tuner import TINY_SETTINGS, TINY_SPACE
import keras_transformer_bit as ktb
tuner = ktb.tuning.TranslationRunTuner(
    search_space={{**TINY_SPACE, "dropout": [0.0, 0.1]}}, max_trials=1,
    directory={directory!r}, project_name="p", strategy="one_device",
    data={data!r}, **TINY_SETTINGS)
tuner.search(epochs=3, bleu_examples=4, verbose=0)
print("SCORE", tuner.oracle.trials["0"].status, tuner.oracle.trials["0"].score)
"""


@pytest.mark.large
@pytest.mark.timeout(300)
def test_a_tuner_killed_during_a_trial_resumes_its_run(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus, num_pairs=400)
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    script = tmp_path / "search.py"
    script.write_text(
        textwrap.dedent(
            _SEARCH_SCRIPT.format(
                root=root, directory=str(tmp_path / "search"), data=str(corpus)
            )
        )
    )
    run_dir = tmp_path / "search/p/trial_0/run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("KERASTUNER_TUNER_ID", None)
    with open(tmp_path / "first.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(script)], env=env, stdout=log, stderr=log
        )
    try:
        # Killed once the run has backed up its first epoch.
        assert wait_until(
            lambda: (run_dir / run_files.PARTIAL_HISTORY_FILE).exists(), 200
        ), (tmp_path / "first.log").read_text()
    finally:
        kill(process)
    assert not (run_dir / "history.json").exists()
    second = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True,
        timeout=200,
    )  # fmt: skip
    assert second.returncode == 0, second.stdout + second.stderr
    assert "SCORE COMPLETED" in second.stdout, second.stdout + second.stderr
    # The rerun went on from the killed run's backup, not from epoch 1.
    assert re.search(r"parameters from epoch [23] to 3", second.stdout), second.stdout
    history = json.loads((run_dir / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1, 2, 3]


def _scored_run_trial(tuner, seen):
    """Stands in for a trial's training: records the trial, scores it."""

    def run_trial(trial, **kwargs):
        seen.append(trial.trial_id)
        return {"val_bleu": 1.0}

    tuner.run_trial = run_trial


def test_a_second_search_in_the_project_is_refused_naming_the_holder(tmp_path):
    # User trial: two searches in one directory both trained trial 0 at once.
    tuner = _tuner(tmp_path, max_trials=1)
    refusals = []

    def run_trial(trial, **kwargs):
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}") as error:
            _tuner(tmp_path, max_trials=1)
        refusals.append(str(error.value))
        # Built before the first search started, its search is refused too.
        with pytest.raises(RunLockedError, match="Another search"):
            second.search(**SEARCH)
        return {"val_bleu": 1.0}

    second = _tuner(tmp_path, max_trials=1)
    tuner.run_trial = run_trial
    tuner.search(**SEARCH)
    assert refusals and str(tmp_path / "search" / "p") in refusals[0]
    # Released when the search ends: the project resumes.
    assert not (tmp_path / "search" / "p" / ".run.lock").exists()
    _tuner(tmp_path, max_trials=1)


def test_a_trial_never_clears_a_run_directory_that_a_live_run_holds(tmp_path):
    # Why the trial's own RunLock did not refuse the second search: the run
    # had not written its config yet, so the second tuner took the directory
    # for a killed run's and removed it, lock and all.
    tuner = _tuner(tmp_path)
    run_dir = tuner.run_dir("0")
    with RunLock(run_dir):
        with pytest.raises(RunLockedError, match="in use by another training run"):
            tuner._prepare_run_dir(run_dir, None)
        assert os.path.exists(os.path.join(run_dir, ".run.lock"))
    tuner._prepare_run_dir(run_dir, None)  # a dead run's: cleared
    assert not os.path.exists(run_dir)


def test_a_resume_with_other_fixed_settings_is_refused_naming_each(tmp_path):
    # User trial: a rerun with another --data mixed old and new trials.
    _tuner(tmp_path, search_space={"dropout": [0.1, 0.2]})
    other = tmp_path / "other.tsv"
    _write_corpus(other, num_pairs=90)
    with pytest.raises(ValueError, match="other fixed settings") as error:
        _tuner(tmp_path, data_override=str(other), search_space={"dropout": [0.3]})
    message = str(error.value)
    assert f"data={str(other)!r}" in message, message
    assert "search_space['dropout']=[0.3] (saved: [0.1, 0.2])" in message, message
    assert "max_length" not in message
    # The same settings resume; overwrite starts over with the new ones.
    _tuner(tmp_path, search_space={"dropout": [0.1, 0.2]})
    _tuner(tmp_path, data_override=str(other), overwrite=True)
    _tuner(tmp_path, data_override=str(other))


def test_data_no_run_could_read_is_refused_before_the_search(tmp_path):
    # User trial: every trial failed naming data=, then KerasTuner gave up.
    for data in [str(tmp_path / "nosuch.tsv"), f"{tmp_path}/a.txt,{tmp_path}/b.txt"]:
        with pytest.raises(ValueError, match=f"Received: data={data!r}"):
            TranslationRunTuner(directory=str(tmp_path / "search"), data=data)
    assert not (tmp_path / "search").exists()
    # A caller's names (the CLI's flags) name the settings in every error.
    with pytest.raises(ValueError, match="Received: --data="):
        TranslationRunTuner(
            directory=str(tmp_path / "search"),
            data="nosuch.tsv",
            names={"data": "--data"},
        )


def test_an_objective_no_run_logs_is_refused_listing_the_metrics(tmp_path):
    # User trial: --objective val_blue trained every trial, then failed each.
    with pytest.raises(ValueError, match="Received: objective='val_blue'") as error:
        _tuner(tmp_path, objective="val_blue")
    for metric in ("val_bleu", "val_loss", "loss", "val_masked_token_accuracy"):
        assert metric in str(error.value)
    assert not (tmp_path / "search").exists()
    tuner = _tuner(tmp_path, objective="val_loss")
    assert tuner.oracle.objective.direction == "min"


def test_a_fixed_setting_pins_its_hyperparameter(tmp_path):
    # As --vocabulary-size does under ktb tune transformer.
    _write_corpus(tmp_path / "pairs.tsv")
    tuner = TranslationRunTuner(
        directory=str(tmp_path / "search"),
        data=str(tmp_path / "pairs.tsv"),
        vocabulary_size=150,
        model_overrides={"num_heads": 4, "attention_dropout": 0.1},
    )
    assert tuner.search_space["vocabulary_size"] == [150]
    assert tuner.search_space["num_heads"] == [4]
    settings = tuner.trial_settings(keras_tuner.HyperParameters())
    assert settings["vocabulary_size"] == 150
    assert settings["model_overrides"]["num_heads"] == 4
    assert settings["model_overrides"]["attention_dropout"] == 0.1


def test_the_progress_line_names_the_trial_by_its_id(tmp_path, monkeypatch, capsys):
    tuner = _tuner(tmp_path)
    monkeypatch.setattr(
        ktb.training.TranslationRun, "train", lambda self, **kwargs: None
    )
    history = [{"epoch": 0, "val_bleu": 1.0}]
    monkeypatch.setattr(ktb.training.TranslationRun, "history", lambda self: history)
    monkeypatch.setattr(
        ktb.training.TranslationRun, "resolve_config", lambda self: None
    )
    tuner.run_trial(_trial("1"), **SEARCH)
    assert "Trial id 1 (trial_1): the run" in capsys.readouterr().out
    assert TranslationRunTuner.search.__defaults__ == (1, None, 1, 100, 1)
    from keras_transformer_bit.cli import tune

    assert tune.TRIAL_BLEU_EXAMPLES == 100  # the --bleu-examples default
