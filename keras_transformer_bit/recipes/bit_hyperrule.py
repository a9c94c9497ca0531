"""BiT-HyperRule: fine-tuning hyperparameters from the dataset alone.

Kolesnikov et al. 2019, "Big Transfer (BiT): General Visual Representation
Learning", §3.3: the resolution follows the image size, the schedule length and
MixUp follow the dataset size; everything else is fixed (SGD with momentum 0.9,
learning rate 0.003, batch 512, no weight decay). The rule is a handful of small
pure functions; `bit_hyperrule` bundles their answers in a `BiTHyperRule`.
"""

import dataclasses
import math
import numbers

import keras

from keras_transformer_bit.recipes.bit_schedule import BiTSchedule
from keras_transformer_bit.utils import check_positive_int

BASE_BATCH_SIZE = 512
BASE_LEARNING_RATE = 0.003
MOMENTUM = 0.9
SMALL_IMAGE_AREA = 96 * 96
SMALL_DATASET_SIZE = 20_000
MEDIUM_DATASET_SIZE = 500_000
# How `BiTHyperRule.with_batch_size` adapts the batch-512 rule.
BATCH_SCALINGS = ("official", "linear")


def _check_dataset_size(dataset_size):
    return check_positive_int(
        "dataset_size", dataset_size, meaning="the number of training examples"
    )


def _check_image_size(image_size):
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)  # a square, as BiTClassifier takes
    try:
        height, width = image_size
    except (TypeError, ValueError):
        height = width = None
    if not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
        for d in (height, width)
    ):
        raise ValueError(
            "image_size must be a positive int (a square) or a (height, width) "
            "pair of them. "
            f"Received: image_size={image_size!r}"
        )
    return int(height), int(width)


def bit_resolution(image_size):
    """Returns `(resize_size, crop_size)` for images of `image_size`.

    Images smaller than 96x96 in area are resized to 160 and cropped to 128;
    others are resized to 512 and cropped to 480.

    Example:
    >>> bit_resolution((32, 32))
    (160, 128)
    """
    height, width = _check_image_size(image_size)
    return (160, 128) if height * width < SMALL_IMAGE_AREA else (512, 480)


def bit_schedule_supports(dataset_size):
    """Returns the schedule supports (optimizer steps at batch 512).

    Example:
    >>> bit_schedule_supports(5000)
    (100, 200, 300, 400, 500)
    """
    dataset_size = _check_dataset_size(dataset_size)
    if dataset_size < SMALL_DATASET_SIZE:
        return (100, 200, 300, 400, 500)
    if dataset_size < MEDIUM_DATASET_SIZE:
        return (500, 3000, 6000, 9000, 10_000)
    return (500, 6000, 12_000, 18_000, 20_000)


def bit_mixup_alpha(dataset_size):
    """Returns the MixUp alpha: 0.1 from 20k examples on, else 0 (no MixUp).

    Example:
    >>> bit_mixup_alpha(50_000)
    0.1
    """
    dataset_size = _check_dataset_size(dataset_size)
    return 0.0 if dataset_size < SMALL_DATASET_SIZE else 0.1


