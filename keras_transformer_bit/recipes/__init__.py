"""recipes."""
from keras_transformer_bit.recipes.bit_hyperrule import BiTHyperRule  # noqa: F401
from keras_transformer_bit.recipes.bit_hyperrule import bit_hyperrule  # noqa: F401
from keras_transformer_bit.recipes.bit_schedule import BiTSchedule  # noqa: F401
from keras_transformer_bit.recipes.label_smoothed_cross_entropy import (  # noqa: F401
    LabelSmoothedCrossEntropy,
)
from keras_transformer_bit.recipes.masked_token_accuracy import (  # noqa: F401
    MaskedTokenAccuracy,
)
from keras_transformer_bit.recipes.noam_schedule import NoamSchedule  # noqa: F401
from keras_transformer_bit.recipes.bit_fine_tune import bit_evaluate  # noqa: F401
from keras_transformer_bit.recipes.bit_fine_tune import bit_fine_tune  # noqa: F401
