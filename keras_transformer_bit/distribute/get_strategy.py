"""Picks a `tf.distribute` strategy by name: one device, mirrored or multi-worker."""

import itertools
import warnings

import tensorflow as tf
from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
from tensorflow.python.distribute import multi_worker_util
from tensorflow.python.eager import context

from keras_transformer_bit.distribute.cluster_error import ClusterError
from keras_transformer_bit.distribute.tf_config import (
    TRAINING_JOBS,
    is_chief,
    num_training_tasks,
    peer_addresses,
    read_tf_config,
    unreachable_addresses,
    wait_for_addresses,
)

STRATEGY_NAMES = ("auto", "one_device", "mirrored", "multi_worker")

# A process can join one cluster only: TensorFlow starts its gRPC server once,
# so repeated requests for the multi-worker strategy return the first one.
_multi_worker_strategy = None

# Group-key offsets for successive MirroredStrategy objects (see below); a
# strategy uses a handful of group keys, so ranges of 1000 never overlap.
_COLLECTIVE_KEY_BASES = itertools.count(1000, 1000)


def _training_devices():
    """GPUs when there are any, else the (logical) CPUs, as device names."""
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return [device.name for device in gpus]
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def _configure_coordination(config, register_timeout_seconds, heartbeat_seconds):
    """Bounds how long the cluster may take to form and to notice a dead task.

    Without this TensorFlow waits for missing workers indefinitely when the
    cluster forms. MultiWorkerMirroredStrategy leaves an existing coordination
    configuration alone, so setting it first is enough.
    """
    if context.context().coordination_service is not None:
        return
    cluster_spec = tf.train.ClusterSpec(config["cluster"])
    jobs = [
        coordination_config_pb2.CoordinatedJob(
            name=job, num_tasks=cluster_spec.num_tasks(job)
        )
        for job in TRAINING_JOBS
        if job in cluster_spec.jobs
    ]
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(cluster_spec),
        cluster_register_timeout_in_ms=int(register_timeout_seconds * 1000),
        heartbeat_timeout_in_ms=int((heartbeat_seconds or 0) * 1000),
        coordinated_jobs=jobs,
    )


def _cluster_error(config, timeout_seconds, cause):
    peers = peer_addresses(config)
    missing = unreachable_addresses(peers) or peers
    task = config["task"]
    return ClusterError(
        f"The cluster did not form within {timeout_seconds} s: task "
        f"{task['type']}:{task['index']} could not reach {missing}. Start every "
        "task listed in TF_CONFIG (each with its own task index), and check the "
        f"addresses and firewalls. TF_CONFIG cluster: {config['cluster']}. "
        f"Cause: {cause}"
    )


def _build_checked(build, config, timeout_seconds):
    """Builds the strategy with a bounded wait for the other tasks.

    A worker that cannot reach the coordination leader fails with
    DeadlineExceeded after `timeout_seconds`; the leader, however, would wait
    for missing workers inside TensorFlow without a limit (holding the GIL, so
    no Python timer can intervene). The leader therefore first waits, bounded,
    for every peer's port: the other workers open theirs as soon as they start
    looking for the leader.
    """
    if is_chief(config):
        missing = wait_for_addresses(peer_addresses(config), timeout_seconds)
        if missing:
            raise _cluster_error(
                config, timeout_seconds, f"no server listening on {missing}"
            )
    try:
        return build()
    except tf.errors.OpError as error:
        cause = f"TensorFlow: {str(error).strip().splitlines()[0]}"
        raise _cluster_error(config, timeout_seconds, cause) from error


