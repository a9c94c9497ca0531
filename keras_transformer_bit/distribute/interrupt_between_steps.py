"""Ctrl-C during training stops it between two steps, never inside one."""

import signal
import sys
import threading
import warnings

import keras


class InterruptBetweenSteps(keras.callbacks.Callback):
    """A callback and context manager that defers Ctrl-C to the next step.

    Python raises `KeyboardInterrupt` wherever the main thread happens to be.
    Inside TensorFlow (tracing a step, running it, reading a dataset, saving a
    model) the exception can surface as an unrelated `SystemError`, or be
    swallowed so that training goes on as if nothing happened. Within this
    context the first Ctrl-C only records the request (`requested` is then
    `True`) and says so on stderr; the callback raises `KeyboardInterrupt`
    where Python is in charge: before the next training step, or before the
    next epoch when the request came during the last step or the epoch's end.
    An epoch's end (validation, the other callbacks' `on_epoch_end`: a backup,
    a checkpoint) therefore finishes, wherever the callback stands in the
    list. In `evaluate` and `predict` it raises before the next batch. What
    the context holds after training (saving the model) finishes too: a
    request still pending when the context closes raises there. Raising
    clears `requested`. A second Ctrl-C raises at once.

    Use it as the example shows: the context installs the SIGINT handler, the
    callback acts on it. Passed to `fit` outside its context it does nothing
    (and warns). Nothing changes where a handler other than Python's default
    one (or another `InterruptBetweenSteps`'s, whose context this one then
    runs in) is in place, where SIGINT is ignored (a background job), or off
    the main thread (signal handlers can only be set there).

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
        self._training = False

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
            "\nInterrupted: stopping once the current step (or save) is done; "
            "press Ctrl-C again to stop at once.",
            file=sys.stderr,
            flush=True,
        )

    def dismiss(self, reason):
        """Clears a pending request, saying on stderr why it is not acted on.

        For work that ended before the request could stop it: a run whose
        final save was under way is complete, and raising then would only
        say "interrupted" about a finished run.

        Args:
            reason: str. Why, e.g. `"the run is complete and saved"`.
        """
        if self.requested:
            self.requested = False
            print(f"Ctrl-C came too late to stop anything: {reason}.", file=sys.stderr)

    def _raise_if_requested(self):
        if self.requested:
            self.requested = False
            raise KeyboardInterrupt

    def on_train_begin(self, logs=None):
        self._training = True
        if not self._replaced:
            warnings.warn(
                "InterruptBetweenSteps was given to fit outside its context, "
                "where it does nothing: use `with InterruptBetweenSteps() as "
                "interrupt: model.fit(..., callbacks=[interrupt])`.",
                stacklevel=2,
            )

    def on_train_end(self, logs=None):
        self._training = False

    def on_epoch_begin(self, epoch, logs=None):
        self._raise_if_requested()

    def on_train_batch_begin(self, batch, logs=None):
        self._raise_if_requested()

    def on_test_batch_begin(self, batch, logs=None):
        # Not during fit's validation: the epoch's end (its backup) comes
        # after it.
        if not self._training:
            self._raise_if_requested()

    def on_predict_batch_begin(self, batch, logs=None):
        self._raise_if_requested()
