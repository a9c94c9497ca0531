"""Global batch size, per-replica batch size and learning-rate scaling.

With synchronous data parallelism every step consumes one *global* batch split
evenly over `strategy.num_replicas_in_sync` replicas, each replica's loss is its
share of the global mean (`sum(per-example losses) / global batch size`) and the
gradients are summed across replicas. The step is then the same as one device
taking the whole global batch, so a recipe tuned for a global batch keeps
working as replicas are added, and a recipe tuned for a smaller batch needs its
learning rate scaled (Goyal et al. 2017, "linear scaling rule"; `"sqrt"` for
Adam-like optimizers, Krizhevsky 2014).
"""

import tensorflow as tf

from keras_transformer_bit.utils import check_positive_int

SCALING_RULES = ("linear", "sqrt", "none")


def global_batch_size(per_replica_batch_size, strategy):
    """The batch a step consumes across all replicas.

    Example:
    >>> global_batch_size(32, tf.distribute.get_strategy())
    32
    """
    per_replica_batch_size = check_positive_int(
        "per_replica_batch_size", per_replica_batch_size
    )
    return per_replica_batch_size * strategy.num_replicas_in_sync


def per_replica_batch_size(global_batch_size, strategy):
    """Splits a global batch evenly over the replicas of `strategy`.

    Raises:
        ValueError: when the global batch does not divide evenly.

    Example:
    >>> per_replica_batch_size(64, tf.distribute.get_strategy())
    64
    """
    global_batch_size = check_positive_int("global_batch_size", global_batch_size)
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise ValueError(
            f"global_batch_size must be divisible by the number of replicas "
            f"({replicas}). Received: global_batch_size={global_batch_size}"
        )
    return global_batch_size // replicas


def scale_learning_rate(
    learning_rate, global_batch_size, base_batch_size, rule="linear"
):
    """Scales a learning rate tuned at `base_batch_size` to `global_batch_size`.

    Args:
        learning_rate: float. The rate that worked at `base_batch_size`.
        global_batch_size: int. The new global batch.
        base_batch_size: int. The global batch the rate was tuned for.
        rule: str. `"linear"` (SGD, BiT), `"sqrt"` (Adam, Transformer) or
            `"none"`. Defaults to `"linear"`.

    Example:
    >>> scale_learning_rate(0.003, global_batch_size=1024, base_batch_size=512)
    0.006
    """
    if rule not in SCALING_RULES:
        raise ValueError(
            f"rule must be one of {SCALING_RULES}. Received: rule={rule!r}"
        )
    global_batch_size = check_positive_int("global_batch_size", global_batch_size)
    base_batch_size = check_positive_int("base_batch_size", base_batch_size)
    ratio = global_batch_size / base_batch_size
    if rule == "linear":
        return learning_rate * ratio
    if rule == "sqrt":
        return learning_rate * ratio**0.5
    return learning_rate


def average_loss(per_example_losses, global_batch_size):
    """A replica's share of the global mean loss: `sum(losses) / global_batch`.

    Summing these shares over the replicas gives the mean over the global batch,
    which is what makes gradients independent of the number of replicas.
    """
    return tf.nn.compute_average_loss(
        per_example_losses, global_batch_size=global_batch_size
    )
