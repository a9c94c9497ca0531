"""The sum of a per-replica value over every replica of a synchronous step."""

import tensorflow as tf


def sum_over_replicas(value):
    """Sums `value` over the replicas when called inside `strategy.run`.

    A loss that averages over a count that differs between replicas (the real
    tokens of a padded batch) needs the count of the whole global batch:
    `sum(replica losses) / sum over replicas(replica count)` summed over the
    replicas is the mean one device computes, while the mean of per-replica
    means weighs every replica alike. Outside a replica context (eager code,
    Keras building a model, the default strategy) and with one replica, the
    value comes back unchanged, so the same code serves one device.

    Args:
        value: a tensor, the same shape and dtype on every replica.

    Returns:
        The all-reduced sum inside a replica context with more than one
        replica; `value` otherwise.

    Example:
    >>> float(sum_over_replicas(tf.constant(3.0)))  # no strategy: unchanged
    3.0
    >>> strategy = keras_transformer_bit.distribute.get_strategy("mirrored")
    >>> strategy.run(lambda: sum_over_replicas(tf.constant(3.0)))  # doctest: +SKIP
    PerReplica:{0: 6.0, 1: 6.0}
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)
