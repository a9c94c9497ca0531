"""Training runs: one resumable directory per run, behind the CLI and tutorials.

`TranslationRun(model_dir, **settings).train(...)` is what `ktb translate
train` does, from Python: it owns the run directory (config, tokenizers,
`model.keras`, `best.keras`, history, backups), checks a resumed run's
settings against the saved ones, chooses `model.fit` or the multi-worker
`ktb.distribute.CustomTrainingLoop` from the strategy, and cleans up after a
fresh run that fails. `BestCheckpoint` keeps the weights of the best
validation BLEU beside the last ones; `check_model_dir` refuses a directory
a run cannot use safely. `default_config()` holds the settings of a new
run that are not given (the translation recipe's).

Example:
>>> import keras_transformer_bit as ktb
>>> run = ktb.training.TranslationRun("runs/de_en", data="ding")  # doctest: +SKIP
>>> history = run.train(epochs=100, budget_minutes=20)  # doctest: +SKIP
"""

from keras_transformer_bit.training.best_checkpoint import BestCheckpoint
from keras_transformer_bit.training.check_model_dir import check_model_dir
from keras_transformer_bit.training.translation_run import (
    TranslationRun,
    default_config,
)

__all__ = ["TranslationRun", "BestCheckpoint", "check_model_dir", "default_config"]
