"""keras_transformer_bit: the Transformer and BiT for Keras 3 / TensorFlow.

Subpackages: `layers`, `models` (`Transformer`, `BiTBackbone`,
`BiTClassifier`), `samplers` (greedy, beam, top-k, top-p), `recipes`
(schedules, losses, metrics, the BiT-HyperRule), `data` (corpora, tokenizers,
tf.data pipelines), `export` (SavedModels for TF Serving), `distribute`
(strategies, the multi-worker loop), `tuning` (KerasTuner) and `cli` (the
`ktb` command); `Translator` turns strings into translations.

Importing the package is quick: each subpackage loads on first use
(`ktb.models`, `ktb.data`, ...), so that `ktb --help` does not wait for
TensorFlow. When Keras is already imported, the Keras parts (`layers`,
`models`, `samplers`, `recipes`) load at once, which registers their classes
for `keras.saving.load_model`. In a script that imports the package before
Keras, touch `ktb.models` before loading a saved model.

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


if "keras" in sys.modules:
    # Keras is paid for already: register the classes now, as an eager import would.
    for _name in _KERAS_SUBPACKAGES:
        importlib.import_module(f"keras_transformer_bit.{_name}")
