"""A plain-text (markdown) table of the trials of a KerasTuner search."""

import os


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def results_table(tuner, num_trials=None):
    """Returns a markdown table of trials, best first.

    Columns: rank, trial id, status, the objective score, then one column per
    hyperparameter (KerasTuner's bookkeeping values such as `tuner/epochs`
    are left out).

    Args:
        tuner: a `keras_tuner.Tuner` after (or during) `search`.
        num_trials: int or None. Rows to show. Defaults to all.

    Example:
    >>> print(results_table(tuner))  # doctest: +SKIP
    | rank | trial | status | val_accuracy | learning_rate_multiplier | ...
    """
    oracle = tuner.oracle
    if not hasattr(oracle, "trials"):
        raise ValueError(
            "This tuner's oracle is a client of the chief's (a worker of a "
            "distributed search, KERASTUNER_TUNER_ID="
            f"{os.environ.get('KERASTUNER_TUNER_ID')!r}): only the chief holds the "
            "trials. Print the table on the chief. Received: oracle="
            f"{type(oracle).__name__}"
        )
    trials = list(oracle.trials.values())
    direction = (
        oracle.objective.direction if hasattr(oracle.objective, "direction") else "min"
    )

    def key(trial):
        if trial.score is None:
            return (1, 0.0)
        return (0, -trial.score if direction == "max" else trial.score)

    trials.sort(key=key)
    if num_trials is not None:
        trials = trials[:num_trials]
    names = []
    for trial in trials:
        for name in trial.hyperparameters.values:
            if not name.startswith("tuner/") and name not in names:
                names.append(name)
    objective = getattr(oracle.objective, "name", str(oracle.objective))
    header = ["rank", "trial", "status", objective, *names]
    rows = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for rank, trial in enumerate(trials, start=1):
        values = trial.hyperparameters.values
        cells = [
            str(rank),
            trial.trial_id,
            str(trial.status),
            "-" if trial.score is None else _format(trial.score),
            *(_format(values[name]) if name in values else "" for name in names),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)
