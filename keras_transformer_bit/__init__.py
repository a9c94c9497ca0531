"""keras_transformer_bit: the Transformer and BiT for Keras 3 / TensorFlow.

Example:
>>> import keras_transformer_bit as ktb
>>> model = ktb.models.Transformer.from_preset("transformer_tiny", vocabulary_size=100)
"""

import os

# Layers and models are written with keras.ops, but the data pipelines, export
# and distribution code are TensorFlow, so the package pins Keras to its TF backend.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_transformer_bit import layers, models, recipes, samplers  # noqa: E402
from keras_transformer_bit.version import __version__  # noqa: E402

__all__ = ["layers", "models", "recipes", "samplers", "__version__"]


def __getattr__(name):
    # Heavier submodules (tf.data, export, tf.distribute, KerasTuner, CLI) load on
    # first use so that `import keras_transformer_bit` stays quick.
    import importlib

    if name in ("data", "export", "distribute", "tuning", "cli"):
        return importlib.import_module(f"keras_transformer_bit.{name}")
    if name == "Translator":
        from keras_transformer_bit.translator import Translator

        return Translator
    raise AttributeError(f"module 'keras_transformer_bit' has no attribute {name!r}")
