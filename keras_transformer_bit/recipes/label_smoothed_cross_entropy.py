"""Label-smoothed cross-entropy over token logits that ignores padding."""

import keras
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

    Call arguments:
        y_true: int `(batch, length)` target ids.
        y_pred: `(batch, length, vocabulary_size)` logits.
        sample_weight: optional `(batch,)` or `(batch, length)` weights.

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
        self.label_smoothing = label_smoothing
        self.pad_token_id = pad_token_id
        self.from_logits = from_logits

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.pad_token_id is not None:
            weight = ops.cast(
                ops.not_equal(ops.convert_to_tensor(y_true), self.pad_token_id),
                self.dtype,
            )
            if sample_weight is not None:
                sample_weight = ops.convert_to_tensor(sample_weight, self.dtype)
                if len(sample_weight.shape) == 1:
                    sample_weight = sample_weight[:, None]
                weight = weight * sample_weight
            sample_weight = weight
        if self.reduction == "mean_with_sample_weight" and sample_weight is not None:
            return self._mean_over_global_batch(y_true, y_pred, sample_weight)
        return super().__call__(y_true, y_pred, sample_weight=sample_weight)

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
