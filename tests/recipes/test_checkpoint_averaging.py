import keras
import numpy as np
import pytest

from keras_transformer_bit.recipes import CheckpointAveraging


def _model_and_data():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(0)
    return model, rng.normal(size=(16, 3)), rng.normal(size=(16, 2))


class RecordWeights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append([np.array(w) for w in self.model.get_weights()])


def test_the_model_ends_with_the_mean_of_the_last_epochs():
    model, x, y = _model_and_data()
    record, averaging = RecordWeights(), CheckpointAveraging(num_checkpoints=3)
    model.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[record, averaging])
    assert averaging.num_kept == 3
    for weight, values in zip(model.get_weights(), zip(*record.epochs[-3:])):
        np.testing.assert_allclose(weight, np.mean(values, axis=0), rtol=1e-6)
    # ... which is not the last epoch's weights.
    assert not np.allclose(model.get_weights()[0], record.epochs[-1][0])


def test_averaging_can_wait_for_the_caller():
    model, x, y = _model_and_data()
    averaging = CheckpointAveraging(num_checkpoints=2, apply_on_train_end=False)
    model.fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[averaging])
    last = [np.array(w) for w in model.get_weights()]
    averaged = averaging.averaged_weights()
    for weight, kept in zip(model.get_weights(), last):
        np.testing.assert_array_equal(weight, kept)
    averaging.apply()
    for weight, expected in zip(model.get_weights(), averaged):
        np.testing.assert_array_equal(weight, expected)


def test_bad_arguments_and_nothing_to_average():
    with pytest.raises(ValueError, match="num_checkpoints must be a positive int"):
        CheckpointAveraging(num_checkpoints=0)
    with pytest.raises(ValueError, match="no weights to average"):
        CheckpointAveraging().averaged_weights()
    with pytest.raises(ValueError, match="no weights to average"):
        CheckpointAveraging().apply()  # before training: named, not a crash


def test_a_shorter_window_of_the_kept_epochs():
    model, x, y = _model_and_data()
    record, averaging = RecordWeights(), CheckpointAveraging(num_checkpoints=4)
    model.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[record, averaging])
    for last in (1, 2, 4):
        for weight, values in zip(
            averaging.averaged_weights(last=last), zip(*record.epochs[-last:])
        ):
            np.testing.assert_allclose(weight, np.mean(values, axis=0), rtol=1e-6)
    # More than is kept: the mean of all kept epochs, as without `last`.
    for wide, kept in zip(
        averaging.averaged_weights(last=9), averaging.averaged_weights()
    ):
        np.testing.assert_array_equal(wide, kept)
    with pytest.raises(ValueError, match="last must be a positive int"):
        averaging.averaged_weights(last=0)
