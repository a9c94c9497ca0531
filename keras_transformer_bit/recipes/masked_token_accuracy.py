"""Token accuracy that ignores padding."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class MaskedTokenAccuracy(keras.metrics.Metric):
    """Fraction of real (non-padding) target tokens whose argmax is correct.

    Args:
        pad_token_id: int or `None`. Label id that is not counted. Defaults to
            `0`.
        name: str. Defaults to `"masked_token_accuracy"`.
        dtype: dtype of the metric variables.

    Example:
    >>> metric = keras_transformer_bit.recipes.MaskedTokenAccuracy()
    >>> y_true = np.array([[1, 2, 0]])
    >>> y_pred = np.eye(3)[[[1, 0, 2]]]  # right, wrong, (padding)
    >>> metric.update_state(y_true, y_pred)
    >>> float(metric.result())
    0.5
    """

    def __init__(self, pad_token_id=0, name="masked_token_accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.pad_token_id = pad_token_id
        self.correct = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="correct"
        )
        self.count = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="count"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        predictions = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        weight = ops.ones_like(y_true, dtype=self.dtype)
        if self.pad_token_id is not None:
            weight = ops.cast(ops.not_equal(y_true, self.pad_token_id), self.dtype)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, self.dtype)
            if len(sample_weight.shape) == 1:
                sample_weight = sample_weight[:, None]
            weight = weight * sample_weight
        correct = ops.cast(ops.equal(y_true, predictions), self.dtype)
        self.correct.assign_add(ops.sum(correct * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return ops.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "pad_token_id": self.pad_token_id}
