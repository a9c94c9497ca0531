"""Builds a KerasTuner tuner by name, starting the search from the defaults."""

import os

import keras_tuner

TUNER_NAMES = ("random_search", "hyperband", "bayesian_optimization")


def _start_from_defaults(oracle):
    """Makes the oracle's first trial use every hyperparameter's default.

    All three KerasTuner oracles draw fresh trials through `_random_values`;
    answering its first call with the defaults makes trial 0 the reference
    configuration (for `BiTHyperModel`, the BiT-HyperRule itself).
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
    """Returns a `RandomSearch`, `Hyperband` or `BayesianOptimization` tuner.

    Distributed tuning needs no code change: start the same program with
    `KERASTUNER_TUNER_ID` (`"chief"` on the oracle process, `"tuner0"`,
    `"tuner1"`, ... on the workers), `KERASTUNER_ORACLE_IP` and
    `KERASTUNER_ORACLE_PORT`, and a `directory` every process can write to.

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
    if name not in TUNER_NAMES:
        raise ValueError(
            f"Unknown tuner. Expected one of {', '.join(TUNER_NAMES)}. "
            f"Received: name={name!r}"
        )
    role = os.environ.get("KERASTUNER_TUNER_ID")
    if overwrite and role and role != "chief":
        overwrite = False
    common = dict(
        hypermodel=hypermodel,
        objective=objective,
        directory=directory,
        project_name=project_name or getattr(hypermodel, "name", None) or "search",
        overwrite=overwrite,
        seed=seed,
        **kwargs,
    )
    if name == "random_search":
        tuner = keras_tuner.RandomSearch(max_trials=max_trials, **common)
    elif name == "hyperband":
        # Budgets mean a fixed part of the schedule (see BiTHyperModel).
        if getattr(hypermodel, "schedule_epochs", False) is None:
            hypermodel.schedule_epochs = max_epochs
        tuner = keras_tuner.Hyperband(max_epochs=max_epochs, factor=3, **common)
    else:
        tuner = keras_tuner.BayesianOptimization(max_trials=max_trials, **common)
    if first_trial_defaults:
        _start_from_defaults(tuner.oracle)
    return tuner
