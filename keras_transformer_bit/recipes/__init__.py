"""recipes."""

from keras_transformer_bit.recipes.bit_fine_tune import (  # noqa: F401
    bit_evaluate,
    bit_fine_tune,
)
from keras_transformer_bit.recipes.bit_hyperrule import (  # noqa: F401
    BiTHyperRule,
    bit_hyperrule,
)
from keras_transformer_bit.recipes.bit_schedule import BiTSchedule  # noqa: F401
from keras_transformer_bit.recipes.bleu import BleuCallback, corpus_bleu  # noqa: F401
from keras_transformer_bit.recipes.gradient_accumulation import (  # noqa: F401
    GradientAccumulation,
)
from keras_transformer_bit.recipes.label_smoothed_cross_entropy import (  # noqa: F401
    LabelSmoothedCrossEntropy,
)
from keras_transformer_bit.recipes.masked_token_accuracy import (  # noqa: F401
    MaskedTokenAccuracy,
)
from keras_transformer_bit.recipes.noam_schedule import NoamSchedule  # noqa: F401
from keras_transformer_bit.recipes.training_budget import TrainingBudget  # noqa: F401
from keras_transformer_bit.recipes.translation_recipe import (  # noqa: F401
    TranslationRecipe,
    translation_recipe,
)
