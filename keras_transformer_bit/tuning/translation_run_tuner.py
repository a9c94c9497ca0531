"""A KerasTuner tuner whose trials are whole translation runs."""

import contextlib
import json
import os

import keras
import keras_tuner

from keras_transformer_bit.training.run_checks import (
    check_positive_number,
    describe_setting,
)
from keras_transformer_bit.training.run_lock import LOCK_FILE, RunLock, RunLockedError
from keras_transformer_bit.training.translation_run import (
    CONFIG_FILE,
    TranslationRun,
    changed_settings,
    default_config,
    load_corpus,
    read_json,
    write_json_atomically,
)
from keras_transformer_bit.tuning.make_tuner import (
    check_tuner_name,
    holds_search_directory,
    make_oracle,
    overwrite_for_this_process,
)
from keras_transformer_bit.tuning.search_space import (
    check_search_space,
    hyperparameter,
    recipe_search_space,
)
from keras_transformer_bit.utils import check_positive_int, restate_setting_errors
from keras_transformer_bit.utils.check_known_arguments import check_known_arguments
from keras_transformer_bit.utils.gfile import gfile, remove_tree

# Written into a trial's directory once its run has trained its epochs: a
# tuner restarted before it reported the trial reads the run, not trains more.
TRAINED_FILE = "run_trained.json"
# Written into the project directory by the search that started it: the fixed
# settings and the search space that every trial of the project shares.
SEARCH_SETTINGS_FILE = "search_settings.json"
# Strategies a trial can train under: one process trains one trial (a sweep
# spreads over hosts by trials, KERASTUNER_TUNER_ID).
TRIAL_STRATEGIES = ("auto", "one_device", "mirrored")
# Validation sentences a trial's BLEU translates after each epoch (fewer than
# `ktb translate train`'s 200: a trial is short, and scored many times).
TRIAL_BLEU_EXAMPLES = 100


# The metrics a run's history.json holds for each epoch (val_bleu when
# validation BLEU is scored): what an objective can be.
RUN_METRICS = (
    "val_bleu",
    "val_loss",
    "val_masked_token_accuracy",
    "loss",
    "masked_token_accuracy",
)

# The first value of each list is the translation recipe's
# (`ktb.recipes.translation_recipe()`), so the first trial trains what
# `ktb translate train` trains; the others are around it.
TRANSLATION_RUN_SEARCH_SPACE = recipe_search_space()

# Hyperparameters that are a model override of the run, and those that are
# one of its settings (`intermediate_multiplier` sets `intermediate_dim`).
MODEL_HYPERPARAMETERS = ("num_layers", "hidden_dim", "num_heads", "dropout")
RUN_HYPERPARAMETERS = (
    "vocabulary_size",
    "tokens_per_batch",
    "warmup_steps",
    "learning_rate_scale",
    "label_smoothing",
)


def _objective(objective):
    """`objective` as a `keras_tuner.Objective` (a loss is minimized)."""
    if isinstance(objective, str):
        return keras_tuner.Objective(objective, "min" if "loss" in objective else "max")
    return objective


def _copy_run(source, destination):
    """Copies a finished run directory (its lock aside) through a staging
    directory and a rename, so a kill never leaves half a copy."""
    staging = destination + ".copying"
    remove_tree(staging)
    for directory, _, files in gfile.walk(source):
        relative = str(directory)[len(str(source)) :].strip("/")
        target = os.path.join(staging, relative) if relative else staging
        gfile.makedirs(target)
        for name in files:
            if name != LOCK_FILE:
                gfile.copy(os.path.join(directory, name), os.path.join(target, name))
    gfile.rename(staging, destination)


def _best_metrics(history, objective):
    """The best value of each metric over the run's epochs: the objective's
    in its direction, a loss its lowest, any other its highest."""
    metrics = {}
    for entry in history:
        for name, value in entry.items():
            if name in ("epoch", "run_minutes"):
                continue
            if name == objective.name:
                lowest = objective.direction == "min"
            else:
                lowest = "loss" in name
            if name not in metrics:
                metrics[name] = value
            else:
                metrics[name] = (min if lowest else max)(metrics[name], value)
    return metrics


