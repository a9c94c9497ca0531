import math

import keras
import numpy as np
import pytest

from keras_transformer_bit.layers import SinePositionEncoding, TokenAndPositionEmbedding
from tests.helpers import run_layer_test

IDS = np.array([[4, 7, 1, 0], [2, 9, 9, 3]], "int32")


@pytest.mark.parametrize("position_encoding", ["sine", "learned"])
def test_layer_contract(position_encoding):
    run_layer_test(
        TokenAndPositionEmbedding,
        {
            "vocabulary_size": 10,
            "sequence_length": 6,
            "embedding_dim": 8,
            "position_encoding": position_encoding,
        },
        IDS,
        expected_output_shape=(2, 4, 8),
        expected_num_trainable_weights=1 if position_encoding == "sine" else 2,
    )


def test_reverse_projection_contract():
    layer = TokenAndPositionEmbedding(10, 6, 8)
    layer.build()
    hidden = np.random.rand(2, 4, 8).astype("float32")
    logits = keras.ops.convert_to_numpy(layer(hidden, reverse=True))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    np.testing.assert_allclose(logits, hidden @ table.T, atol=1e-5)


def test_tokens_scaled_by_sqrt_dim_plus_sinusoids():
    layer = TokenAndPositionEmbedding(10, 6, 8)
    output = keras.ops.convert_to_numpy(layer(IDS))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    sine = keras.ops.convert_to_numpy(SinePositionEncoding()(np.zeros((1, 4, 8))))
    np.testing.assert_allclose(output, table[IDS] * math.sqrt(8) + sine, atol=1e-5)
    # The default initializer gives unit-variance scaled embeddings.
    big = TokenAndPositionEmbedding(2000, 6, 64)
    big.build()
    scaled = keras.ops.convert_to_numpy(big.embeddings) * 8.0
    assert abs(scaled.std() - 1.0) < 0.02


def test_start_index_matches_full_sequence():
    layer = TokenAndPositionEmbedding(10, 6, 8, position_encoding="learned")
    full = keras.ops.convert_to_numpy(layer(IDS))
    step = layer(IDS[:, 2:3], start_index=keras.ops.array(2))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(step), full[:, 2:3], atol=1e-6
    )


def test_errors_name_the_value():
    with pytest.raises(ValueError, match="vocabulary_size=0"):
        TokenAndPositionEmbedding(0, 6, 8)
    with pytest.raises(ValueError, match="position_encoding='rotary'"):
        TokenAndPositionEmbedding(10, 6, 8, position_encoding="rotary")
