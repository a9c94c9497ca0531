"""A callback that stops training when a wall-clock budget is spent."""

import time

import keras


class TrainingBudget(keras.callbacks.Callback):
    """Stops `model.fit` once `minutes` of wall-clock time have passed.

    The clock starts at `on_train_begin`. Training stops after the batch during
    which the budget runs out, so a run overshoots by at most one train step
    (plus whatever epoch-end callbacks then run, such as validation).
    `stopped_early` tells afterwards whether the budget, not the epoch count,
    ended training.

    Args:
        minutes: float. The budget; must be > 0.
        verbose: bool. Print a line when the budget stops training. Defaults to
            `True`.

    Example:
    >>> budget = TrainingBudget(minutes=20)
    >>> model.fit(data, epochs=1000, callbacks=[budget])  # doctest: +SKIP
    """

    def __init__(self, minutes, verbose=True):
        super().__init__()
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, (int, float))
            or not (minutes > 0)
        ):
            raise ValueError(
                f"minutes must be a number > 0. Received: minutes={minutes!r}"
            )
        self.minutes = float(minutes)
        self.verbose = verbose
        self.stopped_early = False
        self.started = None

    @property
    def elapsed_seconds(self):
        return 0.0 if self.started is None else time.perf_counter() - self.started

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

    def on_train_batch_end(self, batch, logs=None):
        if self.spent():
            self.model.stop_training = True
