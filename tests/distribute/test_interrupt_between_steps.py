"""Ctrl-C during training stops it between steps, under `fit` and the loop."""

import os
import signal
import threading

import keras
import numpy as np
import pytest

from keras_transformer_bit.distribute import InterruptBetweenSteps
from tests.distribute.test_loop_callbacks import (
    STEPS,
    _dataset,
    _dense,
    train_with_fit,
    train_with_loop,
)


@pytest.fixture(autouse=True)
def _default_sigint(default_sigint):
    yield


def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


class CtrlCInStep(keras.callbacks.Callback):
    """Presses Ctrl-C as step `step` starts: the step is under way then."""

    def __init__(self, step):
        super().__init__()
        self.step = step
        self.steps_begun = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.steps_begun += 1
        if self.steps_begun == self.step + 1:
            ctrl_c()


@pytest.mark.parametrize("train", [train_with_fit, train_with_loop])
def test_a_ctrl_c_during_a_step_stops_before_the_next_one(train):
    interrupt = InterruptBetweenSteps()
    # The interrupt's hooks run before the presser's: the request reaches it
    # only at the next step, as one from inside TensorFlow would.
    presser = CtrlCInStep(step=4)
    with pytest.raises(KeyboardInterrupt):
        with interrupt:
            train(_dense, "mse", _dataset(), 3, [interrupt, presser])
    # Steps 0-4 ran; step 5 was begun by Keras but stopped before it ran.
    assert presser.steps_begun == 5
    assert interrupt.requested is False  # the request was acted on
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_it_the_interrupt_lands_wherever_python_is():
    presser = CtrlCInStep(step=4)
    with pytest.raises(KeyboardInterrupt):
        train_with_fit(_dense, "mse", _dataset(), 3, [presser])
    assert presser.steps_begun == 5  # raised inside step 4's begin hook


def test_a_ctrl_c_during_the_last_step_lets_the_epoch_end_run():
    epoch_ends = []

    class EpochEnds(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epoch_ends.append(epoch)

    interrupt = InterruptBetweenSteps()
    presser = CtrlCInStep(step=STEPS - 1)  # the first epoch's last step
    with pytest.raises(KeyboardInterrupt):
        with interrupt:
            train_with_fit(
                _dense, "mse", _dataset(), 3, [interrupt, presser, EpochEnds()]
            )
    assert epoch_ends == [0]  # epoch 0 ended (its backup would be written)


def test_a_request_pending_when_training_ends_raises_as_the_context_closes():
    with pytest.raises(KeyboardInterrupt):
        with InterruptBetweenSteps() as interrupt:
            ctrl_c()
            assert interrupt.requested
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_first_ctrl_c_says_so_and_a_second_one_stops_at_once(capsys):
    with InterruptBetweenSteps() as interrupt:
        ctrl_c()
        assert "stopping once the current step" in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            ctrl_c()
        interrupt.requested = False  # handled here, not at the context's end


def test_the_handler_is_restored_when_training_fails():
    with pytest.raises(ValueError, match="boom"):
        with InterruptBetweenSteps():
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            raise ValueError("boom")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        ctrl_c()  # Ctrl-C works as before


def test_another_handler_and_an_ignored_sigint_are_left_alone():
    def mine(signum, frame):
        pass

    for handler in (mine, signal.SIG_IGN):
        signal.signal(signal.SIGINT, handler)
        with InterruptBetweenSteps():
            assert signal.getsignal(signal.SIGINT) is handler
        assert signal.getsignal(signal.SIGINT) is handler


def test_off_the_main_thread_nothing_changes():
    seen = []

    def enter():
        with InterruptBetweenSteps() as interrupt:
            seen.append(signal.getsignal(signal.SIGINT))
            seen.append(interrupt.requested)

    thread = threading.Thread(target=enter)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler, False]


def test_it_trains_as_without_it():
    with InterruptBetweenSteps() as interrupt:
        history, steps = train_with_fit(_dense, "mse", _dataset(), 2, [interrupt])
    plain, plain_steps = train_with_fit(_dense, "mse", _dataset(), 2, [])
    assert steps == plain_steps == 2 * STEPS
    np.testing.assert_allclose(history.history["loss"], plain.history["loss"])


def test_inside_another_one_the_inner_training_stops():
    # A user's context around a TranslationRun, which opens its own: the
    # request must reach the callback of the training that is running.
    presser = CtrlCInStep(step=1)
    with pytest.raises(KeyboardInterrupt):
        with InterruptBetweenSteps():
            inner = InterruptBetweenSteps()
            with inner:
                train_with_fit(_dense, "mse", _dataset(), 50, [inner, presser])
    assert presser.steps_begun == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_one_instance_opened_twice_restores_the_handler_once_closed():
    interrupt = InterruptBetweenSteps()
    with interrupt:
        handler = signal.getsignal(signal.SIGINT)
        with interrupt:
            pass
        assert signal.getsignal(signal.SIGINT) == handler  # still deferring
        ctrl_c()
        assert interrupt.requested
        interrupt.requested = False
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class CtrlCInBatch(keras.callbacks.Callback):
    """Presses Ctrl-C as evaluate's or predict's batch `batch` starts."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch
        self.ended = 0

    def _press(self, batch):
        if batch == self.batch:
            ctrl_c()

    def on_test_batch_begin(self, batch, logs=None):
        self._press(batch)

    def on_predict_batch_begin(self, batch, logs=None):
        self._press(batch)

    def on_test_batch_end(self, batch, logs=None):
        self.ended += 1

    def on_predict_batch_end(self, batch, logs=None):
        self.ended += 1


@pytest.mark.parametrize("method", ["evaluate", "predict"])
def test_evaluate_and_predict_stop_before_the_next_batch(method):
    model = _dense()
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((64, 5), "float32")
    arguments = (x, np.zeros((64, 1), "float32")) if method == "evaluate" else (x,)
    presser = CtrlCInBatch(batch=2)
    with pytest.raises(KeyboardInterrupt):
        with InterruptBetweenSteps() as interrupt:
            getattr(model, method)(
                *arguments, batch_size=4, verbose=0, callbacks=[interrupt, presser]
            )
    assert presser.ended == 3  # batch 2 ran; batch 3 did not


def test_outside_its_context_it_warns_that_it_does_nothing():
    with pytest.warns(UserWarning, match="outside its context") as caught:
        train_with_fit(_dense, "mse", _dataset(), 1, [InterruptBetweenSteps()])
    mine = [w for w in caught if "outside its context" in str(w.message)]
    assert len(mine) == 1  # once per fit, not per step


def test_dismiss_clears_a_late_request_and_says_why(capsys):
    with InterruptBetweenSteps() as interrupt:
        interrupt.dismiss("nothing pending")  # silent without a request
        ctrl_c()
        interrupt.dismiss("the run is saved")
    assert not interrupt.requested
    assert "came too late to stop anything: the run is saved" in (
        capsys.readouterr().err
    )
