"""Label-smoothed cross-entropy over token logits that ignores padding."""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class LabelSmoothedCrossEntropy(keras.losses.Loss):
    """Cross-entropy against label-smoothed targets, averaged over real tokens.

    Vaswani et al. (2017, §5.4) train with label smoothing `epsilon = 0.1`:
    the target distribution puts `1 - epsilon` on the true token and spreads
    `epsilon` uniformly over the vocabulary. This "hurts perplexity, as the
    model learns to be more unsure, but improves accuracy and BLEU". Positions
    whose label is `pad_token_id` get zero weight and the default reduction
    divides by the number of real tokens, so the loss does not depend on how
    much padding a batch carries.

    Args:
        label_smoothing: float in [0, 1). The smoothing `epsilon`. Defaults to
            `0.1`.
        pad_token_id: int or `None`. Label id ignored by the loss. Defaults to
            `0`.
        from_logits: bool. Whether `y_pred` holds logits (otherwise
            probabilities). Defaults to `True`.
        reduction: Keras loss reduction. Defaults to
            `"mean_with_sample_weight"`: the sum over real tokens divided by
            their (weighted) number. Under a `tf.distribute` strategy that
            number is counted over the global batch, so a mirrored step equals
            one device even when replicas hold different numbers of tokens.
        name: str. Defaults to `"label_smoothed_cross_entropy"`.
        dtype: dtype of the loss computation. Defaults to float32.

    A label id outside [0, vocabulary size), other than `pad_token_id`
    (which may lie outside it, as -100 does), is an error (on TensorFlow;
    not checked under XLA). The class is registered as
    `"keras_transformer_bit>LabelSmoothedCrossEntropy"`: a saved model that
    uses it reloads once `keras_transformer_bit` is imported.

    Call arguments:
        y_true: int `(batch, length)` target ids (floats are cast to int).
        y_pred: `(batch, length, vocabulary_size)` logits.
        sample_weight: optional `(batch,)` or `(batch, length)` weights (or
            `(batch, length, 1)`); another shape is a `ValueError`.

    Example:
    >>> loss = keras_transformer_bit.recipes.LabelSmoothedCrossEntropy()
    >>> y_true = np.array([[5, 6, 0]])
    >>> y_pred = np.zeros((1, 3, 10), "float32")
    >>> round(float(loss(y_true, y_pred)), 4)  # log(10), padding ignored
    2.3026
    """

    def __init__(
        self,
        label_smoothing=0.1,
        pad_token_id=0,
        from_logits=True,
        reduction="mean_with_sample_weight",
        name="label_smoothed_cross_entropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not isinstance(label_smoothing, (int, float)) or not (
            0 <= label_smoothing < 1
        ):
            raise ValueError(
                "label_smoothing must be a float in [0, 1). "
                f"Received: label_smoothing={label_smoothing}"
            )
        if pad_token_id is not None:
            if isinstance(pad_token_id, bool) or not isinstance(
                pad_token_id, (int, np.integer)
            ):
                raise ValueError(
                    "pad_token_id must be an int (a label id) or None. "
                    f"Received: pad_token_id={pad_token_id!r}"
                )
            pad_token_id = int(pad_token_id)
        self.label_smoothing = label_smoothing
        self.pad_token_id = pad_token_id
        self.from_logits = from_logits

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_true = self._checked_ids(ops.convert_to_tensor(y_true), y_pred)
        if sample_weight is not None:
            sample_weight = self._per_token(sample_weight, y_true)
        if self.pad_token_id is not None:
            weight = ops.cast(ops.not_equal(y_true, self.pad_token_id), self.dtype)
            if sample_weight is not None:
                weight = weight * sample_weight
            sample_weight = weight
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            return self._mean_over_global_batch(y_true, y_pred, sample_weight)
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

    def _checked_ids(self, y_true, y_pred):
        """`y_true`, checked to hold ids of the logits' vocabulary.

        A one-hot target of an id outside [0, vocabulary size) is all zeros:
        the loss would come out finite and wrong. TensorFlow checks inside a
        compiled step too (imported on use: other backends lack it).
        """
        if keras.config.backend() != "tensorflow":
            return y_true
        import tensorflow as tf

        ids = tf.cast(y_true, tf.int64)
        if self.pad_token_id is not None:  # -100, say: ignored, not an id
            ids = tf.where(tf.equal(ids, self.pad_token_id), tf.zeros_like(ids), ids)
        size = tf.cast(tf.shape(y_pred)[-1], tf.int64)
        message = (
            f"{type(self).__name__}: every label id must be in [0, vocabulary "
            "size), the size being the last dimension of y_pred (the logits). "
            "Targets made with another vocabulary than the model's?"
        )
        checks = [
            tf.debugging.assert_non_negative(ids, message=message),
            tf.debugging.assert_less(ids, size, message=message),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(y_true)

    def _per_token(self, sample_weight, y_true):
        """`sample_weight` shaped like `y_true`: a weight per sequence is
        spread over its tokens; a trailing axis of 1 is dropped."""
        sample_weight = ops.convert_to_tensor(sample_weight, self.dtype)
        received = tuple(sample_weight.shape)
        ids = tuple(y_true.shape)
        if len(received) == len(ids) + 1 and received[-1] == 1:
            sample_weight = sample_weight[..., 0]
        while len(sample_weight.shape) < len(ids):
            sample_weight = sample_weight[..., None]
        shape = tuple(sample_weight.shape)

        def agree(weight, label, broadcasts=False):
            return (
                weight is None
                or label is None
                or weight == label
                or (broadcasts and weight == 1)
            )

        fits = (
            len(shape) == len(ids)
            and len(ids) > 0
            and agree(shape[0], ids[0])
            and all(agree(w, n, True) for w, n in zip(shape[1:], ids[1:]))
        )
        if not fits:
            raise ValueError(
                "sample_weight must hold one weight per sequence, shape "
                f"(batch,), or one per label, the shape of y_true {ids}. "
                f"Received: sample_weight of shape {received}"
            )
        return sample_weight

    def _mean_over_global_batch(self, y_true, y_pred, sample_weight):
        # Under tf.distribute each replica holds a slice of the global batch,
        # with its own number of real tokens. Keras would divide each replica's
        # sum by its own count (and by the number of replicas), so a replica
        # with 6 tokens would weigh as much as one with 32. Dividing every
        # replica's sum by the token count of the whole global batch makes the
        # summed gradients those of one device on that batch; with one replica
        # it is the same sum over the same count. Other backends have no
        # tf.distribute replicas: the count is the batch's own.
        with keras.name_scope(self.name):
            y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
            y_true = ops.convert_to_tensor(y_true, dtype=self.dtype)
            values = self.call(y_true, y_pred)
            sample_weight = ops.cast(sample_weight, values.dtype)
            total = ops.sum(values * sample_weight)
            count = ops.sum(sample_weight)
            if keras.config.backend() == "tensorflow":
                # TensorFlow only (tf.distribute), so imported on use.
                from keras_transformer_bit.distribute.sum_over_replicas import (
                    sum_over_replicas,
                )

                count = sum_over_replicas(count)
            return ops.divide_no_nan(total, count)

    def call(self, y_true, y_pred):
        vocabulary_size = ops.shape(y_pred)[-1]
        labels = ops.one_hot(ops.cast(y_true, "int32"), vocabulary_size)
        labels = ops.cast(labels, y_pred.dtype)
        if self.label_smoothing:
            labels = labels * (1.0 - self.label_smoothing) + (
                self.label_smoothing / ops.cast(vocabulary_size, y_pred.dtype)
            )
        return keras.losses.categorical_crossentropy(
            labels, y_pred, from_logits=self.from_logits
        )

    def get_config(self):
        return {
            **super().get_config(),
            "label_smoothing": self.label_smoothing,
            "pad_token_id": self.pad_token_id,
            "from_logits": self.from_logits,
        }
