"""Builds a KerasTuner oracle, or a tuner for a hypermodel, by name.

`make_oracle` is the one place an oracle is picked by name and made to start
from the defaults; `make_tuner` (hypermodels) and `TranslationRunTuner`
(whole training runs) both build theirs with it.
"""

import os

import keras_tuner

from keras_transformer_bit.utils import check_positive_int, check_seed

TUNER_NAMES = ("random_search", "hyperband", "bayesian_optimization")
# Hyperband's reduction factor: a third of the trials go on to three times
# the epochs (KerasTuner's default).
HYPERBAND_FACTOR = 3


def _start_from_defaults(oracle):
    """Makes the oracle's first trial use every hyperparameter's default.

    All three KerasTuner oracles draw fresh trials through `_random_values`;
    answering its first call with the defaults makes trial 0 the reference
    configuration (for `BiTHyperModel`, the BiT-HyperRule itself; for
    `TranslationRunTuner`, the translation recipe).
    """
    if not hasattr(oracle, "_random_values"):  # an OracleClient on a worker
        return
    draw_random = oracle._random_values

    def first_defaults_then_random():
        if not oracle._tried_so_far:
            values = {}
            hps = keras_tuner.HyperParameters()
            for hp in oracle.hyperparameters.space:
                hps.merge([hp])
                if hps.is_active(hp):
                    hps.values[hp.name] = hp.default
            values = hps.values
            if not oracle._duplicate(values):
                return values
        return draw_random()

    oracle._random_values = first_defaults_then_random


def check_tuner_name(name):
    """Refuses a tuner name outside `TUNER_NAMES`, naming it."""
    if name not in TUNER_NAMES:
        raise ValueError(
            f"Unknown tuner. Expected one of {', '.join(TUNER_NAMES)}. "
            f"Received: name={name!r}"
        )
    return name


def holds_search_directory():
    """Whether this process owns its search's directory: a search in one
    process (`KERASTUNER_TUNER_ID` unset) or a distributed search's chief,
    not one of the tuners that share the directory with it."""
    return os.environ.get("KERASTUNER_TUNER_ID", "chief") in ("", "chief")


def overwrite_for_this_process(overwrite):
    """`overwrite` on the chief or alone; False on a distributed search's
    worker, which must not wipe the directory the others share."""
    return bool(overwrite) and holds_search_directory()


def make_oracle(
    name,
    objective="val_loss",
    max_trials=10,
    max_epochs=4,
    seed=0,
    hyperparameters=None,
    first_trial_defaults=True,
    **kwargs,
):
    """Returns a `RandomSearch`, `Hyperband` or `BayesianOptimization` oracle.

    Args:
        name: str. One of `"random_search"`, `"hyperband"`,
            `"bayesian_optimization"`.
        objective: str or `keras_tuner.Objective`. Defaults to `"val_loss"`.
        max_trials: int. Trials for random search and Bayesian optimization.
        max_epochs: int. Hyperband's largest budget (epochs per trial).
        seed: int >= 0. The same seed draws the same trials in every process
            (the oracle gets `seed + 1`: KerasTuner reads 0 as no seed).
            Defaults to `0`.
        hyperparameters: `keras_tuner.HyperParameters` or None. The search
            space declared in advance (a tuner without a hypermodel needs it).
        first_trial_defaults: bool. Run the default values first. Defaults to
            `True`.
        **kwargs: passed to the oracle (e.g. `max_consecutive_failed_trials`).

    Example:
    >>> oracle = make_oracle("hyperband", "val_bleu", max_epochs=9)  # doctest: +SKIP
    """
    check_tuner_name(name)
    # KerasTuner searches forever with max_trials=0, runs nothing with -1, and
    # Hyperband fails with an IndexError at max_epochs=0.
    check_positive_int("max_trials", max_trials)
    check_positive_int("max_epochs", max_epochs)
    check_seed(seed, allow_none=False)
    # KerasTuner reads seed=0 as "no seed" and draws one from Python's global
    # random state: the search would differ from process to process.
    common = dict(
        objective=objective,
        seed=seed % (2**32 - 1) + 1,
        hyperparameters=hyperparameters,
        **kwargs,
    )
    if name == "random_search":
        oracle = keras_tuner.oracles.RandomSearchOracle(max_trials=max_trials, **common)
    elif name == "hyperband":
        oracle = keras_tuner.oracles.HyperbandOracle(
            max_epochs=max_epochs, factor=HYPERBAND_FACTOR, **common
        )
    else:
        oracle = keras_tuner.oracles.BayesianOptimizationOracle(
            max_trials=max_trials, **common
        )
    if first_trial_defaults:
        _start_from_defaults(oracle)
    return oracle


