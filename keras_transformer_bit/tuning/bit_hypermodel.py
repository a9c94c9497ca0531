"""KerasTuner hypermodel for BiT fine-tuning around the BiT-HyperRule."""

import dataclasses
import math

import keras_tuner

from keras_transformer_bit.models import BiTClassifier
from keras_transformer_bit.models.bit.bit_classifier import check_image_size
from keras_transformer_bit.recipes import bit_hyperrule
from keras_transformer_bit.recipes.bit_fine_tune import bit_fine_tune
from keras_transformer_bit.recipes.bit_hyperrule import BATCH_SCALINGS
from keras_transformer_bit.tuning.search_space import (
    check_search_space,
    hyperparameter,
)
from keras_transformer_bit.utils import check_positive_int
from keras_transformer_bit.utils.check_known_arguments import check_known_arguments

# Multipliers on what the HyperRule picks; 1.0 (first, the default) is the
# rule itself, so the first trial of every tuner is the HyperRule. MixUp is
# searched by its alpha, not a multiplier: the rule picks alpha 0 below 20k
# examples (§3.3), where any multiplier would give 0. The hypermodel moves the
# rule's own alpha to the front, so the first trial is still the rule.
BIT_SEARCH_SPACE = {
    "learning_rate_multiplier": [1.0, 0.3, 3.0],
    "steps_multiplier": [1.0, 0.5, 2.0],
    "mixup_alpha": [0.1, 0.0, 0.2],
    "resolution_multiplier": [1.0, 0.5, 2.0],
}
MIN_CROP_SIZE = 8


