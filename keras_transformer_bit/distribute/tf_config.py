"""Reading, checking and writing `TF_CONFIG`, the cluster description of TF.

Every process of a multi-worker job reads the same `cluster` (job name -> list of
`host:port`) and its own `task` (`{"type": "worker", "index": i}`) from the
`TF_CONFIG` environment variable. Mistakes there (bad JSON, a task index past
the end of its job, a port that is not a number) otherwise surface as opaque
gRPC errors minutes later, so they are checked here first.
"""

import json
import os
import socket
import time

# Jobs that take part in synchronous (all-reduce) training. "evaluator" runs
# beside the cluster; "ps" belongs to ParameterServerStrategy, which we do not use.
TRAINING_JOBS = ("chief", "worker")
KNOWN_JOBS = ("chief", "worker", "evaluator", "ps")


def _fail(message, raw):
    raise ValueError(f"{message}. Received: TF_CONFIG={raw}")


def _check_address(job, index, address, raw):
    if not isinstance(address, str) or address.count(":") < 1:
        _fail(
            f"cluster['{job}'][{index}] must be a 'host:port' string, got {address!r}",
            raw,
        )
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        _fail(
            f"cluster['{job}'][{index}] must be 'host:port' with a port in "
            f"1..65535, got {address!r}",
            raw,
        )


def _check_cluster(cluster, raw):
    """Refuses a cluster spec that is not job -> distinct `host:port` lists."""
    if not isinstance(cluster, dict) or not cluster:
        _fail("TF_CONFIG['cluster'] must be a non-empty object job -> addresses", raw)
    seen = {}
    for job, addresses in cluster.items():
        if job not in KNOWN_JOBS:
            _fail(
                f"unknown job {job!r} in the cluster; expected one of {KNOWN_JOBS}", raw
            )
        if not isinstance(addresses, list) or not addresses:
            _fail(f"cluster['{job}'] must be a non-empty list of 'host:port'", raw)
        for index, address in enumerate(addresses):
            _check_address(job, index, address, raw)
            if address in seen:
                _fail(
                    f"address {address!r} is used by both {seen[address]} and "
                    f"{job}:{index}",
                    raw,
                )
            seen[address] = f"{job}:{index}"
    if len(cluster.get("chief", [])) > 1:
        _fail("a cluster has at most one chief", raw)
    if not any(job in cluster for job in TRAINING_JOBS):
        _fail("the cluster needs a 'worker' (or 'chief') job", raw)


def validate_tf_config(config):
    """Checks a `TF_CONFIG` dict (or JSON string) and returns it as a dict.

    Args:
        config: dict or str. The parsed or raw `TF_CONFIG`.

    Returns:
        The config as a dict.

    Raises:
        ValueError: naming what is wrong, with the config that was received.

    Example:
    >>> validate_tf_config({"cluster": {"worker": ["localhost:1234"]},
    ...                     "task": {"type": "worker", "index": 0}})["task"]
    {'type': 'worker', 'index': 0}
    """
    raw = config if isinstance(config, str) else json.dumps(config)
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except json.JSONDecodeError as error:
            _fail(f"TF_CONFIG must be valid JSON ({error})", raw)
    if not isinstance(config, dict):
        _fail("TF_CONFIG must be a JSON object with 'cluster' and 'task'", raw)
    cluster = config.get("cluster")
    _check_cluster(cluster, raw)
    task = config.get("task")
    if not isinstance(task, dict):
        _fail("TF_CONFIG['task'] must be an object {'type': ..., 'index': ...}", raw)
    task_type, task_index = task.get("type"), task.get("index")
    if task_type not in cluster:
        _fail(
            f"task type {task_type!r} is not a job of the cluster ({sorted(cluster)})",
            raw,
        )
    if (
        not isinstance(task_index, int)
        or isinstance(task_index, bool)
        or not 0 <= task_index < len(cluster[task_type])
    ):
        _fail(
            f"task index must be an int in [0, {len(cluster[task_type])}) for "
            f"job {task_type!r}, got {task_index!r}",
            raw,
        )
    return config


