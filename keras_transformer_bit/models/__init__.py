"""Public models."""

from keras_transformer_bit.models.bit import BiTBackbone, BiTClassifier  # noqa: F401
from keras_transformer_bit.models.transformer.transformer import Transformer  # noqa: F401
