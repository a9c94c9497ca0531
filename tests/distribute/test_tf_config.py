import json

import pytest

from keras_transformer_bit.distribute import tf_config

GOOD = {
    "cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]},
    "task": {"type": "worker", "index": 1},
}


def _with(**changes):
    config = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        config[key] = value
    return config


@pytest.mark.parametrize(
    "config, message",
    [
        ("{", "valid JSON"),
        ("[1, 2]", "JSON object"),
        (_with(cluster={}), "non-empty object"),
        (_with(cluster={"worker": "a:1"}), "non-empty list"),
        (_with(cluster={"worker": ["nohost"]}), "'host:port'"),
        (_with(cluster={"worker": ["h:99999"]}), "port in 1..65535"),
        (_with(cluster={"worker": ["h:1", "h:1"]}), "used by both"),
        (_with(cluster={"trainer": ["h:1"]}), "unknown job 'trainer'"),
        (_with(task={"type": "worker", "index": 2}), "int in \\[0, 2\\)"),
        (_with(task={"type": "chief", "index": 0}), "not a job of the cluster"),
        (_with(task="worker"), "must be an object"),
    ],
)
def test_malformed_tf_config_errors_name_the_problem(config, message):
    raw = config if isinstance(config, str) else json.dumps(config)
    with pytest.raises(ValueError, match=message) as info:
        tf_config.validate_tf_config(raw)
    assert "Received: TF_CONFIG=" in str(info.value)


def test_roles_and_round_trip():
    config = tf_config.validate_tf_config(json.dumps(GOOD))
    assert tf_config.num_training_tasks(config) == 2
    assert not tf_config.is_chief(config)
    assert tf_config.is_chief(_with(task={"type": "worker", "index": 0}))
    assert tf_config.is_chief(None)
    assert tf_config.peer_addresses(config) == ["127.0.0.1:2222"]
    text = tf_config.make_tf_config(GOOD["cluster"]["worker"], 1)
    assert json.loads(text) == GOOD
    assert tf_config.read_tf_config({"TF_CONFIG": text}) == GOOD
    assert tf_config.read_tf_config({}) is None


def test_free_ports_are_distinct_and_unreachable_when_closed():
    ports = tf_config.free_ports(3)
    assert len(set(ports)) == 3
    addresses = [f"127.0.0.1:{port}" for port in ports]
    assert tf_config.wait_for_addresses(addresses, timeout_seconds=0.2) == addresses