class _HyperbandTuner(keras_tuner.Hyperband):
    """KerasTuner's Hyperband tuner (each trial's epochs; a follow-up starts
    from its predecessor's weights) over an oracle from `make_oracle`.

    `keras_tuner.Hyperband.__init__` only builds its own oracle, so it is
    skipped for `Tuner.__init__`, which takes ours.
    """

    def __init__(self, oracle, hypermodel, **kwargs):
        keras_tuner.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)


def make_tuner(
    name,
    hypermodel,
    objective="val_loss",
    max_trials=10,
    max_epochs=4,
    directory="tuning",
    project_name=None,
    overwrite=False,
    seed=0,
    first_trial_defaults=True,
    **kwargs,
):
    """Returns a tuner that searches `hypermodel` with the `name` oracle.

    The oracle comes from `make_oracle`. Distributed tuning needs no code
    change: start the same program with `KERASTUNER_TUNER_ID` (`"chief"` on
    the oracle process, `"tuner0"`, `"tuner1"`, ... on the workers),
    `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT`, and a `directory`
    every process can write to. To tune whole translation runs (vocabulary,
    tokens per batch, ...) use `TranslationRunTuner` instead.

    Args:
        name: str. One of `"random_search"`, `"hyperband"`,
            `"bayesian_optimization"`.
        hypermodel: a `keras_tuner.HyperModel` (e.g. `TransformerHyperModel`).
        objective: str or `keras_tuner.Objective`. Defaults to `"val_loss"`.
        max_trials: int. Trials for random search and Bayesian optimization.
        max_epochs: int. Hyperband's largest budget (epochs per trial).
        directory: str. Where trials are recorded. Defaults to `"tuning"`.
        project_name: str. Defaults to the hypermodel's name.
        overwrite: bool. Start over instead of resuming. Defaults to `False`.
            In a distributed search only the chief honours it: a worker that
            starts after the others must not wipe the shared directory.
        seed: int. Defaults to `0`.
        first_trial_defaults: bool. Run the default values first. Defaults to
            `True`.
        **kwargs: passed to the tuner (e.g. `executions_per_trial`).

    Example:
    >>> tuner = make_tuner(  # doctest: +SKIP
    ...     "bayesian_optimization", hypermodel, max_trials=8,
    ...     objective="val_accuracy")
    """
    oracle = make_oracle(
        name,
        objective=objective,
        max_trials=max_trials,
        max_epochs=max_epochs,
        seed=seed,
        first_trial_defaults=first_trial_defaults,
    )
    if name == "hyperband":
        # Budgets mean a fixed part of the schedule (see BiTHyperModel).
        if getattr(hypermodel, "schedule_epochs", False) is None:
            hypermodel.schedule_epochs = max_epochs
    tuner_class = _HyperbandTuner if name == "hyperband" else keras_tuner.Tuner
    return tuner_class(
        oracle=oracle,
        hypermodel=hypermodel,
        directory=directory,
        project_name=project_name or getattr(hypermodel, "name", None) or "search",
        overwrite=overwrite_for_this_process(overwrite),
        **kwargs,
    )
