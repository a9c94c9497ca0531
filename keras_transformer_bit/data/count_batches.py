"""Gives a batched dataset the length Keras cannot infer from it."""

import tensorflow as tf


def count_batches(dataset):
    """The number of elements of one pass over `dataset` (read once).

    Length-bucketed translation batches have an unknown cardinality: Keras
    learns an epoch's length only when the data runs out, and warns ("Your
    input ran out of data") each time it does. Bucketing fills each bucket
    independently of the order, so one pass counts every shuffled epoch.
    A dataset that declares its length (`make_translation_dataset` without
    subword sampling) is not read.
    """
    declared = int(dataset.cardinality())
    if declared >= 0:
        return declared
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def with_cardinality(dataset, num_batches):
    """`dataset`, declaring `num_batches` elements a pass."""
    return dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