class TranslationRunTuner(keras_tuner.Tuner):
    """Searches translation recipes: each trial is a `TranslationRun`.

    A trial trains `ktb.training.TranslationRun(<project>/trial_<id>/run,
    **settings)`: the fixed `settings` given here plus the trial's
    hyperparameters, so everything `ktb translate train` does (the tokenizer
    built at the trial's vocabulary size, batches of the trial's tokens per
    batch, the budget, resuming, checkpoint averaging, the best checkpoint)
    is what a trial does, and data-level settings can be tuned. The trial's
    score is read from the run's `history.json`: by default the highest
    `val_bleu` (greedy translations of validation sentences through a
    `Translator`), which is what `best.keras` holds.

    The search space (`TRANSLATION_RUN_SEARCH_SPACE`, overridden by
    `search_space`) names `num_layers`, `hidden_dim`, `num_heads`,
    `intermediate_multiplier` (the feed-forward width over `hidden_dim`) and
    `dropout` (the run's `model_overrides`), `vocabulary_size`,
    `tokens_per_batch`, `warmup_steps`, `learning_rate_scale` and
    `label_smoothing`. Its first values are the translation recipe's, and the
    first trial runs every first value: the recipe `ktb translate train` runs.
    A combination the model refuses (heads not dividing the width) fails its
    trial, naming why, and the search goes on.

    With `oracle="hyperband"`, a trial promoted to more epochs copies its
    predecessor's run directory and trains it on (its history continues).
    A tuner killed during a trial and started again resumes that trial's run
    from its backup. Each trial's run directory is an ordinary run:
    `ktb translate evaluate|predict|export --model-dir` use it, and
    `load_model` (so `get_best_models`) loads its model.

    Args:
        oracle: str. One of `ktb.tuning.TUNER_NAMES`. Defaults to
            `"random_search"`.
        search_space: dict or None. Overrides of `TRANSLATION_RUN_SEARCH_SPACE`:
            a list is a choice (first item = default), a `(low, high)` tuple a
            range, a scalar a fixed value.
        objective: str or `keras_tuner.Objective`. A metric of the run's
            history. Defaults to `"val_bleu"` (maximized).
        max_trials: int. Trials for random search and Bayesian optimization.
            Defaults to `10`.
        max_epochs: int. Hyperband's largest number of epochs per trial.
            Defaults to `4`.
        search_seed: int. The oracle's seed. Defaults to `0`.
        strategy: str. `"auto"`, `"one_device"` or `"mirrored"`: the
            `TranslationRun` strategy of every trial. Defaults to `"auto"`.
        directory: str. Where the trials are written. Defaults to `"tuning"`.
        project_name: str. Defaults to `"translation_run"`.
        overwrite: bool. Start over instead of resuming (the chief only, in a
            distributed search). Defaults to `False`.
        names: dict or None. How errors name the settings and arguments (the
            CLI passes its flags: `{"data": "--data", "epochs": "--epochs",
            ...}`), passed on to every trial's `TranslationRun`. None: by
            keyword.
        first_trial_defaults: bool. Run the recipe first. Defaults to `True`.
        **settings: the run settings every trial shares, keys of
            `ktb.training.default_config()` (`data`, `max_length`, `seed`,
            `preset`, `validation_size`, ...). A setting the search space
            holds (`vocabulary_size=8000`, `model_overrides={"num_heads":
            4}`) pins that hyperparameter, as a one-item list in
            `search_space` does; `intermediate_dim` is searched through
            `intermediate_multiplier`.

    Example:
    >>> tuner = ktb.tuning.TranslationRunTuner(  # doctest: +SKIP
    ...     "hyperband", data="ding", max_epochs=9, directory="runs/tune",
    ...     search_space={"dropout": [0.1, 0.2, 0.3], "vocabulary_size": [6000, 8000]})
    >>> tuner.search(epochs=3, budget_minutes=10)  # doctest: +SKIP
    >>> tuner.get_best_run_dirs()  # doctest: +SKIP
    ['runs/tune/translation_run/trial_0002/run']

    A trial's directory is named by its KerasTuner trial id: `trial_0000`,
    `trial_0001`, ... under Hyperband; `trial_0`, `trial_1`, ... under random
    search and Bayesian optimization. KerasTuner's "Running Trial #N" counts
    from 1, so it is trial id N - 1.
    """

    def __init__(
        self,
        oracle="random_search",
        search_space=None,
        objective="val_bleu",
        max_trials=10,
        max_epochs=4,
        search_seed=0,
        strategy="auto",
        directory="tuning",
        project_name="translation_run",
        overwrite=False,
        first_trial_defaults=True,
        names=None,
        **settings,
    ):
        self.names = dict(names or {})
        check_tuner_name(oracle)
        check_known_arguments("TranslationRunTuner", settings, default_config())
        settings, pinned = self._pin_fixed_settings(settings, search_space or {})
        self.search_space = check_search_space(
            {**(search_space or {}), **pinned}, TRANSLATION_RUN_SEARCH_SPACE
        )
        if strategy not in TRIAL_STRATEGIES:
            raise ValueError(
                f"strategy must be one of {list(TRIAL_STRATEGIES)}: one process "
                "trains one trial (spread a search over hosts by trials, with "
                "KERASTUNER_TUNER_ID, docs/scaling.md). "
                f"Received: {self._name('strategy')}={strategy!r}"
            )
        self.strategy = strategy
        self.settings = dict(settings)
        self.objective_metric = _objective(objective)
        if self.objective_metric.name not in RUN_METRICS:
            name = self._name("objective")
            raise ValueError(
                f"{name} must be one of {list(RUN_METRICS)}: the metrics a run "
                f"logs in its history.json. Received: {name}="
                f"{self.objective_metric.name!r}"
            )
        if (
            self.objective_metric.name == "val_bleu"
            and settings.get("validation_size") == 0
        ):
            raise ValueError(
                "The objective val_bleu is scored on the validation split, so it "
                f"cannot be empty. Received: {self._describe('validation_size', 0)}"
            )
        # Before any directory is written: the first trial's settings (the
        # fixed ones with each hyperparameter's default) must make a run.
        hp = keras_tuner.HyperParameters()
        first = self.trial_settings(hp)
        oracle = make_oracle(
            oracle,
            objective=self.objective_metric,
            max_trials=max_trials,
            max_epochs=max_epochs,
            seed=search_seed,
            hyperparameters=hp,
            first_trial_defaults=first_trial_defaults,
        )
        project_dir = os.path.join(directory, project_name)
        config = TranslationRun(
            os.path.join(project_dir, "trial_settings_check"),
            names=self.names,
            **first,
        ).resolve_config()
        # Read once here, so that data no run could read fails now, not in
        # every trial.
        _check_corpus(config, self.names)
        self._holds_project = holds_search_directory()
        if self._holds_project:
            # Refused at once while another search runs here (before an
            # `overwrite` would wipe its trials); a killed one's lock is taken.
            with self.project_lock(project_dir):
                pass
        overwrite = overwrite_for_this_process(overwrite)
        if not overwrite:
            self._check_resumed_settings(project_dir)
        super().__init__(
            oracle=oracle,
            directory=directory,
            project_name=project_name,
            overwrite=overwrite,
        )
        path = os.path.join(self.project_dir, SEARCH_SETTINGS_FILE)
        if self._holds_project and (overwrite or not gfile.exists(path)):
            write_json_atomically(path, self._search_settings())

    def _pin_fixed_settings(self, settings, search_space):
        """`settings` less those the search space holds, and those as one-item
        choices of the space: a fixed setting pins its hyperparameter."""
        settings = dict(settings)
        overrides = dict(settings.get("model_overrides") or {})
        if "intermediate_dim" in overrides:
            raise ValueError(
                "model_overrides.intermediate_dim is set through search_space "
                "intermediate_multiplier (the feed-forward width over "
                "hidden_dim), e.g. search_space={'intermediate_multiplier': "
                f"[4]}}. Received: model_overrides={overrides!r}"
            )
        fixed = {name: settings.pop(name) for name in RUN_HYPERPARAMETERS
                 if name in settings}  # fmt: skip
        for name in MODEL_HYPERPARAMETERS:
            if name in overrides:
                fixed[name] = overrides.pop(name)
        if "model_overrides" in settings:
            settings["model_overrides"] = overrides
        for name, value in fixed.items():
            if name in search_space:
                raise ValueError(
                    f"{self._describe(name, value)} fixes a hyperparameter that "
                    f"{self._name('search_space')} also names: give one. "
                    f"Received: {self._describe(name, value)}, "
                    f"{self._name('search_space')}[{name!r}]="
                    f"{search_space[name]!r}"
                )
        return settings, {name: [value] for name, value in fixed.items()}

    def project_lock(self, project_dir=None):
        """A `RunLock` on the project directory, held by the search in one
        process or by a distributed search's chief (its tuners share the
        directory); a null context on a distributed search's tuner."""
        if not self._holds_project:
            return contextlib.nullcontext()
        return _ProjectLock(project_dir or self.project_dir)

    def _name(self, key):
        return self.names.get(key, key)

    def _describe(self, key, value):
        """A setting in a message, as the caller names it (`--data x.tsv`)."""
        name = key.split(".", 1)[1] if key.startswith("model_overrides.") else key
        if name in self.names:
            return f"{self.names[name]} {value}"
        return describe_setting(key, value)

    def _search_settings(self):
        """What every trial of the project shares, as it is recorded."""
        return json.loads(
            json.dumps(
                {
                    "settings": TranslationRun("unused", **self.settings).settings,
                    "search_space": self.search_space,
                }
            )
        )

    def _check_resumed_settings(self, project_dir):
        """Refuses to resume a project searched with other fixed settings or
        another search space, naming each change."""
        saved = read_json(os.path.join(project_dir, SEARCH_SETTINGS_FILE))
        if saved is None:
            return
        current = self._search_settings()
        changes = changed_settings(
            _full_settings(saved["settings"], current["settings"]),
            _full_settings(current["settings"], saved["settings"]),
            self._describe,
        )
        old_space, new_space = saved["search_space"], current["search_space"]
        for name in sorted(set(old_space) | set(new_space)):
            if old_space.get(name) != new_space.get(name):
                changes.append(
                    f"{self._name('search_space')}[{name!r}]="
                    f"{new_space.get(name)!r} (saved: {old_space.get(name)!r})"
                )
        if changes:
            raise ValueError(
                f"{project_dir} holds a search with other fixed settings, so its "
                "trials would be ranked with ones trained differently: "
                f"{'; '.join(changes)}. Resume with the saved settings, start "
                f"over with {self._name('overwrite')}, or search in a new "
                f"{self._name('project_name')}."
            )

    def trial_settings(self, hyperparameters):
        """The `TranslationRun` settings of a trial with `hyperparameters`
        (declaring the search space on them; undrawn ones take defaults)."""
        values = {
            name: hyperparameter(hyperparameters, name, spec)
            for name, spec in self.search_space.items()
        }
        model_overrides = {
            **self.settings.get("model_overrides", {}),
            **{name: values[name] for name in MODEL_HYPERPARAMETERS},
            "intermediate_dim": values["hidden_dim"]
            * values["intermediate_multiplier"],
        }
        return {
            **self.settings,
            **{name: values[name] for name in RUN_HYPERPARAMETERS},
            "model_overrides": model_overrides,
        }

    def run_dir(self, trial_id):
        """The run directory of trial `trial_id`."""
        return os.path.join(self.get_trial_dir(trial_id), "run")

    def search(
        self,
        epochs=1,
        budget_minutes=None,
        bleu_every=1,
        bleu_examples=TRIAL_BLEU_EXAMPLES,
        verbose=1,
    ):
        """Runs trials until the oracle stops.

        Args:
            epochs: int. Epochs a trial trains (Hyperband gives each trial
                its own). Defaults to `1`.
            budget_minutes: float or None. Wall-clock minutes per trial (per
                call of its run: a Hyperband follow-up gets its own).
            bleu_every: int. Validation BLEU every this many epochs.
                Defaults to `1`.
            bleu_examples: int. Validation sentences BLEU translates.
                Defaults to `100` (`TRIAL_BLEU_EXAMPLES`, as `ktb tune
                transformer --bleu-examples`).
            verbose: int. KerasTuner's progress output. Defaults to `1`.
        """
        check_positive_int(self._name("epochs"), epochs)
        check_positive_number(
            self._name("budget_minutes"), budget_minutes, allow_none=True
        )
        check_positive_int(self._name("bleu_examples"), bleu_examples)
        if self.objective_metric.name == "val_bleu":
            check_positive_int(self._name("bleu_every"), bleu_every)
        # One search trains in the project at a time (two would both take
        # each trial the oracle hands out and train it in the same directory).
        with self.project_lock():
            return super().search(
                epochs=epochs,
                budget_minutes=budget_minutes,
                bleu_every=bleu_every,
                bleu_examples=bleu_examples,
                verbose=verbose,
            )

    def run_trial(
        self,
        trial,
        epochs=1,
        budget_minutes=None,
        bleu_every=1,
        bleu_examples=TRIAL_BLEU_EXAMPLES,
        verbose=1,
    ):
        """Trains (or resumes) the trial's run; returns its best metrics."""
        # The last trial's model and traced functions are done with (as
        # KerasTuner's own trials clear them before building).
        keras.backend.clear_session()
        hp = trial.hyperparameters
        run_dir = self.run_dir(trial.trial_id)
        # Hyperband: the trial's total epochs, and the trial it continues.
        target = hp.values.get("tuner/epochs", epochs)
        predecessor = hp.values.get("tuner/trial_id")
        run = TranslationRun(
            run_dir,
            strategy=self.strategy,
            names=self.names,
            **self.trial_settings(hp),
        )
        trained = os.path.join(self.get_trial_dir(trial.trial_id), TRAINED_FILE)
        if not gfile.exists(trained):
            self._prepare_run_dir(run_dir, predecessor)
            try:
                run.resolve_config()
            except ValueError as error:
                raise keras_tuner.errors.FailedTrialError(
                    f"{error}; skipping this combination."
                ) from error
            history = run.history()
            done = history[-1]["epoch"] if history else 0
            if target > done:
                # KerasTuner counts its trials from 1 ("Running Trial #2");
                # the id names the trial's directory.
                print(
                    f"Trial id {trial.trial_id} (trial_{trial.trial_id}): the run "
                    f"{run_dir} trains up to "
                    f"epoch {target}"
                    + (f", continuing trial {predecessor}'s" if predecessor else "")
                )
                run.train(
                    epochs=target - done,
                    budget_minutes=budget_minutes,
                    bleu_every=bleu_every,
                    bleu_examples=bleu_examples,
                )
            gfile.makedirs(os.path.dirname(trained))
            write_json_atomically(trained, {"epochs": target})
        history = run.history()
        if not any(self.objective_metric.name in entry for entry in history):
            raise keras_tuner.errors.FailedTrialError(
                f"The run {run_dir} logged no {self.objective_metric.name} in its "
                f"{len(history)} epoch(s): score it every epoch (bleu_every=1) "
                "and keep a validation split."
            )
        return _best_metrics(history, self.objective_metric)

    def _prepare_run_dir(self, run_dir, predecessor):
        """Clears a run killed before it wrote its config; starts a Hyperband
        follow-up from a copy of its predecessor's run."""
        if gfile.exists(run_dir) and not gfile.exists(
            os.path.join(run_dir, CONFIG_FILE)
        ):
            # Nothing trained: it is started again, unless a live run holds
            # it (reading its data before it writes its config).
            with RunLock(run_dir):
                pass
            remove_tree(run_dir)
        if predecessor is None or gfile.exists(run_dir):
            return
        source = self.run_dir(predecessor)
        if not gfile.exists(os.path.join(source, CONFIG_FILE)):
            raise keras_tuner.errors.FailedTrialError(
                f"This Hyperband trial continues trial {predecessor}, whose run "
                f"{source} is missing: every tuner of a search needs the same "
                "directory."
            )
        _copy_run(source, run_dir)

    def load_model(self, trial):
        """The trial's trained `Transformer`: its run's best validation-BLEU
        weights (`best.keras`), else its last."""
        return TranslationRun(self.run_dir(trial.trial_id)).load()[3]

    def get_best_run_dirs(self, num_runs=1):
        """The run directories of the best trials, best first: each a model
        directory `ktb translate evaluate|predict|export` takes."""
        trials = self.oracle.get_best_trials(num_runs)
        return [self.run_dir(trial.trial_id) for trial in trials]


def _check_corpus(config, names):
    """Reads the corpus of `config` once, refusing data that names none."""
    try:
        with restate_setting_errors(names):
            load_corpus(config)
    except FileNotFoundError as error:
        name = names.get("data", "data")
        raise ValueError(
            f"{name} names a file that does not exist ({error}). "
            f"Received: {name}={config['data']!r}"
        ) from None


class _ProjectLock(RunLock):
    """The project directory's `RunLock`, its refusal worded for a search."""

    def acquire(self):
        try:
            return super().acquire()
        except RunLockedError as error:
            raise RunLockedError(
                f"Another search is running in {self.model_dir}: {error}"
            ) from None


def _full_settings(settings, other):
    """`settings` with the defaults of the keys `other` gives and it lacks
    (a key left out means the recipe's value)."""
    defaults = default_config()
    full = {key: settings.get(key, defaults.get(key)) for key in {*settings, *other}}
    overrides = settings.get("model_overrides", {})
    other_overrides = other.get("model_overrides", {})
    if overrides or other_overrides:
        full["model_overrides"] = {
            name: overrides.get(name, defaults["model_overrides"].get(name))
            for name in {*overrides, *other_overrides}
        }
    return full
