import keras
import numpy as np
import pytest

from keras_transformer_bit.recipes import NoamSchedule


def paper_rate(step, d_model=512, warmup=4000):
    return d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def test_matches_the_formula_of_section_5_3():
    schedule = NoamSchedule(512)
    for iteration in [0, 10, 1999, 3999, 4000, 10_000, 99_999]:
        np.testing.assert_allclose(
            float(schedule(iteration)), paper_rate(iteration + 1), rtol=1e-5
        )
    rates = [float(schedule(i)) for i in range(0, 12000, 500)]
    peak = int(np.argmax(rates))
    assert rates[peak] == pytest.approx((512 * 4000) ** -0.5, rel=1e-3)
    assert all(np.diff(rates[: peak + 1]) > 0) and all(np.diff(rates[peak:]) < 0)


def test_serialization_and_use_in_an_optimizer():
    schedule = NoamSchedule(64, warmup_steps=10, scale=2.0)
    revived = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert revived.get_config() == schedule.get_config()
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    config = optimizer.get_config()
    revived_optimizer = keras.optimizers.Adam.from_config(config)
    np.testing.assert_allclose(
        float(revived_optimizer.learning_rate), 2.0 * paper_rate(1, 64, 10), rtol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden_dim": 0}, "hidden_dim=0"),
        ({"hidden_dim": 8, "warmup_steps": -1}, "warmup_steps=-1"),
        ({"hidden_dim": 8, "scale": 0}, "scale=0"),
    ],
)
def test_errors_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NoamSchedule(**kwargs)
