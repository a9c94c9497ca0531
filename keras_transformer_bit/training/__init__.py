"""Training runs: one resumable directory per run, behind the CLI and tutorials.

`TranslationRun(model_dir, **settings).train(...)` is what `ktb translate
train` does, from Python: it owns the run directory (config, tokenizers,
`model.keras`, `best.keras`, history, backups), checks a resumed run's
settings against the saved ones, chooses `model.fit` or the multi-worker
`ktb.distribute.CustomTrainingLoop` from the strategy, and cleans up after a
fresh run that fails. `BiTRun(model_dir, data=..., **settings).train()` is
what `ktb bit train` does, the same way: settings and training data checked
on a rerun, resumed after a kill, nothing trained once finished.
Both hold a `RunLock` on the directory while they train, so a second run
started there at the same time is refused. `BestCheckpoint` keeps the weights
of the best validation BLEU beside the last ones; `check_model_dir` refuses a
directory a run cannot use safely.
`default_config()` and `default_bit_settings()` hold the settings of a new
run that are not given.

Example:
>>> import keras_transformer_bit as ktb
>>> run = ktb.training.TranslationRun("runs/de_en", data="ding")  # doctest: +SKIP
>>> history = run.train(epochs=100, budget_minutes=20)  # doctest: +SKIP
>>> bit = ktb.training.BiTRun("runs/fmnist", data="fashion_mnist",
...                           preset="bit_tiny", shots=10)  # doctest: +SKIP
>>> config = bit.train()  # doctest: +SKIP
"""

from keras_transformer_bit.training.best_checkpoint import BestCheckpoint
from keras_transformer_bit.training.bit_run import BiTRun, default_bit_settings
from keras_transformer_bit.training.check_model_dir import check_model_dir
from keras_transformer_bit.training.run_lock import RunLock, RunLockedError
from keras_transformer_bit.training.translation_run import (
    TranslationRun,
    default_config,
)

__all__ = [
    "TranslationRun",
    "BiTRun",
    "BestCheckpoint",
    "RunLock",
    "RunLockedError",
    "check_model_dir",
    "default_config",
    "default_bit_settings",
]