class BiTHyperModel(keras_tuner.HyperModel):
    """Fine-tunes a `BiTClassifier` with multipliers on the BiT-HyperRule.

    `ktb.recipes.bit_hyperrule(dataset_size, image_size)` (Kolesnikov et al.
    2019, §3.3) picks the resolution, schedule length, MixUp and learning rate
    from the dataset alone; this hypermodel searches multipliers on the
    learning rate, the number of steps, the MixUp alpha and the resolution.
    Every multiplier defaults to 1.0, so the first trial is the HyperRule (with
    `ktb.tuning.make_tuner`, which starts every tuner from the defaults).

    A trial is a `ktb.recipes.bit_fine_tune` call with the trial's rule: the
    code `ktb bit train` (`ktb.training.BiTRun`) runs, so a trial trains,
    evaluates and fails as a run would. It builds each trial's image pipeline
    (resolution and MixUp differ between trials), so pass `search` the *raw*
    training images.

    Args:
        num_classes: int. Classes of the task.
        dataset_size: int. Training examples (drives the HyperRule).
        image_size: (int, int), or an int for a square (as `bit_hyperrule`
            takes it). Original (height, width) of the images (drives the
            resolution).
        class_names: list of `num_classes` str, or None. The classes' names,
            which every trial's model (and the tuner's best model) carries.
            None: the names of the first training images a trial trains on
            (a `LabeledImages`); pass them when a tuner is reloaded in
            another process, so that `tuner.get_best_models()` has them.
            Defaults to None.
        preset: str. A `BiTClassifier` preset. Defaults to `"bit_tiny"`.
        weights: passed to `BiTClassifier.from_preset`. Defaults to None.
        batch_size: int. Examples per update. Defaults to `64`.
        micro_batch_size: int or None. Must divide `batch_size`: each update
            sums the gradients of `batch_size // micro_batch_size` parts
            (`bit_fine_tune`'s gradient accumulation; the same update, the
            memory of one part). Defaults to None (whole batches).
        batch_scaling: `"official"` (the batch-512 learning rate and steps,
            as the official BiT code) or `"linear"` (both scaled to
            `batch_size`); see `BiTHyperRule.with_batch_size`. Defaults to
            `"official"`.
        steps_fraction: float in (0, 1]. Shortens the rule's schedule for smoke
            runs and budgets. Defaults to `1.0`.
        search_space: dict or None. Overrides of `BIT_SEARCH_SPACE`.
        strategy: optional `tf.distribute.Strategy` to build under.
        seed: int. Data pipeline seed. Defaults to `0`.
        schedule_epochs: int or None. For budgets in epochs (Hyperband): the
            trial's schedule is cut into this many epochs, and `fit(epochs=e,
            initial_epoch=i)` runs updates `i / schedule_epochs` to
            `e / schedule_epochs` of it, the learning rate continuing where
            the resumed trial stopped; never more than the schedule's total.
            `make_tuner("hyperband", ...)` sets it to `max_epochs`. None:
            every trial runs its whole schedule, split into `epochs` reporting
            epochs. Defaults to None.

    Example:
    >>> hypermodel = BiTHyperModel(num_classes=10, dataset_size=500,
    ...                            image_size=(28, 28), steps_fraction=0.01)
    >>> tuner = ktb.tuning.make_tuner("random_search", hypermodel, max_trials=3,
    ...                               objective="val_accuracy")
    >>> tuner.search(train_images, validation_data=test_images)  # doctest: +SKIP
    """

    def __init__(
        self,
        num_classes,
        dataset_size,
        image_size,
        class_names=None,
        preset="bit_tiny",
        weights=None,
        batch_size=64,
        micro_batch_size=None,
        batch_scaling="official",
        steps_fraction=1.0,
        search_space=None,
        strategy=None,
        seed=0,
        schedule_epochs=None,
        name="bit",
    ):
        super().__init__(name=name, tunable=True)
        if not 0 < steps_fraction <= 1:
            raise ValueError(
                "steps_fraction must be in (0, 1]. "
                f"Received: steps_fraction={steps_fraction}"
            )
        if batch_scaling not in BATCH_SCALINGS:
            raise ValueError(
                f"batch_scaling must be one of {BATCH_SCALINGS}. "
                f"Received: batch_scaling={batch_scaling!r}"
            )
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.dataset_size = dataset_size
        self.image_size = check_image_size(image_size)
        self.class_names = _check_class_names(class_names, num_classes)
        self.preset = preset
        self.weights = weights
        self.batch_size = batch_size
        self.batch_scaling = batch_scaling
        self.steps_fraction = steps_fraction
        self.search_space = check_search_space(search_space, BIT_SEARCH_SPACE)
        self.strategy = strategy
        self.seed = seed
        rule = bit_hyperrule(dataset_size, self.image_size)
        rule = rule.with_batch_size(batch_size, scaling=batch_scaling)
        if steps_fraction < 1:
            rule = rule.shortened(steps_fraction)
        self.hyperrule = rule
        if micro_batch_size is not None:
            check_positive_int("micro_batch_size", micro_batch_size)
            if rule.batch_size % micro_batch_size:
                raise ValueError(
                    f"micro_batch_size={micro_batch_size} does not divide "
                    f"batch_size={batch_size}: each update sums whole parts. "
                    f"Expected a divisor of {batch_size}."
                )
        self.micro_batch_size = micro_batch_size
        if "mixup_alpha" not in (search_space or {}):
            choices = self.search_space["mixup_alpha"]
            self.search_space["mixup_alpha"] = [rule.mixup_alpha] + [
                alpha for alpha in choices if alpha != rule.mixup_alpha
            ]
        if schedule_epochs is not None:
            check_positive_int("schedule_epochs", schedule_epochs)
        self.schedule_epochs = schedule_epochs

    def rule(self, hp):
        """The HyperRule of this trial: the base rule times the multipliers."""
        values = {
            name: hyperparameter(hp, name, spec)
            for name, spec in self.search_space.items()
        }
        rule = self.hyperrule
        crop_size = max(
            MIN_CROP_SIZE, round(rule.crop_size * values["resolution_multiplier"])
        )
        rule = rule.with_crop_size(crop_size)
        supports = [
            max(1, math.ceil(s * values["steps_multiplier"])) for s in rule.supports
        ]
        for i in range(1, len(supports)):
            supports[i] = max(supports[i], supports[i - 1] + 1)
        return dataclasses.replace(
            rule,
            supports=tuple(supports),
            base_learning_rate=rule.base_learning_rate
            * values["learning_rate_multiplier"],
            mixup_alpha=float(values["mixup_alpha"]),
        )

    def _jit_compile(self):
        return False if self.strategy is not None else "auto"

    def build(self, hp):
        """The trial's `BiTClassifier`, uncompiled (`fit` compiles it).

        It carries `class_names` and the trial's resolution (its rule's
        `crop_size`) as `image_size`, what a trained run's model records:
        KerasTuner's `get_best_models` builds the model with this and loads
        the trial's weights, so the best model evaluates and exports at the
        resolution it was trained at. Uncompiled, it has no optimizer for the
        saved one's variables to be loaded into (nor a warning that they are
        skipped).
        """
        crop_size = self.rule(hp).crop_size

        def build_model():
            return BiTClassifier.from_preset(
                self.preset,
                num_classes=self.num_classes,
                weights=self.weights,
                class_names=self.class_names,
                image_size=(crop_size, crop_size),
            )

        if self.strategy is None:
            return build_model()
        with self.strategy.scope():
            return build_model()

    def fit(self, hp, model, images, validation_data=None, epochs=None, **kwargs):
        """Trains for the trial's schedule on `images` (raw, unbatched).

        A trial is a `ktb.recipes.bit_fine_tune` call, the code
        `ktb.training.BiTRun` and `ktb bit train` run: the trial's rule and
        the hypermodel's seed, strategy and micro-batches, the same batches,
        evaluation and errors; the model ends with the class names and
        resolution a run's model has. Without `class_names`, the hypermodel
        keeps the names the model recorded, for the models it builds next.

        Args:
            images: a `LabeledImages` or a dataset of `(image, int label)`.
            validation_data: same kind, evaluated at the trial's resolution.
            epochs: int or None. Without `schedule_epochs`: splits the whole
                schedule into this many epochs (reporting points), default
                `min(total steps, 4)`. With it: the budget, in epochs of
                `schedule_epochs` (see the class docstring).
            **kwargs: `callbacks` (KerasTuner's own among them), `verbose`
                and `initial_epoch` (where Hyperband resumes a trial), passed
                to `bit_fine_tune`; any other name is refused.

        Returns:
            The `History` of `bit_fine_tune`, one entry per epoch run.
        """
        check_known_arguments(
            "BiTHyperModel.fit", kwargs, ["callbacks", "initial_epoch", "verbose"]
        )
        if epochs is not None:
            check_positive_int("epochs", epochs)
        rule = self.rule(hp)
        initial_epoch = kwargs.pop("initial_epoch", 0)
        if self.schedule_epochs is None:
            if "tuner/epochs" in hp.values:
                raise ValueError(
                    "Hyperband gives each trial a budget in epochs; set "
                    "schedule_epochs (make_tuner('hyperband', ...) sets it to "
                    "max_epochs) so that an epoch is a fixed part of the "
                    "schedule. Received: schedule_epochs=None"
                )
            num_epochs = epochs or min(rule.total_steps, 4)
            final_epoch = None
        else:
            # A Hyperband follow-up starts from the weights its predecessor
            # reached after `initial_epoch` epochs of the same split, and
            # bit_fine_tune continues the learning rate from there too.
            num_epochs = self.schedule_epochs
            final_epoch = epochs or self.schedule_epochs
        history = bit_fine_tune(
            model,
            images,
            rule,
            micro_batch_size=self.micro_batch_size,
            seed=self.seed,
            strategy=self.strategy,
            num_epochs=num_epochs,
            initial_epoch=initial_epoch,
            final_epoch=final_epoch,
            validation_images=validation_data,
            jit_compile=self._jit_compile(),
            callbacks=kwargs.pop("callbacks", None),
            verbose=kwargs.pop("verbose", "auto"),
        )
        if self.class_names is None:
            # What bit_fine_tune recorded: the next builds (the tuner's best
            # model among them) carry the names too.
            self.class_names = getattr(model, "class_names", None)
        return history


def _check_class_names(class_names, num_classes):
    if class_names is None:
        return None
    if isinstance(class_names, str) or len(class_names) != num_classes:
        raise ValueError(
            f"class_names must have one name per class (num_classes={num_classes}). "
            f"Received: class_names={class_names!r}"
        )
    return [str(name) for name in class_names]
