"""keras_transformer_bit: the Transformer and BiT for Keras 3 / TensorFlow.

Subpackages: `layers`, `models` (`Transformer`, `BiTBackbone`,
`BiTClassifier`), `samplers` (greedy, beam, top-k, top-p), `recipes`
(schedules, losses, metrics, the BiT-HyperRule), `data` (corpora, tokenizers,
tf.data pipelines), `export` (SavedModels for TF Serving), `distribute`
(strategies, the multi-worker loop), `tuning` (KerasTuner), `training`
(resumable training runs: `TranslationRun`) and `cli` (the `ktb` command);
`Translator` turns strings into translations.

Importing the package loads its Keras parts (`layers`, `models`, `samplers`,
`recipes`), so that `keras.saving.load_model` finds their classes whatever is
imported next; `data`, `export`, `distribute`, `tuning`, `training`, `cli`
and `utils` load on first use. The `ktb` command loads nothing up front, so
that `ktb --help` answers at once.

Example:
>>> import keras_transformer_bit as ktb
>>> model = ktb.models.Transformer.from_preset("transformer_tiny", vocabulary_size=100)
"""

import importlib
import os
import sys

# Layers and models are written with keras.ops, but the data pipelines, export
# and distribution code are TensorFlow, so the package pins Keras to its TF backend.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_transformer_bit.version import __version__  # noqa: E402

_SUBPACKAGES = (
    "layers",
    "models",
    "samplers",
    "recipes",
    "data",
    "export",
    "distribute",
    "tuning",
    "training",
    "cli",
    "utils",
)
# The subpackages whose Keras classes `keras.saving.load_model` looks up.
_KERAS_SUBPACKAGES = ("layers", "models", "samplers", "recipes")

__all__ = [*_SUBPACKAGES, "Translator", "__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_transformer_bit.{name}")
    if name == "Translator":
        from keras_transformer_bit.translator import Translator

        return Translator
    raise AttributeError(f"module 'keras_transformer_bit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _running_the_ktb_command():
    """Whether this process is the `ktb` command (its console script)."""
    program = os.path.basename(getattr(sys, "argv", [""])[0] or "")
    return program in ("ktb", "ktb.exe", "ktb-script.py")


if not _running_the_ktb_command():
    # `keras.saving.load_model` finds only registered classes, so the Keras
    # parts are imported with the package, whatever the user imports next.
    # The `ktb` command skips this (`ktb --help` then answers without loading
    # TensorFlow); its handlers import what they use.
    for _name in _KERAS_SUBPACKAGES:
        importlib.import_module(f"keras_transformer_bit.{_name}")