def _multi_worker(
    communication_timeout_seconds,
    cluster_register_timeout_seconds,
    heartbeat_timeout_seconds,
):
    global _multi_worker_strategy
    if _multi_worker_strategy is not None:
        return _multi_worker_strategy
    config = read_tf_config()
    options = tf.distribute.experimental.CommunicationOptions(
        timeout_seconds=communication_timeout_seconds
    )
    if config is None or num_training_tasks(config) == 1:
        # One process: the strategy runs without a server (useful for testing
        # the multi-worker code path on a laptop).
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options
        )
    else:
        _configure_coordination(
            config, cluster_register_timeout_seconds, heartbeat_timeout_seconds
        )
        strategy = _build_checked(
            lambda: tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=options
            ),
            config,
            cluster_register_timeout_seconds,
        )
    _multi_worker_strategy = strategy
    return strategy


def get_strategy(
    name="auto",
    devices=None,
    communication_timeout_seconds=None,
    cluster_register_timeout_seconds=120,
    heartbeat_timeout_seconds=None,
):
    """Returns a `tf.distribute.Strategy` for training on this machine or cluster.

    - `"one_device"`: `OneDeviceStrategy` on the first GPU, else the CPU.
    - `"mirrored"`: `MirroredStrategy` over all GPUs, or all logical CPUs when
      there is no GPU (synchronous data parallelism inside one process). With
      a single device it warns that it has 1 replica.
    - `"multi_worker"`: `MultiWorkerMirroredStrategy` driven by the `TF_CONFIG`
      environment variable (validated first). Train with
      `keras_transformer_bit.distribute.CustomTrainingLoop`: Keras 3
      `model.fit` does not work with this strategy (keras-team/keras#20585).
    - `"auto"`: `"multi_worker"` when `TF_CONFIG` lists more than one training
      task, `"mirrored"` when this process sees more than one device, else
      TensorFlow's default strategy (one device, no overhead).

    A `tf.distribute.Strategy` passed as `name` is returned unchanged, so entry
    points can accept either.

    Args:
        name: str or `tf.distribute.Strategy`. Defaults to `"auto"`.
        devices: list of device names for `"mirrored"`/`"one_device"`. Defaults
            to all GPUs, else all logical CPUs.
        communication_timeout_seconds: float or None. Time limit of each
            collective of the multi-worker strategy. Defaults to None (none).
        cluster_register_timeout_seconds: float. How long a worker waits for the
            other tasks of `TF_CONFIG` before failing with a `ClusterError`.
            Defaults to `120`.
        heartbeat_timeout_seconds: float or None. After how long without a
            heartbeat a task counts as dead (the survivors then fail instead of
            waiting). Defaults to TensorFlow's default (10 s).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: for an unknown name or a malformed `TF_CONFIG`.
        ClusterError: when the tasks of `TF_CONFIG` cannot be reached in time.

    Example:
    >>> strategy = keras_transformer_bit.distribute.get_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.layers.Dense(1)])
    """
    if isinstance(name, tf.distribute.Strategy):
        return name
    if name not in STRATEGY_NAMES:
        raise ValueError(
            f"Unknown strategy name. Expected one of {', '.join(STRATEGY_NAMES)}. "
            f"Received: name={name!r}"
        )
    if name == "auto":
        config = read_tf_config()
        if num_training_tasks(config) > 1:
            name = "multi_worker"
        elif len(devices or _training_devices()) > 1:
            name = "mirrored"
        else:
            return tf.distribute.get_strategy()
    if name == "multi_worker":
        return _multi_worker(
            communication_timeout_seconds,
            cluster_register_timeout_seconds,
            heartbeat_timeout_seconds,
        )
    devices = list(devices or _training_devices())
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy(devices[0])
    if len(devices) == 1:
        warnings.warn(
            f"The mirrored strategy has 1 replica: this process sees one device "
            f"({devices[0]}), so training runs as on one device. Mirrored "
            "training needs several GPUs; to test it on a CPU, split the CPU "
            "into logical devices before TensorFlow starts, with "
            "tf.config.set_logical_device_configuration (docs/scaling.md, "
            "section 2).",
            UserWarning,
            stacklevel=2,
        )
    cross_device_ops = None
    if not any("GPU" in device.upper() for device in devices):
        # On CPUs TF has no NCCL; one reducing device is its fastest choice.
        cross_device_ops = tf.distribute.ReductionToOneDevice()
    return _new_mirrored_strategy(devices, cross_device_ops)


