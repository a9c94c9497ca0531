"""A callback that stops training when a wall-clock budget is spent."""

import time
import warnings

import keras

from keras_transformer_bit.utils import is_finite_number


class TrainingBudget(keras.callbacks.Callback):
    """Stops `model.fit` once `minutes` of wall-clock time have passed.

    The clock starts at `on_train_begin`. Training stops after the batch during
    which the budget runs out, so a run overshoots by at most one train step
    (plus whatever epoch-end callbacks then run, such as validation).
    `stopped_early` tells afterwards whether the budget, not the epoch count,
    ended training.

    Before every step it also tells the optimizer's learning-rate schedule how
    much of the budget is spent, when the schedule has a cooldown to drive
    (`NoamSchedule(cooldown=...)`, by `set_progress`): the learning rate then
    reaches zero as the budget runs out, wherever that falls. The rate an
    epoch ended with is then logged as `learning_rate` (in `fit`'s history).
    The progress is the clock's, so when the budget runs out during an
    epoch's end (validation, other callbacks) rather than during a step, the
    last step's rate is the clock's then, a little above zero. When training
    ends the progress goes back to 0: a later `fit` without a budget trains
    on the plain schedule, as a reloaded model would.

    Args:
        minutes: float. The budget; must be > 0.
        verbose: bool. Print a line when the budget stops training. Defaults to
            `True`.
        spent_minutes: float. Minutes of the same budget that earlier calls
            spent (a run resumed after a kill): the schedule's progress is of
            `spent_minutes + minutes`. Defaults to `0.0`.
        drive_schedule: bool. Set the schedule's progress. Defaults to `True`.
            Workers of a multi-worker job read different clocks, and must not
            (their learning rates, and then their weights, would drift apart).

    Example:
    >>> budget = TrainingBudget(minutes=20)
    >>> model.fit(data, epochs=1000, callbacks=[budget])  # doctest: +SKIP
    """

    def __init__(self, minutes, verbose=True, spent_minutes=0.0, drive_schedule=True):
        super().__init__()
        if not is_finite_number(minutes) or not minutes > 0:
            raise ValueError(
                f"minutes must be a number > 0. Received: minutes={minutes!r}"
            )
        if not is_finite_number(spent_minutes) or not spent_minutes >= 0:
            raise ValueError(
                "spent_minutes must be a number >= 0. "
                f"Received: spent_minutes={spent_minutes!r}"
            )
        if not isinstance(drive_schedule, bool):
            raise ValueError(
                "drive_schedule must be True or False. "
                f"Received: drive_schedule={drive_schedule!r}"
            )
        self.minutes = float(minutes)
        self.spent_minutes = float(spent_minutes)
        self.verbose = verbose
        self.drive_schedule = drive_schedule
        self.stopped_early = False
        self.started = None
        self._schedule = None

    @property
    def elapsed_seconds(self):
        return 0.0 if self.started is None else time.perf_counter() - self.started

    @property
    def progress(self):
        """The fraction of the whole budget spent (earlier calls' included),
        at most 1."""
        total = self.spent_minutes + self.minutes
        return min(1.0, (self.spent_minutes + self.elapsed_seconds / 60) / total)

    def start(self):
        """Starts the clock (`fit` does, through `on_train_begin`)."""
        self.started = time.perf_counter()
        self.stopped_early = False

    def spent(self):
        """Whether the budget has run out since `start`; says so the first time.

        For training loops other than `fit`, which call `start` and then this
        where they can stop (e.g. at epoch ends).
        """
        if self.elapsed_seconds < self.minutes * 60:
            return False
        if not self.stopped_early and self.verbose:
            print(
                f"Training budget of {self.minutes:g} minutes spent after "
                f"{self.elapsed_seconds / 60:.1f} minutes; stopping."
            )
        self.stopped_early = True
        return True

    def on_train_begin(self, logs=None):
        self.start()
        self._schedule = None
        if self.drive_schedule:
            self._schedule = _cooldown_schedule(getattr(self.model, "optimizer", None))
        if self._schedule is not None and keras.backend.backend() == "jax":
            warnings.warn(
                "TrainingBudget leaves the learning-rate cooldown of the "
                "optimizer's schedule at 0 under JAX (a compiled JAX step "
                "keeps the progress it was traced with): the plain schedule "
                "trains. Give the schedule total_steps for a cooldown by step.",
                stacklevel=2,
            )
            self._schedule = None

    def on_train_batch_begin(self, batch, logs=None):
        if self._schedule is not None:
            self._schedule.set_progress(self.progress)

    def on_epoch_end(self, epoch, logs=None):
        # The rate the cooldown has reached, in the history (and TensorBoard).
        if self._schedule is not None and logs is not None:
            rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))

    def on_train_end(self, logs=None):
        # The budget's progress ends with it: a later `fit` without a budget
        # trains on the plain schedule (as a reloaded model does), not at the
        # rate of 0 the cooldown ended on.
        if self._schedule is not None:
            self._schedule.set_progress(0.0)
        self._schedule = None

    def on_train_batch_end(self, batch, logs=None):
        if self.spent():
            self.model.stop_training = True


def _cooldown_schedule(optimizer):
    """The optimizer's learning-rate schedule when it has a progress to set
    (a `NoamSchedule` with a cooldown and no `total_steps`), else `None`."""
    # Keras keeps the schedule in `_learning_rate`; `learning_rate` is its
    # value at the current step.
    schedule = getattr(optimizer, "_learning_rate", None)
    if getattr(schedule, "_progress", None) is None:
        return None
    return schedule