@dataclasses.dataclass(frozen=True)
class BiTHyperRule:
    """The hyperparameters the BiT-HyperRule picks for one dataset.

    Build it with `bit_hyperrule(dataset_size, image_size)`.

    Attributes:
        dataset_size: int. Number of training examples.
        image_size: int or (int, int). Original (height, width) of the
            images; an int is a square.
        resize_size: int. Training images are resized to this square size...
        crop_size: int. ...then randomly cropped to this one; evaluation
            images are resized straight to it.
        supports: tuple of ints. Schedule supports in optimizer updates of
            `batch_size` examples; the last one is the length of training.
        mixup_alpha: float. MixUp Beta(alpha, alpha) parameter; 0 disables it.
        base_learning_rate: float. Peak learning rate at `batch_size`.
        momentum: float. SGD momentum.
        weight_decay: float. Always 0: the rule uses none.
        batch_size: int. Examples per optimizer update.
    """

    dataset_size: int
    image_size: tuple
    resize_size: int
    crop_size: int
    supports: tuple
    mixup_alpha: float
    base_learning_rate: float = BASE_LEARNING_RATE
    momentum: float = MOMENTUM
    weight_decay: float = 0.0
    batch_size: int = BASE_BATCH_SIZE

    @property
    def total_steps(self):
        """Optimizer updates in the full run."""
        return self.supports[-1]

    def with_batch_size(self, batch_size, scaling="official"):
        """Returns the rule for `batch_size` examples per update.

        Two choices, named after where they come from:

        - `"official"` (the default): only the batch changes; the learning
          rate and the supports stay those of batch 512. This is what the
          official code does: google-research/big_transfer `bit_tf2/train.py`
          trains any `--batch` with `--base_lr` (0.003) and the batch-512
          supports, its `schedule_length * 512 / args.batch` line commented
          out ("not unless verified necessary"); the PyTorch and JAX trainers
          do the same. Its README tuned batch 128 by hand (`--base_lr 0.001`).
        - `"linear"`: the learning rate scales by `batch_size / 512` and the
          supports by `512 / batch_size` (rounded up), so the run sees the
          same number of examples with the same learning rate per example
          (Goyal et al. 2017). Not part of the HyperRule; `scaled_to_batch_size`.

        Gradient accumulation (`bit_fine_tune(micro_batch_size=...)`)
        reproduces the batch-512 updates exactly and needs neither.

        Args:
            batch_size: int. Examples per optimizer update.
            scaling: `"official"` or `"linear"`. Defaults to `"official"`.

        Example:
        >>> rule = bit_hyperrule(5000, (32, 32))
        >>> official = rule.with_batch_size(64)
        >>> official.supports, official.base_learning_rate
        ((100, 200, 300, 400, 500), 0.003)
        >>> linear = rule.with_batch_size(64, scaling="linear")
        >>> linear.supports, linear.base_learning_rate
        ((800, 1600, 2400, 3200, 4000), 0.000375)
        """
        batch_size = check_positive_int("batch_size", batch_size)
        if scaling not in BATCH_SCALINGS:
            raise ValueError(
                f"scaling must be one of {BATCH_SCALINGS}. "
                f"Received: scaling={scaling!r}"
            )
        if scaling == "official":
            return dataclasses.replace(self, batch_size=batch_size)
        # Same number of examples seen at every support; same lr per example.
        supports = tuple(
            math.ceil(s * self.batch_size / batch_size) for s in self.supports
        )
        if any(b <= a for a, b in zip(supports, supports[1:])):
            raise ValueError(
                f"batch_size={batch_size} is too large for this schedule: the "
                f"scaled supports {supports} are no longer strictly increasing."
            )
        learning_rate = self.base_learning_rate * batch_size / self.batch_size
        return dataclasses.replace(
            self,
            supports=supports,
            base_learning_rate=learning_rate,
            batch_size=batch_size,
        )

    def scaled_to_batch_size(self, batch_size):
        """`with_batch_size(batch_size, scaling="linear")`: lr and steps scaled.

        Args:
            batch_size: int. Examples per optimizer update.
        """
        return self.with_batch_size(batch_size, scaling="linear")

    def shortened(self, fraction):
        """Returns the rule with every support multiplied by `fraction`.

        Not part of the HyperRule: for smoke runs and fixed compute budgets.
        Supports are rounded up and kept strictly increasing.
        """
        if not 0 < fraction <= 1:
            raise ValueError(
                f"fraction must be in (0, 1]. Received: fraction={fraction}"
            )
        supports = [math.ceil(s * fraction) for s in self.supports]
        for i in range(1, len(supports)):
            supports[i] = max(supports[i], supports[i - 1] + 1)
        return dataclasses.replace(self, supports=tuple(supports))

    def with_crop_size(self, crop_size):
        """Returns the rule at another resolution, same resize/crop ratio.

        Not part of the HyperRule: for small machines.
        """
        crop_size = check_positive_int("crop_size", crop_size)
        resize_size = round(crop_size * self.resize_size / self.crop_size)
        return dataclasses.replace(self, resize_size=resize_size, crop_size=crop_size)

    def datasets(
        self,
        train_images,
        eval_images=None,
        *,
        num_classes=None,
        seed=None,
        eval_batch_size=None,
        input_context=None,
    ):
        """Builds the training and evaluation batches of this rule.

        Training: all examples shuffled (a new order every epoch), resized to
        `resize_size`, random `crop_size` crops and flips, batches of
        `batch_size`, MixUp with `mixup_alpha`; repeated forever. Evaluation:
        every example once, in order, resized to `crop_size`. Both yield
        float32 RGB `[0, 255]` images and one-hot labels
        (`ktb.data.image_classification_pipeline`). `bit_fine_tune` and
        `ktb.tuning.BiTHyperModel` both take their batches from here.

        Args:
            train_images: a `LabeledImages`, or a `tf.data.Dataset` of
                `(image, int label)` (then `num_classes` is needed).
            eval_images: the same kinds, or `None` (no evaluation batches).
                Two `LabeledImages` are matched by class name: the evaluation
                labels are renumbered in the training classes' order, and a
                class training does not have is refused.
            num_classes: int. Length of the one-hot labels. Defaults to
                `train_images.num_classes`.
            seed: int or `None`. Seeds shuffling and augmentation.
            eval_batch_size: int. Defaults to `batch_size`.
            input_context: a `tf.distribute.InputContext` or `None`: shard the
                training examples (an image folder's files) over the input
                pipelines before reading them, in per-replica batches
                (`image_classification_pipeline`). Defaults to `None`.

        Returns:
            `(train_batches, eval_batches)`; `eval_batches` is `None` without
            `eval_images`.

        Example:
        >>> rule = bit_hyperrule(len(train), train.image_size)  # doctest: +SKIP
        >>> train_batches, test_batches = rule.datasets(  # doctest: +SKIP
        ...     train, test, seed=0)
        """
        from keras_transformer_bit.data import image_classification_pipeline

        if num_classes is None:
            num_classes = getattr(train_images, "num_classes", None)
            if num_classes is None:
                raise ValueError(
                    "num_classes must be given when train_images is not a "
                    "LabeledImages. Received: num_classes=None"
                )
        num_classes = check_positive_int("num_classes", num_classes)
        eval_batch_size = check_positive_int(
            "eval_batch_size",
            self.batch_size if eval_batch_size is None else eval_batch_size,
        )
        train_batches = image_classification_pipeline(
            train_images,
            num_classes,
            training=True,
            batch_size=self.batch_size,
            crop_size=self.crop_size,
            resize_size=self.resize_size,
            mixup_alpha=self.mixup_alpha,
            seed=seed,
            input_context=input_context,
        )
        if eval_images is None:
            return train_batches, None
        train_names = getattr(train_images, "class_names", None)
        if train_names is not None and hasattr(eval_images, "with_class_names"):
            # By name, not position: a test folder missing a class must not
            # shift the labels of the others.
            eval_images = eval_images.with_class_names(train_names)
        eval_batches = image_classification_pipeline(
            eval_images,
            num_classes,
            training=False,
            batch_size=eval_batch_size,
            crop_size=self.crop_size,
        )
        return train_batches, eval_batches

    def learning_rate_schedule(self, gradient_accumulation_steps=1):
        """Returns the `BiTSchedule` of this rule.

        Args:
            gradient_accumulation_steps: int. Micro-batches per update, as
                given to the optimizer (its step counter counts micro-batches).
        """
        return BiTSchedule(
            self.base_learning_rate,
            self.supports,
            gradient_accumulation_steps=gradient_accumulation_steps,
        )

    def optimizer(self, gradient_accumulation_steps=1):
        """Returns SGD with momentum on this rule's schedule.

        With `gradient_accumulation_steps=k`, feed micro-batches of
        `batch_size // k` examples for `total_steps * k` steps: the optimizer
        averages `k` gradients before each update, which equals one update on
        the whole batch when the loss is a mean over examples. Keras applies
        that update inside a conditional, which `tf.distribute` strategies
        cannot synchronise: with a strategy, split the batch inside the step
        instead (`ktb.distribute.GradientAccumulation`, which `bit_fine_tune`
        uses) and keep `gradient_accumulation_steps=1` here.

        Args:
            gradient_accumulation_steps: int. Micro-batches per update.
        """
        schedule = self.learning_rate_schedule(gradient_accumulation_steps)
        return keras.optimizers.SGD(
            learning_rate=schedule,
            momentum=self.momentum,
            gradient_accumulation_steps=(
                gradient_accumulation_steps if gradient_accumulation_steps > 1 else None
            ),
        )

    def gradient_accumulation_steps_for(self, micro_batch_size):
        """Micro-batches per update to reach `batch_size` with `micro_batch_size`.

        Raises:
            ValueError: if `micro_batch_size` does not divide `batch_size`.
        """
        micro_batch_size = check_positive_int("micro_batch_size", micro_batch_size)
        if self.batch_size % micro_batch_size:
            raise ValueError(
                f"micro_batch_size must be a positive divisor of "
                f"batch_size={self.batch_size}. "
                f"Received: micro_batch_size={micro_batch_size}"
            )
        return self.batch_size // int(micro_batch_size)


def bit_hyperrule(dataset_size, image_size):
    """Returns the BiT-HyperRule hyperparameters for a dataset.

    Args:
        dataset_size: int. Number of training examples.
        image_size: int or (int, int). Original (height, width) of the
            images; an int is a square.

    Returns:
        A `BiTHyperRule`.

    Example:
    >>> rule = keras_transformer_bit.recipes.bit_hyperrule(5000, (32, 32))
    >>> rule.resize_size, rule.crop_size, rule.supports, rule.mixup_alpha
    (160, 128, (100, 200, 300, 400, 500), 0.0)
    >>> optimizer = rule.optimizer(gradient_accumulation_steps=16)  # batch 32 x 16
    """
    resize_size, crop_size = bit_resolution(image_size)
    return BiTHyperRule(
        dataset_size=_check_dataset_size(dataset_size),
        image_size=_check_image_size(image_size),
        resize_size=resize_size,
        crop_size=crop_size,
        supports=bit_schedule_supports(dataset_size),
        mixup_alpha=bit_mixup_alpha(dataset_size),
    )
