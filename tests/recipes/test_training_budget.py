import keras
import numpy as np
import pytest

from keras_transformer_bit.recipes import TrainingBudget


def test_spent_after_start_and_said_once(capsys):
    budget = TrainingBudget(minutes=1e-9)
    assert not budget.spent()  # the clock has not started
    budget.start()
    assert budget.spent() and budget.spent() and budget.stopped_early
    assert capsys.readouterr().out.count("Training budget of 1e-09 minutes spent") == 1
    roomy = TrainingBudget(minutes=10)
    roomy.start()
    assert not roomy.spent() and not roomy.stopped_early


def test_fit_stops_after_the_batch_that_spends_it():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    budget = TrainingBudget(minutes=1e-9, verbose=False)
    history = model.fit(
        np.zeros((8, 2)), np.zeros((8, 1)), batch_size=2, epochs=5,
        callbacks=[budget], verbose=0,
    )  # fmt: skip
    assert budget.stopped_early
    assert len(history.epoch) == 1 and int(model.optimizer.iterations) == 1


@pytest.mark.parametrize("minutes", [0, -1, True, "5", float("inf"), float("nan")])
def test_bad_minutes_are_named(minutes):
    with pytest.raises(ValueError, match="minutes must be a number > 0"):
        TrainingBudget(minutes)


def test_drives_the_cooldown_of_the_optimizer_schedule(monkeypatch):
    from keras_transformer_bit.recipes import NoamSchedule, training_budget

    now = [100.0]
    monkeypatch.setattr(training_budget.time, "perf_counter", lambda: now[0])
    schedule = NoamSchedule(8, warmup_steps=1, cooldown=0.5)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(schedule), "mse")
    seen = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(schedule.progress)
            now[0] += 30.0  # each step takes half a minute

    # 2 minutes of a 4-minute budget were spent by a call that was stopped.
    budget = TrainingBudget(minutes=2, spent_minutes=2, verbose=False)
    model.fit(
        np.zeros((8, 2)), np.zeros((8, 1)), batch_size=2, epochs=5,
        callbacks=[budget, Clock()], verbose=0,
    )  # fmt: skip
    # Progress is of the whole 4 minutes, read before each step; the budget
    # is found spent at the end of the step that began at its end.
    np.testing.assert_allclose(seen, [0.5, 0.625, 0.75, 0.875, 1.0])
    assert budget.stopped_early and budget.progress == 1.0


def test_leaves_other_schedules_alone():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    budget = TrainingBudget(minutes=5, verbose=False)
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), callbacks=[budget], verbose=0)
    assert 0.0 < budget.progress < 0.1


def test_drive_schedule_false_keeps_the_cooldown_still():
    from keras_transformer_bit.recipes import NoamSchedule

    schedule = NoamSchedule(8, cooldown=0.5)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(schedule), "mse")
    budget = TrainingBudget(minutes=1e-9, verbose=False, drive_schedule=False)
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), callbacks=[budget], verbose=0)
    assert schedule.progress == 0.0


@pytest.mark.parametrize("spent", [-1, float("nan"), "1", True, float("inf")])
def test_bad_spent_minutes_are_named(spent):
    with pytest.raises(ValueError, match="spent_minutes must be a number >= 0"):
        TrainingBudget(5, spent_minutes=spent)


def test_under_jax_the_cooldown_is_left_plain_and_said_so():
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import warnings
        import keras, numpy as np
        from keras_transformer_bit.recipes import NoamSchedule, TrainingBudget
        schedule = NoamSchedule(8, cooldown=0.5)
        try:
            schedule.set_progress(0.5)
        except ValueError as error:
            print("refused:", error)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(schedule), "mse")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0,
                      callbacks=[TrainingBudget(1e-9, verbose=False)])
        print("warned:", any("under JAX" in str(w.message) for w in caught))
        print("progress:", schedule.progress)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "KERAS_BACKEND": "jax"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "refused: A cooldown driven by set_progress needs" in result.stdout
    assert "Give NoamSchedule total_steps instead" in result.stdout
    assert "warned: True" in result.stdout and "progress: 0.0" in result.stdout


