import keras
import numpy as np
import pytest

from keras_transformer_bit.layers import PositionEmbedding
from tests.helpers import run_layer_test


def test_layer_contract():
    run_layer_test(
        PositionEmbedding,
        {"sequence_length": 10},
        np.random.rand(2, 5, 8).astype("float32"),
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=1,
    )


def test_rows_are_the_table_and_start_index_slices_it():
    layer = PositionEmbedding(sequence_length=10)
    output = keras.ops.convert_to_numpy(layer(np.zeros((3, 7, 4), "float32")))
    table = keras.ops.convert_to_numpy(layer.position_embeddings)
    np.testing.assert_array_equal(output, np.broadcast_to(table[:7], (3, 7, 4)))
    step = layer(np.zeros((3, 2, 4), "float32"), start_index=keras.ops.array(5))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(step)[0], table[5:7])


def test_errors_name_the_value():
    with pytest.raises(ValueError, match="sequence_length=0"):
        PositionEmbedding(sequence_length=0)
    layer = PositionEmbedding(sequence_length=4)
    with pytest.raises(ValueError, match="6 positions.*sequence_length=4"):
        layer(np.zeros((1, 6, 2), "float32"))
