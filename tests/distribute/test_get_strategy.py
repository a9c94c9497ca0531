import json

import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.distribute import get_strategy


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="auto, one_device, mirrored, multi_worker"):
        get_strategy("horovod")


def test_auto_picks_mirrored_over_the_two_logical_cpus(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = get_strategy("auto")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 2
    assert (
        ktb.distribute.describe_strategy(strategy) == "MirroredStrategy, 2 replica(s)"
    )


def test_auto_with_one_device_is_the_default_strategy(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = get_strategy("auto", devices=["/cpu:0"])
    assert not ktb.distribute.is_distributed(strategy)
    assert strategy.num_replicas_in_sync == 1


def test_one_device_and_passthrough():
    strategy = get_strategy("one_device")
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
    assert get_strategy(strategy) is strategy


def test_auto_reads_a_malformed_tf_config(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG must be valid JSON"):
        get_strategy("auto")


def test_auto_single_task_tf_config_is_not_multi_worker(monkeypatch):
    config = {
        "cluster": {"worker": ["localhost:1"]},
        "task": {"type": "worker", "index": 0},
    }
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert isinstance(get_strategy("auto"), tf.distribute.MirroredStrategy)


def test_fit_entry_points_refuse_multi_worker_strategy():
    from unittest import mock

    multi_worker = mock.create_autospec(
        tf.distribute.MultiWorkerMirroredStrategy, instance=True
    )
    assert ktb.distribute.needs_custom_training_loop(multi_worker)
    with pytest.raises(ValueError, match="ktb tune trains with Keras"):
        ktb.distribute.check_strategy_supports_fit(multi_worker, "ktb tune")
    # Strategies that `fit` supports pass.
    ktb.distribute.check_strategy_supports_fit(get_strategy("one_device"), "x")
    ktb.distribute.check_strategy_supports_fit(tf.distribute.get_strategy(), "x")


def _fit_with(strategy, units):
    import keras

    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(units), keras.layers.Dense(3)]
        )
        model.compile("sgd", "mse")
    x = np.ones((16, 5), "float32")
    history = model.fit(x, x[:, :3], batch_size=8, verbose=0)
    return history.history["loss"][0]


def test_successive_mirrored_strategies_in_one_process_do_not_collide():
    # Plain `tf.distribute.MirroredStrategy` objects all start their collective
    # keys at the same number, so the second one's all-reduce is matched with
    # the first one's cached shapes and fails ("Shape mismatch in the
    # collective instance"). Ours get distinct key ranges, collectives included.
    from keras_transformer_bit.distribute.get_strategy import _new_mirrored_strategy

    devices = ["/cpu:0", "/cpu:1"]
    for units in (64, 4, 7):
        collective = _new_mirrored_strategy(devices, cross_device_ops=None)
        assert isinstance(collective, tf.distribute.MirroredStrategy)
        assert np.isfinite(_fit_with(collective, units))
    for units in (9, 2):
        assert np.isfinite(_fit_with(get_strategy("mirrored"), units))


def test_mirrored_with_one_device_warns_how_to_get_several():
    with pytest.warns(UserWarning, match="1 replica") as record:
        strategy = get_strategy("mirrored", devices=["/cpu:0"])
    assert strategy.num_replicas_in_sync == 1
    message = str(record[0].message)
    assert "GPU" in message and "set_logical_device_configuration" in message
    assert "docs/scaling.md" in message


def test_mirrored_with_two_devices_does_not_warn(recwarn):
    assert get_strategy("mirrored").num_replicas_in_sync == 2
    assert not [w for w in recwarn if "replica" in str(w.message)]
