"""Tuning: hyperparameter search with KerasTuner (hypermodels, tuners, tables).

`TranslationRunTuner` searches translation recipes: each trial is a
`ktb.training.TranslationRun` (what `ktb translate train` and `ktb tune
transformer` run), so data-level settings (vocabulary size, tokens per batch)
are tuned too, on validation BLEU; `TRANSLATION_RUN_SEARCH_SPACE` is its
default search space, whose first values are the translation recipe's.
For users who bring their own datasets, `TransformerHyperModel` builds and
compiles a `Transformer` from sampled hyperparameters;
`TRANSFORMER_SEARCH_SPACE` is its default search space. `BiTHyperModel`
fine-tunes a `BiTClassifier` with multipliers on the BiT-HyperRule's learning
rate and schedule; `BIT_SEARCH_SPACE` is its default search space. In a search
space a list is a choice (its first value the default) and a `(min, max)` pair
is a range; `check_search_space` validates one against the defaults and
`default_values` gives the first trial's values. `make_oracle` picks a
KerasTuner oracle by one of the `TUNER_NAMES` (`"random_search"`,
`"hyperband"`, `"bayesian_optimization"`), starting from the defaults;
`make_tuner` builds a tuner of a hypermodel with it, and `results_table` lists
the trials as markdown, best first.

Example:
>>> import keras_transformer_bit as ktb
>>> hypermodel = ktb.tuning.TransformerHyperModel(1000)
>>> tuner = ktb.tuning.make_tuner("random_search", hypermodel)  # doctest: +SKIP
"""

from keras_transformer_bit.tuning.bit_hypermodel import BIT_SEARCH_SPACE, BiTHyperModel
from keras_transformer_bit.tuning.make_tuner import (
    TUNER_NAMES,
    make_oracle,
    make_tuner,
)
from keras_transformer_bit.tuning.results_table import results_table
from keras_transformer_bit.tuning.search_space import (
    check_search_space,
    default_values,
)
from keras_transformer_bit.tuning.transformer_hypermodel import (
    TRANSFORMER_SEARCH_SPACE,
    TransformerHyperModel,
)
from keras_transformer_bit.tuning.translation_run_tuner import (
    TRANSLATION_RUN_SEARCH_SPACE,
    TranslationRunTuner,
)

__all__ = [
    "TranslationRunTuner",
    "TRANSLATION_RUN_SEARCH_SPACE",
    "TransformerHyperModel",
    "TRANSFORMER_SEARCH_SPACE",
    "BiTHyperModel",
    "BIT_SEARCH_SPACE",
    "make_oracle",
    "make_tuner",
    "TUNER_NAMES",
    "results_table",
    "check_search_space",
    "default_values",
]
