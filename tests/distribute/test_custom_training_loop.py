import json
import socket
import time

import keras
import numpy as np
import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.distribute import custom_training_loop
from keras_transformer_bit.distribute.cluster_error import failure_details
from keras_transformer_bit.distribute.step_watchdog import StepWatchdog
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
    np.testing.assert_allclose(
        history.history["loss"], ref_history.history["loss"], atol=1e-5
    )


@pytest.mark.large
def test_resume_continues_epochs_and_weights(tmp_path):
    strategy = ktb.distribute.get_strategy("mirrored")
    straight, _ = _train("dense", strategy, epochs=3)
    _train("dense", strategy, epochs=2, model_dir=str(tmp_path))
    resumed, history = _train("dense", strategy, epochs=3, model_dir=str(tmp_path))
    assert history.epoch == [2]  # epochs 1 and 2 came from the checkpoint
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


def test_total_steps_and_stopping_from_a_callback():
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
    assert history.epoch == [0, 1, 2] and int(optimizer.iterations) == 5
    with pytest.raises(ValueError, match="Received: total_steps=7, epochs=3"):
        loop.fit(dataset, epochs=3, steps_per_epoch=2, total_steps=7)
    with pytest.raises(ValueError, match="total_steps needs steps_per_epoch"):
        loop.fit(dataset, epochs=3, total_steps=5)
    # A callback may add logs, and stops training with model.stop_training.
    loop.epoch.assign(0)

    def on_epoch_end(epoch, logs):
        logs["doubled_loss"] = 2 * logs["loss"]
        model.stop_training = epoch == 1

    history = loop.fit(
        dataset,
        epochs=5,
        steps_per_epoch=1,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)],
    )
    assert history.epoch == [0, 1] and int(optimizer.iterations) == 7
    logged = history.history
    assert logged["doubled_loss"] == [2 * loss for loss in logged["loss"]]


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


def _cluster_with_listening_peer():
    """A TF_CONFIG whose peer (worker 1) listens on a real socket."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    (own_port,) = ktb.distribute.free_ports(1)
    addresses = [f"127.0.0.1:{own_port}", f"127.0.0.1:{server.getsockname()[1]}"]
    config = json.loads(ktb.distribute.make_tf_config(addresses, task_index=0))
    return server, config


def _watchdog(timeout_seconds, config=None, probe_seconds=0.2):
    exits = []
    dog = StepWatchdog(
        timeout_seconds,
        lambda: "epoch 1 (on_epoch_end)",
        tf_config=config,
        probe_seconds=probe_seconds,
        exit_function=exits.append,
    )
    return dog, exits


def test_watchdog_excludes_paused_epoch_end_work_while_peers_answer(capsys):
    server, config = _cluster_with_listening_peer()
    try:
        dog, exits = _watchdog(0.3, config)
        with dog:
            with dog.paused():  # e.g. BLEU on the chief: 5x the timeout
                time.sleep(1.5)
            assert exits == []
            time.sleep(1.0)  # no step, not paused: a hang
        assert exits == [ktb.distribute.WORKER_FAILURE_EXIT_CODE]
        assert "no training progress" in capsys.readouterr().err
    finally:
        server.close()


def test_watchdog_names_a_peer_that_died_during_paused_work(capsys):
    server, config = _cluster_with_listening_peer()
    dog, exits = _watchdog(0.3, config)
    with dog:
        with dog.paused():
            time.sleep(0.5)
            assert exits == []
            server.close()  # the peer's process is gone
            deadline = time.monotonic() + 5
            while not exits and time.monotonic() < deadline:
                time.sleep(0.1)
    assert exits == [ktb.distribute.WORKER_FAILURE_EXIT_CODE]
    peer = config["cluster"]["worker"][1]
    assert f"No answer from worker:1 ({peer})" in capsys.readouterr().err


def test_cluster_failure_details_keep_the_lines_naming_the_task():
    message = (
        "Collective ops is aborted by: The following tasks are unhealthy "
        "(stopped sending heartbeats):\n/job:worker/replica:0/task:1\n"
        "The error could be from a previous operation. Restart your program "
        "to reset.\nAdditional GRPC error information:\n"
        "\t [[{{node CollectiveReduceV2}}]] [Op:__inference_step_42]"
    )
    details = failure_details(RuntimeError(message))
    assert "stopped sending heartbeats" in details
    assert "/job:worker/replica:0/task:1" in details
    assert details.endswith("[Op:__inference_step_42]")


def test_watchdog_finds_a_dead_peer_long_before_the_timeout(capsys):
    server, config = _cluster_with_listening_peer()
    server.close()  # a step now blocks on a peer whose process is gone
    dog, exits = _watchdog(60, config)
    started = time.monotonic()
    with dog:
        while not exits and time.monotonic() - started < 5:
            time.sleep(0.1)
    assert exits == [ktb.distribute.WORKER_FAILURE_EXIT_CODE]
    assert "a peer stopped answering" in capsys.readouterr().err


def test_slow_epoch_end_work_is_not_a_hang(monkeypatch):
    # The multi-worker watchdog, in one process: on_epoch_end (BLEU on the
    # chief) takes 2.5x the step timeout, and training still ends normally.
    exits = []

    class RecordingWatchdog(StepWatchdog):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs, exit_function=exits.append)

    monkeypatch.setattr(custom_training_loop, "StepWatchdog", RecordingWatchdog)
    monkeypatch.setattr(custom_training_loop, "is_multi_worker", lambda s: True)
    strategy = ktb.distribute.get_strategy("one_device")
    with strategy.scope():
        model = toy_tasks.make_model("dense")
        optimizer = toy_tasks.make_optimizer("dense")
    loop = ktb.distribute.CustomTrainingLoop(
        model,
        optimizer,
        toy_tasks.make_loss("dense"),
        strategy=strategy,
        step_timeout_seconds=4.0,
    )
    dataset = toy_tasks.make_dataset("dense", 8, num_examples=16)
    loop.fit(dataset, epochs=1, verbose=0)  # traced before the clock matters
    slow = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: time.sleep(10))
    history = loop.fit(dataset, epochs=2, verbose=0, callbacks=[slow])
    assert history.epoch == [0, 1]
    assert exits == []
