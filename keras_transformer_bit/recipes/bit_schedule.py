"""The BiT fine-tuning learning-rate schedule (Kolesnikov et al. 2019, §3.3)."""

import keras
from keras import ops

from keras_transformer_bit.utils import check_positive_int


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class BiTSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up, then a step decay by 10 at every later support.

    With supports `[s0, s1, ..., sn]`, the learning rate rises linearly from 0
    at step 0 to `base_learning_rate` at step `s0`, and is divided by 10 once
    for every support among `s1, ..., sn` that the step has passed (strictly
    greater than it), as in the official release. Training is meant to stop
    at step `sn`; the schedule is still defined beyond it.

    Keras optimizers call the schedule with their internal step counter, which
    with `gradient_accumulation_steps=k` counts micro-batches, not updates. Pass
    the same `k` here so that the supports count optimizer updates.

    Batch size: the supports of `ktb.recipes.bit_hyperrule` are for batch 512.
    To train with batch `b` without accumulation, build this schedule from
    `rule.with_batch_size(b)`. By default that keeps the learning rate and the
    supports of batch 512, as the official code does (big_transfer's
    `bit_tf2/train.py` leaves its `schedule_length * 512 / batch` line
    commented out, and every trainer there uses `--base_lr` as given).
    `rule.with_batch_size(b, scaling="linear")` (or `scaled_to_batch_size(b)`)
    instead multiplies the learning rate by `b / 512` and the supports by
    `512 / b`: linear scaling, an option of ours, not the authors' default.

    Args:
        base_learning_rate: float. Peak learning rate. Defaults to `0.003`.
        supports: sequence of ints. Strictly increasing step counts; the first
            ends the warm-up, the last ends training. Defaults to the
            HyperRule schedule for small datasets, `(100, 200, 300, 400, 500)`.
        gradient_accumulation_steps: int. Micro-batches per optimizer update.
            Defaults to `1`.

    Example:
    >>> schedule = keras_transformer_bit.recipes.BiTSchedule(
    ...     0.003, supports=(100, 200, 300, 400, 500))
    >>> [round(float(schedule(step)), 6) for step in (50, 150, 250, 450)]
    [0.0015, 0.003, 0.0003, 3e-06]
    """

    def __init__(
        self,
        base_learning_rate=0.003,
        supports=(100, 200, 300, 400, 500),
        gradient_accumulation_steps=1,
    ):
        base_learning_rate = float(base_learning_rate)
        if not base_learning_rate > 0:
            raise ValueError(
                "base_learning_rate must be > 0. "
                f"Received: base_learning_rate={base_learning_rate}"
            )
        supports = tuple(int(s) for s in supports)
        if (
            len(supports) < 2
            or supports[0] < 1
            or any(b <= a for a, b in zip(supports, supports[1:]))
        ):
            raise ValueError(
                "supports must be at least two strictly increasing positive "
                f"step counts. Received: supports={supports}"
            )
        gradient_accumulation_steps = check_positive_int(
            "gradient_accumulation_steps", gradient_accumulation_steps
        )
        self.base_learning_rate = base_learning_rate
        self.supports = supports
        self.gradient_accumulation_steps = gradient_accumulation_steps

    def __call__(self, step):
        step = ops.floor_divide(
            ops.cast(step, "int64"), self.gradient_accumulation_steps
        )
        step = ops.cast(step, "float32")
        warmup = self.base_learning_rate * step / float(self.supports[0])
        num_decays = ops.zeros((), "float32")
        for support in self.supports[1:]:
            num_decays = num_decays + ops.cast(ops.greater(step, support), "float32")
        decayed = self.base_learning_rate * ops.power(0.1, num_decays)
        return ops.where(ops.less(step, float(self.supports[0])), warmup, decayed)

    @property
    def total_steps(self):
        """Optimizer updates in a full run (the last support)."""
        return self.supports[-1]

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "supports": list(self.supports),
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
