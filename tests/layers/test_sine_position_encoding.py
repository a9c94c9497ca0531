import keras
import numpy as np
import pytest

from keras_transformer_bit.layers import SinePositionEncoding
from tests.helpers import run_layer_test


def reference_encoding(length, dim, max_wavelength=10000, start=0):
    positions = np.arange(start, start + length)[:, None]
    pairs = np.arange(dim)[None, :] // 2
    angles = positions / np.power(max_wavelength, 2 * pairs / dim)
    return np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))


def test_layer_contract():
    run_layer_test(
        SinePositionEncoding,
        {"max_wavelength": 100},
        np.random.rand(2, 5, 8).astype("float32"),
        expected_output_shape=(2, 5, 8),
    )


def test_matches_paper_formula():
    output = SinePositionEncoding()(np.zeros((2, 11, 16), "float32"))
    expected = np.broadcast_to(reference_encoding(11, 16), (2, 11, 16))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(output), expected, atol=1e-5)


def test_start_index_shifts_positions():
    layer = SinePositionEncoding()
    full = keras.ops.convert_to_numpy(layer(np.zeros((1, 9, 8), "float32")))
    step = layer(np.zeros((1, 1, 8), "float32"), start_index=keras.ops.array(6))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(step), full[:, 6:7], atol=1e-6
    )


@pytest.mark.parametrize("value", [0, -3])
def test_rejects_non_positive_wavelength(value):
    with pytest.raises(ValueError, match=f"max_wavelength={value}"):
        SinePositionEncoding(max_wavelength=value)
