"""MixUp (Zhang et al. 2018) with one mixing weight per batch, as BiT uses it."""

import tensorflow as tf


def sample_beta(alpha, seed):
    """One draw from Beta(alpha, alpha), stateless, as Ga / (Ga + Gb).

    Gamma draws are taken in float64: for small alpha (BiT uses 0.1) float32
    draws underflow to 0 often enough to make 0 / 0.
    """
    seed = tf.cast(seed, tf.int64)
    first = tf.random.stateless_gamma(
        [], seed=tf.stack([seed, 11]), alpha=alpha, dtype=tf.float64
    )
    second = tf.random.stateless_gamma(
        [], seed=tf.stack([seed, 12]), alpha=alpha, dtype=tf.float64
    )
    total = first + second
    weight = tf.where(total > 0, first / tf.maximum(total, 1e-300), 0.5)
    return tf.cast(weight, tf.float32)


def mixup(images, labels, alpha, seed):
    """Mixes a batch with a shuffled copy of itself.

    One `lam ~ Beta(alpha, alpha)` for the whole batch; every example becomes
    `lam * x_i + (1 - lam) * x_perm(i)` and so does its one-hot label.

    Args:
        images: float `(B, H, W, C)`.
        labels: float one-hot `(B, num_classes)`.
        alpha: float > 0.
        seed: int64 scalar tensor; every batch needs its own.

    Returns:
        `(mixed_images, mixed_labels)`.

    Example:
    >>> x, y = mixup(tf.zeros((4, 2, 2, 3)), tf.one_hot([0, 1, 2, 3], 4), 0.1, 7)
    >>> x.shape, y.shape
    (TensorShape([4, 2, 2, 3]), TensorShape([4, 4]))
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0. Received: alpha={alpha}")
    seed = tf.cast(seed, tf.int64)
    weight = sample_beta(alpha, seed)
    permutation = tf.random.experimental.stateless_shuffle(
        tf.range(tf.shape(images)[0]), seed=tf.stack([seed, 13])
    )
    images = weight * images + (1.0 - weight) * tf.gather(images, permutation)
    labels = weight * labels + (1.0 - weight) * tf.gather(labels, permutation)
    return images, labels
