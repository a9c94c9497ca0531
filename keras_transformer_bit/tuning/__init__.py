"""Hyperparameter search with KerasTuner: hypermodels, tuners, result tables.

Example:
>>> hypermodel = keras_transformer_bit.tuning.TransformerHyperModel(1000)
>>> tuner = keras_transformer_bit.tuning.make_tuner("random_search", hypermodel)
"""

from keras_transformer_bit.tuning.bit_hypermodel import (  # noqa: F401
    BIT_SEARCH_SPACE,
    BiTHyperModel,
)
from keras_transformer_bit.tuning.make_tuner import TUNER_NAMES, make_tuner  # noqa: F401
from keras_transformer_bit.tuning.results_table import results_table  # noqa: F401
from keras_transformer_bit.tuning.search_space import (  # noqa: F401
    check_search_space,
    default_values,
)
from keras_transformer_bit.tuning.transformer_hypermodel import (  # noqa: F401
    TRANSFORMER_SEARCH_SPACE,
    TransformerHyperModel,
)
