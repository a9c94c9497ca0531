import keras
import numpy as np
import pytest

import keras_transformer_bit as ktb
from tests.distribute import toy_tasks


def _train(task, strategy, steps_per_epoch=2, epochs=2, model_dir=None, weights=None):
    with strategy.scope():
        model = toy_tasks.make_model(task)
        if weights is not None:
            model.set_weights(weights)
        optimizer = toy_tasks.make_optimizer(task)
    loop = ktb.distribute.CustomTrainingLoop(
        model,
        optimizer,
        toy_tasks.make_loss(task),
        strategy=strategy,
        model_dir=model_dir,
    )
    dataset = toy_tasks.make_dataset(
        task, global_batch_size=8, num_examples=8 * steps_per_epoch
    )
    history = loop.fit(dataset, epochs=epochs, verbose=0)
    return loop, history


@pytest.mark.parametrize(
    "task",
    [
        "dense",
        pytest.param("transformer", marks=pytest.mark.large),
        pytest.param("bit", marks=pytest.mark.large),
    ],
)
def test_mirrored_equals_one_device(task):
    mirrored = ktb.distribute.get_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    one = ktb.distribute.get_strategy("one_device")
    with one.scope():
        initial = toy_tasks.make_model(task).get_weights()
    reference, ref_history = _train(task, one, weights=initial)
    loop, history = _train(task, mirrored, weights=initial)
    diff = max(
        np.max(np.abs(a - b)) for a, b in zip(reference.weights(), loop.weights())
    )
    moved = max(np.max(np.abs(a - b)) for a, b in zip(initial, loop.weights()))
    print(task, "max abs diff", diff, "moved", moved, ref_history, history)
    assert moved > 1e-3
    assert diff <= 1e-5
    np.testing.assert_allclose(history["loss"], ref_history["loss"], atol=1e-5)


@pytest.mark.large
def test_resume_continues_epochs_and_weights(tmp_path):
    strategy = ktb.distribute.get_strategy("mirrored")
    straight, _ = _train("dense", strategy, epochs=3)
    _train("dense", strategy, epochs=2, model_dir=str(tmp_path))
    resumed, history = _train("dense", strategy, epochs=3, model_dir=str(tmp_path))
    assert history["epoch"] == [3]  # epochs 1 and 2 came from the checkpoint
    for a, b in zip(straight.weights(), resumed.weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert (tmp_path / "logs" / "train").is_dir()


def test_model_built_outside_the_scope_is_refused():
    model = toy_tasks.make_model("dense")
    with pytest.raises(ValueError, match="not created under the strategy's scope"):
        ktb.distribute.CustomTrainingLoop(
            model,
            keras.optimizers.SGD(),
            "mse",
            strategy=ktb.distribute.get_strategy("mirrored"),
        )
    with pytest.raises(ValueError, match="XLA"):
        strategy = ktb.distribute.get_strategy("mirrored")
        with strategy.scope():
            model = toy_tasks.make_model("dense")
        ktb.distribute.CustomTrainingLoop(
            model, keras.optimizers.SGD(), "mse", strategy=strategy, jit_compile=True
        )


def test_total_steps_and_stopping_from_on_epoch_end():
    strategy = ktb.distribute.get_strategy("one_device")
    with strategy.scope():
        model = toy_tasks.make_model("dense")
        optimizer = toy_tasks.make_optimizer("dense")
    loop = ktb.distribute.CustomTrainingLoop(
        model, optimizer, toy_tasks.make_loss("dense"), strategy=strategy
    )
    dataset = toy_tasks.make_dataset("dense", 8, num_examples=64).repeat()
    # 5 steps as epochs of 2, 2 and 1.
    history = loop.fit(dataset, epochs=3, steps_per_epoch=2, total_steps=5, verbose=0)
    assert history["epoch"] == [1, 2, 3] and int(optimizer.iterations) == 5
    with pytest.raises(ValueError, match="Received: total_steps=7, epochs=3"):
        loop.fit(dataset, epochs=3, steps_per_epoch=2, total_steps=7)
    with pytest.raises(ValueError, match="total_steps needs steps_per_epoch"):
        loop.fit(dataset, epochs=3, total_steps=5)
    # on_epoch_end may add logs, and stops training by returning True.
    loop.epoch.assign(0)

    def on_epoch_end(epoch, logs):
        logs["doubled_loss"] = 2 * logs["loss"]
        return epoch == 2

    history = loop.fit(dataset, epochs=5, steps_per_epoch=1, on_epoch_end=on_epoch_end)
    assert history["epoch"] == [1, 2] and int(optimizer.iterations) == 7
    assert history["doubled_loss"] == [2 * loss for loss in history["loss"]]


def test_global_batches_are_sharded_by_data_unless_the_caller_chose():
    import tensorflow as tf

    from keras_transformer_bit.distribute.custom_training_loop import _shard_by_data

    policies = tf.data.experimental.AutoShardPolicy

    def policy(dataset):
        return dataset.options().experimental_distribute.auto_shard_policy

    batches = tf.data.Dataset.range(8).batch(4)
    assert policy(batches) == policies.AUTO
    assert policy(_shard_by_data(batches)) == policies.DATA
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policies.OFF
    assert policy(_shard_by_data(batches.with_options(options))) == policies.OFF
