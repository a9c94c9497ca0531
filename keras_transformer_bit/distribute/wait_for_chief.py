"""Every worker waits until the chief says the run is saved."""

import tensorflow as tf

from keras_transformer_bit.distribute.cluster_error import (
    CLUSTER_ERRORS,
    ClusterError,
    failure_details,
)
from keras_transformer_bit.distribute.get_strategy import (
    is_chief_task,
    is_multi_worker,
)
from keras_transformer_bit.distribute.step_watchdog import StepWatchdog
from keras_transformer_bit.distribute.tf_config import read_tf_config, unreachable_tasks


def wait_for_chief(strategy, saved, timeout_seconds=600, what="the run"):
    """Ends a multi-worker run only once the chief has saved it.

    Under `MultiWorkerMirroredStrategy` only the chief writes the model
    directory. A worker whose own training finished would otherwise exit 0
    even when the chief died while saving, although the run is not saved.
    Every worker calls this after the save: the chief passes `saved=True`
    once everything is written; the others pass anything. They all take
    part in one all-reduce, so each returns only after the chief got there.
    A chief that died (a peer that no longer answers), failed or did not
    arrive within `timeout_seconds` raises a `ClusterError` (or ends the
    process with status 75, as `CustomTrainingLoop`'s watchdog does): the
    `ktb` commands exit with 75, the status a scheduler restarts on, and the
    same command resumes from what the chief left. Without several workers
    this does nothing.

    Args:
        strategy: the `tf.distribute.Strategy` of the run.
        saved: bool. On the chief: whether the run is saved.
        timeout_seconds: float. How long to wait for the chief.
        what: str. What the chief saves, for the messages.

    Raises:
        ClusterError: the chief did not save, or the cluster broke.

    Example:
    >>> wait_for_chief(tf.distribute.get_strategy(), saved=True)
    """
    if not is_multi_worker(strategy):
        return
    tf_config = read_tf_config()
    flag = 1.0 if saved and is_chief_task(strategy) else 0.0

    @tf.function
    def all_reduced_sum(value):
        per_replica = strategy.run(tf.identity, args=(value,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, None)

    describe = f"waiting for the chief to save {what}"
    try:
        with StepWatchdog(timeout_seconds, lambda: describe, tf_config=tf_config):
            total = float(all_reduced_sum(tf.constant(flag)))
    except CLUSTER_ERRORS as error:
        dead = unreachable_tasks(tf_config)
        named = f" No answer from {', '.join(dead)}." if dead else ""
        raise ClusterError(
            f"Lost contact with the cluster while {describe}: "
            f"{failure_details(error)}.{named} The chief probably died before "
            f"{what} was saved. Restart every worker with the same command to "
            "resume from the last checkpoint."
        ) from error
    if total < 0.5:
        raise ClusterError(
            f"The chief did not save {what}. Restart every worker with the same "
            "command to resume from the last checkpoint."
        )
