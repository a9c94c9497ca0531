"""Fresh models start from independent kernels.

An unseeded Keras 3 initializer returns the same values on every call, so a layer
that hands one instance to several sublayers gives them copied kernels (equal,
reordered, or prefixes of one random stream). `assert_no_copied_kernels` finds all
three; `tests/test_helpers.py` checks that it does.
"""

import numpy as np

import keras_transformer_bit as ktb
from tests.helpers import assert_no_copied_kernels


def test_transformer_tiny_starts_from_independent_kernels():
    model = ktb.models.Transformer.from_preset("transformer_tiny", vocabulary_size=64)
    ids = np.array([[5, 6, 7, 0]], "int32")
    model({"encoder_inputs": ids, "decoder_inputs": ids})
    assert_no_copied_kernels(model)


def test_transformer_encoder_layer_starts_from_independent_kernels():
    layer = ktb.layers.TransformerEncoderLayer(
        hidden_dim=16, intermediate_dim=32, num_heads=2
    )
    layer.build((None, 5, 16))
    assert_no_copied_kernels(layer)


def test_bit_tiny_starts_from_independent_kernels():
    model = ktb.models.BiTClassifier.from_preset("bit_tiny", num_classes=10)
    model(np.zeros((1, 32, 32, 3), "float32"))
    assert_no_copied_kernels(model)
