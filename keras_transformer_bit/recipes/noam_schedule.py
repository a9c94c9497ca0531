"""The warm-up / inverse-square-root learning rate of Vaswani et al. (§5.3)."""

import keras
from keras import ops

from keras_transformer_bit.utils import (
    SettingError,
    check_fraction,
    check_positive_int,
    is_finite_number,
)


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class NoamSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`lr = scale * hidden_dim^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)`.

    The learning rate grows linearly for `warmup_steps` steps, peaks at
    `scale * (hidden_dim * warmup_steps)^-0.5` and then decays with the inverse
    square root of the step (Vaswani et al. 2017, §5.3; the paper uses
    `warmup_steps=4000`, `scale=1`). Steps count from 1: the optimizer's
    iteration 0 is step 1, so the first learning rate is not zero.

    With `cooldown`, the rate also falls linearly to zero over the last
    `cooldown` fraction of training (a budget-aware decay: Li et al. 2020,
    "Budgeted Training"), so that training ends on weights the optimizer has
    settled, not on a noisy last step. How far training is, the `progress`,
    comes from one of two places:
    - `total_steps`: the step count of the whole training, when it is known;
    - otherwise `set_progress(fraction)`, which `TrainingBudget` calls before
      every step of `fit` with the fraction of its wall-clock budget spent.
      Without a driver the progress stays 0 and the rate is the plain one.
      The progress is a variable that the compiled train step reads, so this
      needs a backend whose compiled steps read variables (TensorFlow, the
      package's training backend, or torch): under JAX `set_progress` raises
      and `TrainingBudget` leaves the schedule plain, with a warning; give
      `total_steps` there.

    Args:
        hidden_dim: int. Model width `d_model`.
        warmup_steps: int. Length of the linear warm-up. Defaults to `4000`.
        scale: float. Multiplies the whole schedule. Defaults to `1.0`.
        cooldown: float in `[0, 1]`. The last fraction of training over which
            the rate falls linearly to zero; `1.0`: all of it. Defaults to
            `0.0`: no cooldown.
        total_steps: int or `None`. The steps of the whole training, for a
            cooldown by step count (needs `cooldown > 0`); steps beyond it
            train at a rate of 0. Defaults to `None`: by `set_progress`.

    Example:
    >>> schedule = keras_transformer_bit.recipes.NoamSchedule(512)
    >>> round(float(schedule(3999)), 6)  # the peak, at step 4000
    0.000699
    >>> cooled = keras_transformer_bit.recipes.NoamSchedule(512, cooldown=0.2)
    >>> cooled.set_progress(0.9)  # half-way through the last fifth
    >>> round(float(cooled(3999)), 6)
    0.000349
    """

    def __init__(
        self, hidden_dim, warmup_steps=4000, scale=1.0, cooldown=0.0, total_steps=None
    ):
        super().__init__()
        hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        warmup_steps = check_positive_int("warmup_steps", warmup_steps)
        if not is_finite_number(scale) or scale <= 0:
            raise SettingError(
                lambda n: (
                    f"{n('scale')} must be a finite number > 0. "
                    f"Received: {n('scale')}={scale!r}"
                )
            )
        self.hidden_dim = hidden_dim
        self.warmup_steps = warmup_steps
        self.scale = float(scale)
        self.cooldown = check_fraction("cooldown", cooldown)
        self.total_steps = None
        if total_steps is not None:
            self.total_steps = check_positive_int("total_steps", total_steps)
            if not self.cooldown:
                raise SettingError(
                    lambda n: (
                        f"{n('total_steps')} times the cooldown, so it needs "
                        f"{n('cooldown')} > 0. Received: {n('total_steps')}="
                        f"{total_steps}, {n('cooldown')}={cooldown!r}"
                    )
                )
        self._progress = None
        if self.cooldown and self.total_steps is None:
            self._progress = keras.Variable(
                0.0, dtype="float32", trainable=False, name="cooldown_progress"
            )

    @property
    def progress(self):
        """The fraction of training done, as `set_progress` last set it."""
        return 0.0 if self._progress is None else float(self._progress.numpy())

    def set_progress(self, fraction):
        """Sets how much of the training is done, a float in `[0, 1]`.

        The compiled train step reads it at its next run. `TrainingBudget`
        calls this before every step with the fraction of its budget spent.

        Raises:
            ValueError: without a cooldown, with `total_steps` (the step count
                sets the progress), or for a fraction outside `[0, 1]`.
        """
        if not self.cooldown:
            raise ValueError(
                "This NoamSchedule has no cooldown, so it has no progress to "
                "set. Give NoamSchedule(cooldown=...) a fraction in (0, 1]. "
                f"Received: set_progress({fraction!r}) with cooldown=0"
            )
        if self._progress is None:
            raise ValueError(
                "total_steps counts the steps of this NoamSchedule, which set "
                f"its progress. Received: set_progress({fraction!r}) with "
                f"total_steps={self.total_steps}"
            )
        fraction = check_fraction("progress", fraction)
        if keras.backend.backend() == "jax":
            raise ValueError(
                "A cooldown driven by set_progress needs a backend whose "
                "compiled train steps read variables; a JAX step keeps the "
                "value it was traced with. Give NoamSchedule total_steps "
                f"instead. Received: set_progress({fraction}) under JAX"
            )
        self._progress.assign(fraction)

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        rate = ops.minimum(ops.rsqrt(step), step * float(self.warmup_steps) ** -1.5)
        rate = self.scale * self.hidden_dim**-0.5 * rate
        if not self.cooldown:
            return rate
        if self.total_steps is not None:
            # The steps done before this one: the last of `total_steps` still
            # moves the weights; any step after them has a rate of 0.
            progress = ops.minimum((step - 1.0) / float(self.total_steps), 1.0)
        else:
            progress = ops.convert_to_tensor(self._progress)
        left = (1.0 - progress) / self.cooldown
        return rate * ops.clip(left, 0.0, 1.0)

    def get_config(self):
        return {
            "hidden_dim": self.hidden_dim,
            "warmup_steps": self.warmup_steps,
            "scale": self.scale,
            "cooldown": self.cooldown,
            "total_steps": self.total_steps,
        }
