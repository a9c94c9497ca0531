"""Recipes: how to train, as small pieces (schedules, losses, metrics, rules).

Translation. `translation_recipe()` returns a `TranslationRecipe`, one frozen
dataclass with every choice the tutorial and `ktb translate` train with
(preset, vocabulary, batching, optimizer, decoding); its `compile` and
`datasets` methods apply it. The pieces also work on their own:
`NoamSchedule` (warm-up, then inverse square root decay; §5.3),
`LabelSmoothedCrossEntropy` (§5.4, padding ignored), `MaskedTokenAccuracy`,
`corpus_bleu` (sacreBLEU) and `BleuCallback` (validation BLEU during `fit`),
`corpus_chrf` (sacreBLEU chrF), `repetition_report` (translations that
repeat a word three times in a row, and empty ones), `CheckpointAveraging`
(the average of the last epochs' weights, §6.1) and `choose_decoding` (beam
size and length penalty by validation BLEU).

BiT. `bit_hyperrule` picks resolution, schedule and MixUp from the dataset
size (a `BiTHyperRule`); `BiTSchedule` is its learning-rate schedule;
`bit_fine_tune` and `bit_evaluate` train and score a `BiTClassifier` with it,
and `schedule_epochs` splits its steps into resumable epochs.

Either family: `TrainingBudget` stops `fit` after a wall-clock budget.
(`ktb.distribute.GradientAccumulation`, which splits each batch into parts
that fit in memory, is a TensorFlow training step and lives there.)

Recipes are backend-neutral: importing them does not import TensorFlow.

Example:
>>> import keras_transformer_bit as ktb
>>> schedule = ktb.recipes.NoamSchedule(hidden_dim=512, warmup_steps=4000)
>>> rule = ktb.recipes.bit_hyperrule(dataset_size=5000, image_size=(32, 32))
>>> rule.crop_size, rule.supports[-1], rule.mixup_alpha
(128, 500, 0.0)
"""

from keras_transformer_bit.recipes.bit_fine_tune import (
    bit_evaluate,
    bit_fine_tune,
    schedule_epochs,
)
from keras_transformer_bit.recipes.bit_hyperrule import BiTHyperRule, bit_hyperrule
from keras_transformer_bit.recipes.bit_schedule import BiTSchedule
from keras_transformer_bit.recipes.bleu import BleuCallback, corpus_bleu
from keras_transformer_bit.recipes.checkpoint_averaging import CheckpointAveraging
from keras_transformer_bit.recipes.choose_decoding import choose_decoding
from keras_transformer_bit.recipes.corpus_chrf import corpus_chrf
from keras_transformer_bit.recipes.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropy,
)
from keras_transformer_bit.recipes.masked_token_accuracy import MaskedTokenAccuracy
from keras_transformer_bit.recipes.noam_schedule import NoamSchedule
from keras_transformer_bit.recipes.repetition_report import repetition_report
from keras_transformer_bit.recipes.training_budget import TrainingBudget
from keras_transformer_bit.recipes.translation_recipe import (
    TranslationRecipe,
    translation_recipe,
)

__all__ = [
    # Translation
    "TranslationRecipe",
    "translation_recipe",
    "NoamSchedule",
    "LabelSmoothedCrossEntropy",
    "MaskedTokenAccuracy",
    "corpus_bleu",
    "corpus_chrf",
    "repetition_report",
    "BleuCallback",
    "CheckpointAveraging",
    "choose_decoding",
    # BiT
    "BiTHyperRule",
    "bit_hyperrule",
    "BiTSchedule",
    "bit_fine_tune",
    "bit_evaluate",
    "schedule_epochs",
    # Both
    "TrainingBudget",
]
