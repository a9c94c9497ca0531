"""Averages the weights of the last epochs (Vaswani et al. 2017, §6.1)."""

import collections

import keras
import numpy as np

from keras_transformer_bit.utils import check_positive_int


class CheckpointAveraging(keras.callbacks.Callback):
    """Keeps the weights of the last `num_checkpoints` epochs; averages them.

    The paper's base models average the last 5 checkpoints (written every 10
    minutes) and its big models the last 20: an average of nearby points of
    the same run sits nearer the middle of the valley than any one of them,
    which usually scores better than the last weights at no training cost.
    Here a checkpoint is the weights at an epoch's end, kept in memory (as
    NumPy copies: `num_checkpoints` times the model's size).

    At the end of training the model gets the average of the kept weights
    (`apply_on_train_end=True`), or call `apply()` when you choose (for
    example, after comparing both on the validation split with
    `averaged_weights()`). Every weight is averaged, non-trainable ones too
    (for a Transformer there are none besides the seed state of dropout,
    which only matters for training).

    Args:
        num_checkpoints: int. Epochs to average. Defaults to `5`.
        apply_on_train_end: bool. Give the model the average when training
            ends. Defaults to `True`.

    Example:
    >>> averaging = CheckpointAveraging(num_checkpoints=5)
    >>> model.fit(data, epochs=20, callbacks=[averaging])  # doctest: +SKIP
    >>> averaging.num_kept  # doctest: +SKIP
    5
    """

    def __init__(self, num_checkpoints=5, apply_on_train_end=True):
        super().__init__()
        self.num_checkpoints = check_positive_int("num_checkpoints", num_checkpoints)
        self.apply_on_train_end = bool(apply_on_train_end)
        self._kept = collections.deque(maxlen=self.num_checkpoints)

    @property
    def num_kept(self):
        """How many epochs' weights are kept now."""
        return len(self._kept)

    def on_train_begin(self, logs=None):
        self._kept.clear()

    def on_epoch_end(self, epoch, logs=None):
        self._kept.append([np.array(w, copy=True) for w in self.model.get_weights()])

    def averaged_weights(self, last=None):
        """The elementwise mean of the kept weights (float weights only; the
        others, such as integer seed states, are the last epoch's).

        Args:
            last: int or `None`. Average only the last `last` kept epochs;
                a `last` above `num_kept` averages all kept epochs. Defaults
                to `None`: all kept epochs.
        """
        if not self._kept:
            raise ValueError(
                "CheckpointAveraging has no weights to average: no epoch has "
                "ended since training began."
            )
        kept = list(self._kept)
        if last is not None:
            last = check_positive_int("last", last)
            kept = kept[-last:]
        averaged = []
        for values in zip(*kept):
            last = values[-1]
            if np.issubdtype(last.dtype, np.floating):
                mean = np.mean(np.stack(values).astype("float64"), axis=0)
                averaged.append(mean.astype(last.dtype))
            else:
                averaged.append(last)
        return averaged

    def apply(self):
        """Gives the model the average of the kept weights."""
        averaged = self.averaged_weights()
        self.model.set_weights(averaged)

    def on_train_end(self, logs=None):
        if self.apply_on_train_end and self._kept:
            self.apply()