def read_tf_config(environ=None):
    """Returns the validated `TF_CONFIG` of this process, or None when unset.

    Args:
        environ: mapping. Defaults to `os.environ`.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("TF_CONFIG", "").strip()
    if not raw:
        return None
    return validate_tf_config(raw)


def num_training_tasks(config):
    """Number of processes that train (chief + workers) in a `TF_CONFIG`."""
    if config is None:
        return 1
    return sum(len(config["cluster"].get(job, [])) for job in TRAINING_JOBS)


def is_chief(config):
    """Whether this task writes checkpoints and exports.

    The chief is the "chief" task when the cluster has one, else worker 0
    (TensorFlow's convention). Without a `TF_CONFIG` the process is the chief.
    """
    if config is None:
        return True
    task_type, task_index = config["task"]["type"], config["task"]["index"]
    if "chief" in config["cluster"]:
        return task_type == "chief"
    return task_type == "worker" and task_index == 0


def make_tf_config(worker_addresses, task_index, task_type="worker"):
    """Builds a `TF_CONFIG` JSON string for a cluster of workers.

    Args:
        worker_addresses: list of "host:port" strings, one per worker.
        task_index: int. This process' index in the job.
        task_type: str. Defaults to `"worker"`.

    Example:
    >>> make_tf_config(["10.0.0.1:2222", "10.0.0.2:2222"], task_index=1)
    '{"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]}, "task": {"type": "worker", "index": 1}}'
    """  # noqa: E501
    config = {
        "cluster": {"worker": list(worker_addresses)},
        "task": {"type": task_type, "index": task_index},
    }
    return json.dumps(validate_tf_config(config))


def peer_addresses(config):
    """The `host:port` of every training task except this one."""
    task = f"{config['task']['type']}:{config['task']['index']}"
    peers = []
    for job in TRAINING_JOBS:
        for index, address in enumerate(config["cluster"].get(job, [])):
            if f"{job}:{index}" != task:
                peers.append(address)
    return peers


def peer_tasks(config):
    """`{"worker:1": "host:port", ...}`: every training task except this one.

    Example:
    >>> peer_tasks({"cluster": {"worker": ["a:1", "b:2"]},
    ...             "task": {"type": "worker", "index": 0}})
    {'worker:1': 'b:2'}
    """
    task = f"{config['task']['type']}:{config['task']['index']}"
    return {
        f"{job}:{index}": address
        for job in TRAINING_JOBS
        for index, address in enumerate(config["cluster"].get(job, []))
        if f"{job}:{index}" != task
    }


def unreachable_tasks(config, timeout_seconds=1.0):
    """The peers of this task that accept no TCP connection, e.g. a dead one.

    Returns:
        A list like `["worker:1 (10.0.0.2:2222)"]`; empty without a cluster or
        when every peer answered.
    """
    if config is None:
        return []
    tasks = peer_tasks(config)
    missing = set(unreachable_addresses(tasks.values(), timeout_seconds))
    return [
        f"{task} ({address})" for task, address in tasks.items() if address in missing
    ]


def unreachable_addresses(addresses, timeout_seconds=1.0):
    """The addresses nothing accepts a TCP connection on (one try each)."""
    unreachable = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_seconds):
                pass
        except OSError:
            unreachable.append(address)
    return unreachable


def wait_for_addresses(addresses, timeout_seconds, poll_seconds=0.5):
    """Waits until every address accepts TCP connections.

    Returns:
        The list of addresses still unreachable at the deadline (empty when all
        answered).
    """
    deadline = time.monotonic() + timeout_seconds
    pending = list(addresses)
    while pending:
        pending = unreachable_addresses(pending, timeout_seconds=poll_seconds)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(poll_seconds)
    return pending


def free_ports(count, host="127.0.0.1"):
    """Picks `count` distinct free TCP ports on `host`.

    The sockets are bound at the same time (so the ports differ) and closed
    before returning; the caller should start its servers promptly.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
