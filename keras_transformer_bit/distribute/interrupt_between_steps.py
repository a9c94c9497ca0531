"""Ctrl-C during training stops it between two steps, never inside one."""

import signal
import sys
import threading

import keras


class InterruptBetweenSteps(keras.callbacks.Callback):
    """A callback and context manager that defers Ctrl-C to the next step.

    Python raises `KeyboardInterrupt` wherever the main thread happens to be.
    Inside TensorFlow (tracing a step, running it, reading a dataset) the
    exception can surface as an unrelated `SystemError`, or be swallowed so
    that training goes on as if nothing happened. Within this context the
    first Ctrl-C only records the request and says so; the callback raises
    `KeyboardInterrupt` where Python is in charge: before the next training
    step, or before the next epoch when the request came during the last step
    or the epoch's end. An epoch's end (validation, the other callbacks'
    `on_epoch_end`: a backup, a checkpoint) therefore finishes, wherever the
    callback stands in the list. When the context closes after training ran
    out of epochs, a pending request raises there. A second Ctrl-C raises at
    once.

    Nothing changes where a handler other than Python's default one (or
    another `InterruptBetweenSteps`'s, whose context this one then runs in) is
    in place, where SIGINT is ignored (a background job), or off the main
    thread (signal handlers can only be set there).

    Example:
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> with InterruptBetweenSteps() as interrupt:
    ...     history = model.fit(
    ...         np.zeros((8, 3)), np.zeros((8, 1)), callbacks=[interrupt], verbose=0
    ...     )
    >>> interrupt.requested
    False
    """

    def __init__(self):
        super().__init__()
        self.requested = False
        # The handler each open context replaced (None: it left it alone).
        self._replaced = []

    def __enter__(self):
        if not self._replaced:
            self.requested = False
        current = signal.getsignal(signal.SIGINT)
        installs = threading.current_thread() is threading.main_thread() and (
            current is signal.default_int_handler
            # Inside another one (a TranslationRun in a user's context): this
            # one's callback is the one in the training running now.
            or isinstance(getattr(current, "__self__", None), InterruptBetweenSteps)
        )
        self._replaced.append(
            signal.signal(signal.SIGINT, self._handle) if installs else None
        )
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        replaced = self._replaced.pop()
        if replaced is not None:
            signal.signal(signal.SIGINT, replaced)
        if exc_type is None and not self._replaced:
            self._raise_if_requested()
        return False

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\nInterrupted: stopping before the next training step (press Ctrl-C "
            "again to stop at once).",
            file=sys.stderr,
            flush=True,
        )

    def _raise_if_requested(self):
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt

    def on_epoch_begin(self, epoch, logs=None):
        self._raise_if_requested()

    def on_train_batch_begin(self, batch, logs=None):
        self._raise_if_requested()