@pytest.mark.large
def test_drives_the_cooldown_of_every_replica_under_mirrored_strategy():
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, numpy as np
        from keras_transformer_bit.recipes import NoamSchedule, TrainingBudget
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            schedule = NoamSchedule(8, warmup_steps=1, cooldown=1.0)
            model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
            model.compile(keras.optimizers.SGD(schedule), "mse")
        x, y = np.ones((8, 2)), np.ones((8, 1))
        schedule.set_progress(1.0)  # rate 0 on both replicas: nothing moves
        before = model.get_weights()[0].copy()
        model.fit(x, y, batch_size=4, epochs=2, verbose=0)
        print("still:", np.array_equal(before, model.get_weights()[0]))
        schedule.set_progress(0.0)
        budget = TrainingBudget(minutes=10, verbose=False)
        seen = []
        class Seen(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                seen.append(schedule.progress)
        history = model.fit(x, y, batch_size=4, epochs=2, verbose=0,
                            callbacks=[budget, Seen()])
        print("moved:", not np.array_equal(before, model.get_weights()[0]))
        print("driven:", 0 < seen[0] < seen[-1] < 0.1)
        print("logged:", len(history.history["learning_rate"]) == 2)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "still: True" in result.stdout, result.stdout
    assert "moved: True" in result.stdout and "driven: True" in result.stdout
    assert "logged: True" in result.stdout


def test_logs_the_rate_each_epoch_ended_with(monkeypatch):
    from keras_transformer_bit.recipes import NoamSchedule, training_budget

    now = [0.0]
    monkeypatch.setattr(training_budget.time, "perf_counter", lambda: now[0])

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            now[0] += 15.0

    schedule = NoamSchedule(8, warmup_steps=1, cooldown=0.5)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(schedule), "mse")
    history = model.fit(
        np.zeros((4, 2)), np.zeros((4, 1)), batch_size=2, epochs=10,
        callbacks=[TrainingBudget(minutes=2, verbose=False), Clock()], verbose=0,
    )  # fmt: skip
    rates = history.history["learning_rate"]
    # 2 steps (30 s) an epoch, each setting the progress as it begins: plain
    # for the first minute, then 1 - (progress - 0.5) / 0.5 of it, down to 0.
    plain = NoamSchedule(8, warmup_steps=1)
    expected = [
        float(plain(2)), float(plain(4)), 0.75 * float(plain(6)),
        0.25 * float(plain(8)), 0.0,
    ]  # fmt: skip
    np.testing.assert_allclose(rates, expected, rtol=1e-5)


def test_numpy_numbers_pass_and_drive_schedule_is_a_bool():
    # Found by a user trial: np.int64 minutes were refused, np.float64 not.
    assert TrainingBudget(np.int64(1)).minutes == 1.0
    assert TrainingBudget(np.float32(0.5), spent_minutes=np.int32(2)).spent_minutes == 2
    for value in ("yes", None, 2):
        with pytest.raises(ValueError, match="drive_schedule must be True or False"):
            TrainingBudget(5, drive_schedule=value)


def test_a_later_fit_without_a_budget_trains_on_the_plain_schedule():
    # Found by a user trial: the progress stayed at 1 after the budget, so a
    # second `fit` trained at a rate of 0 (while a reloaded copy trained).
    from keras_transformer_bit.recipes import NoamSchedule

    schedule = NoamSchedule(8, warmup_steps=1, cooldown=0.5)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(schedule), "mse")
    x, y = np.ones((4, 2)), np.ones((4, 1))
    budget = TrainingBudget(minutes=1e-9, verbose=False)
    history = model.fit(x, y, epochs=3, callbacks=[budget], verbose=0)
    assert history.history["learning_rate"] == [0.0]  # it ended at 0
    assert schedule.progress == 0.0  # and the budget's progress went with it
    before = model.get_weights()[0].copy()
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(before, model.get_weights()[0])