def _new_mirrored_strategy(devices, cross_device_ops):
    """A `MirroredStrategy` whose collective keys no earlier one has used.

    Every `tf.distribute.MirroredStrategy` starts its collective group keys at
    the same number, and TF caches each (group, instance) pair's shapes for the
    life of the process: a second strategy in one process (a notebook rerun, a
    tuner trial, a test suite) then fails with "Shape mismatch in the
    collective instance". Each strategy made here gets its own key range.
    """
    strategy = tf.distribute.MirroredStrategy.__new__(tf.distribute.MirroredStrategy)
    # TF reads this attribute while constructing; it offsets the group keys.
    strategy._collective_key_base = next(_COLLECTIVE_KEY_BASES)
    strategy.__init__(devices, cross_device_ops=cross_device_ops)
    return strategy


def is_multi_worker(strategy):
    """Whether `strategy` spans more than one process."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._num_workers > 1
    )


def is_chief_task(strategy):
    """Whether this process writes the shared files of a training run.

    True outside multi-worker training; with several workers, for the task of
    type "chief", or for worker 0 when the cluster has no "chief" job (the
    convention of `TF_CONFIG`).

    Example:
    >>> is_chief_task(tf.distribute.get_strategy())
    True
    """
    if not is_multi_worker(strategy):
        return True
    extended = strategy.extended
    task_type, task_id = extended._task_type, extended._task_id
    if task_type == "chief":
        return True
    return (
        task_type == "worker"
        and task_id == 0
        and "chief" not in extended._cluster_spec.jobs
    )


def is_distributed(strategy):
    """Whether `strategy` is a real `tf.distribute` strategy, not TF's default."""
    # The default strategy's class is private; its name is the stable handle.
    return type(strategy).__name__ != "_DefaultDistributionStrategy"


def describe_strategy(strategy):
    """A one-line summary, e.g. `"MirroredStrategy, 2 replicas"`."""
    kind = type(strategy).__name__
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        kind = "MultiWorkerMirroredStrategy"  # not its internal class name
    text = f"{kind}, {strategy.num_replicas_in_sync} replica(s)"
    if is_multi_worker(strategy):
        text += f" over {strategy.extended._num_workers} workers"
    return text


def needs_custom_training_loop(strategy):
    """Whether Keras `model.fit` cannot train under `strategy`.

    True for `MultiWorkerMirroredStrategy` (keras-team/keras#20585), with one
    worker or many: train with `CustomTrainingLoop` there, as `ktb bit train`,
    `ktb translate train` and `ktb.recipes.bit_fine_tune` do.

    Example:
    >>> needs_custom_training_loop(tf.distribute.get_strategy())
    False
    """
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def check_strategy_supports_fit(strategy, entry_point):
    """Refuses MultiWorkerMirroredStrategy for entry points that train with `fit`.

    Keras 3 `model.fit` does not run under MultiWorkerMirroredStrategy
    (keras-team/keras#20585); multi-worker training goes through
    `CustomTrainingLoop` instead, as `ktb bit train`, `ktb translate train` and
    `tutorials/multi_worker.py` do.

    Args:
        strategy: the strategy an entry point is about to train under.
        entry_point: str. The command named in the error, e.g. `"ktb tune"`.

    Raises:
        ValueError: for a MultiWorkerMirroredStrategy.
    """
    if needs_custom_training_loop(strategy):
        raise ValueError(
            f"{entry_point} trains with Keras `model.fit`, which does not run under "
            "MultiWorkerMirroredStrategy (keras-team/keras#20585). Train on several "
            "workers with `ktb bit train` or `ktb translate train` "
            "(--strategy multi_worker), or with ktb.distribute.CustomTrainingLoop "
            "as tutorials/multi_worker.py does; or pick --strategy one_device or "
            f"mirrored. Received: strategy={type(strategy).__name__}"
        )
