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


@pytest.mark.parametrize("minutes", [0, -1, True, "5"])
def test_bad_minutes_are_named(minutes):
    with pytest.raises(ValueError, match="minutes must be a number > 0"):
        TrainingBudget(minutes)
