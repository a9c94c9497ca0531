"""The warm-up / inverse-square-root learning rate of Vaswani et al. (§5.3)."""

import keras
from keras import ops

from keras_transformer_bit.utils import check_positive_int


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class NoamSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`lr = scale * hidden_dim^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)`.

    The learning rate grows linearly for `warmup_steps` steps, peaks at
    `scale * (hidden_dim * warmup_steps)^-0.5` and then decays with the inverse
    square root of the step (Vaswani et al. 2017, §5.3; the paper uses
    `warmup_steps=4000`, `scale=1`). Steps count from 1: the optimizer's
    iteration 0 is step 1, so the first learning rate is not zero.

    Args:
        hidden_dim: int. Model width `d_model`.
        warmup_steps: int. Length of the linear warm-up. Defaults to `4000`.
        scale: float. Multiplies the whole schedule. Defaults to `1.0`.

    Example:
    >>> schedule = keras_transformer_bit.recipes.NoamSchedule(512)
    >>> round(float(schedule(3999)), 6)  # the peak, at step 4000
    0.000699
    """

    def __init__(self, hidden_dim, warmup_steps=4000, scale=1.0):
        super().__init__()
        hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        warmup_steps = check_positive_int("warmup_steps", warmup_steps)
        if not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f"scale must be a positive float. Received: scale={scale}")
        self.hidden_dim = hidden_dim
        self.warmup_steps = warmup_steps
        self.scale = scale

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        rate = ops.minimum(ops.rsqrt(step), step * float(self.warmup_steps) ** -1.5)
        return self.scale * self.hidden_dim**-0.5 * rate

    def get_config(self):
        return {
            "hidden_dim": self.hidden_dim,
            "warmup_steps": self.warmup_steps,
            "scale": self.scale,
        }
