"""Keras callbacks behave the same under `model.fit` and `CustomTrainingLoop`.

Each test runs twice: once through `fit`, once through the loop (on one
device, built under its strategy's scope), and asserts the same thing.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.recipes import BleuCallback, TrainingBudget
from tests.tiny_translation import tiny_model, tiny_tokenizer

STEPS = 3  # batches per epoch


def _dataset():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4 * STEPS, 5)).astype("float32")
    y = rng.normal(size=(4 * STEPS, 1)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


def _dense():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(1)])


def train_with_fit(make_model, loss, dataset, epochs, callbacks, validation=None):
    model = make_model()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)
    history = model.fit(
        dataset,
        epochs=epochs,
        callbacks=callbacks,
        validation_data=validation,
        verbose=0,
    )
    return history, int(model.optimizer.iterations)


def train_with_loop(make_model, loss, dataset, epochs, callbacks, validation=None):
    strategy = ktb.distribute.get_strategy("one_device")
    with strategy.scope():
        model = make_model()
        optimizer = keras.optimizers.SGD(0.01)
    loop = ktb.distribute.CustomTrainingLoop(model, optimizer, loss, strategy=strategy)
    history = loop.fit(
        dataset,
        epochs=epochs,
        callbacks=callbacks,
        validation_data=validation,
        verbose=0,
    )
    return history, int(optimizer.iterations)


TRAINERS = [train_with_fit, train_with_loop]


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, tuple(sorted(logs))))
        logs["extra"] = 10.0 * epoch  # reaches the history

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


@pytest.mark.parametrize("train", TRAINERS)
def test_hooks_run_in_fits_order_and_logs_reach_the_history(train):
    recorder = Recorder()
    history, _ = train(
        _dense, "mse", _dataset(), 2, [recorder], validation=_dataset().take(1)
    )
    batches = [("batch_end", b) for b in range(STEPS)]
    assert recorder.calls == [
        ("train_begin",),
        ("epoch_begin", 0),
        *batches,
        ("epoch_end", 0, ("loss", "val_loss")),
        ("epoch_begin", 1),
        *batches,
        ("epoch_end", 1, ("loss", "val_loss")),
        ("train_end",),
    ]
    assert recorder.model is not None
    assert history.epoch == [0, 1]
    assert history.history["extra"] == [0.0, 10.0]
    assert len(history.history["val_loss"]) == 2


@pytest.mark.parametrize("train", TRAINERS)
def test_training_budget_stops_after_the_step_it_ran_out_in(train):
    budget = TrainingBudget(minutes=1e-9, verbose=False)
    history, steps = train(_dense, "mse", _dataset(), 5, [budget])
    assert budget.stopped_early
    assert history.epoch == [0]
    assert steps == 1


@pytest.mark.parametrize("train", TRAINERS)
def test_early_stopping_stops_both(train):
    class StopAtEpoch1(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 1

    history, steps = train(_dense, "mse", _dataset(), 5, [StopAtEpoch1()])
    assert history.epoch == [0, 1]
    assert steps == 2 * STEPS


@pytest.mark.parametrize("train", TRAINERS)
def test_tensorboard_writes_the_epoch_scalars(train, tmp_path):
    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path))
    train(_dense, "mse", _dataset(), 2, [board])
    events = [
        name for name in os.listdir(tmp_path / "train") if name.startswith("events")
    ]
    assert events
    tags = set()
    for event in tf.compat.v1.train.summary_iterator(
        str(tmp_path / "train" / events[0])
    ):
        tags.update(value.tag for value in event.summary.value)
    assert "epoch_loss" in tags


@pytest.mark.parametrize("train", TRAINERS)
def test_bleu_callback_scores_the_model_being_trained(train):
    tokenizer = tiny_tokenizer()
    pairs = [("ich bin hier", "i am here"), ("du bist dort", "you are there")]
    source = tokenizer.tokenize([s for s, _ in pairs]).to_tensor()
    target = tokenizer.tokenize([t for _, t in pairs]).to_tensor()
    start = tf.fill([2, 1], tf.cast(tokenizer.start_id, target.dtype))
    x = {
        "encoder_inputs": tf.cast(source, "int32"),
        "decoder_inputs": tf.cast(tf.concat([start, target[:, :-1]], 1), "int32"),
    }
    dataset = tf.data.Dataset.from_tensors((x, tf.cast(target, "int32")))
    bleu = BleuCallback(pairs, tokenizer, tokenizer, num_examples=2, max_length=8)
    history, _ = train(
        tiny_model, ktb.recipes.LabelSmoothedCrossEntropy(), dataset, 2, [bleu]
    )
    scores = history.history["val_bleu"]
    assert len(scores) == 2 and all(0.0 <= s <= 100.0 for s in scores)


def test_the_loop_refuses_backup_callbacks_it_replaces(tmp_path):
    for backup in (
        keras.callbacks.BackupAndRestore(str(tmp_path / "a")),
        ktb.distribute.AtomicBackupAndRestore(str(tmp_path / "b")),
    ):
        with pytest.raises(ValueError, match="model_dir/checkpoints.*pass model_dir"):
            train_with_loop(_dense, "mse", _dataset(), 1, [backup])
    with pytest.raises(ValueError, match="keras.callbacks.Callback"):
        train_with_loop(_dense, "mse", _dataset(), 1, ["tensorboard"])


def test_accuracy_is_read_as_compile_reads_it():
    strategy = ktb.distribute.get_strategy("one_device")
    with strategy.scope():
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])
        optimizer = keras.optimizers.SGD(0.01)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loop = ktb.distribute.CustomTrainingLoop(
        model, optimizer, loss, metrics=["accuracy"], strategy=strategy
    )
    assert isinstance(loop.metrics[0], keras.metrics.SparseCategoricalAccuracy)
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, np.arange(8) % 3)).batch(4)
    history = loop.fit(data, epochs=1, verbose=0)
    assert 0 <= history.history["sparse_categorical_accuracy"][0] <= 1
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive int"):
        loop.fit(data.repeat(), epochs=1, steps_per_epoch=0, verbose=0)
