import keras
import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.layers import TransformerEncoderLayer
from tests.helpers import run_layer_test

RNG = np.random.default_rng(0)
INPUTS = RNG.standard_normal((2, 5, 8)).astype("float32")
PADDING = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
ARGS = {"hidden_dim": 8, "intermediate_dim": 16, "num_heads": 2}


@pytest.mark.parametrize("norm_first", [True, False])
def test_layer_contract(norm_first):
    run_layer_test(
        TransformerEncoderLayer,
        {**ARGS, "dropout": 0.1, "norm_first": norm_first},
        {"inputs": INPUTS, "padding_mask": PADDING},
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=16,
    )


def test_padding_invariance():
    layer = TransformerEncoderLayer(**ARGS)
    short = ops.convert_to_numpy(layer(INPUTS[:, :3]))
    padded = np.concatenate([INPUTS[:, :3], RNG.standard_normal((2, 4, 8))], axis=1)
    mask = np.arange(7)[None, :].repeat(2, 0) < 3
    long = ops.convert_to_numpy(layer(padded.astype("float32"), padding_mask=mask))
    np.testing.assert_allclose(long[:, :3], short, atol=1e-5)


def test_post_ln_ends_in_a_layer_norm_and_pre_ln_does_not():
    post = ops.convert_to_numpy(
        TransformerEncoderLayer(**ARGS, norm_first=False)(INPUTS * 10)
    )
    np.testing.assert_allclose(post.mean(-1), 0, atol=1e-4)
    np.testing.assert_allclose(post.std(-1), 1, atol=1e-2)
    pre = ops.convert_to_numpy(TransformerEncoderLayer(**ARGS)(INPUTS * 10))
    assert np.abs(pre.std(-1) - 1).max() > 1  # the residual stream is not normalized


def test_attention_scores_respect_padding():
    layer = TransformerEncoderLayer(**ARGS)
    output, scores = layer(INPUTS, padding_mask=PADDING, return_attention_scores=True)
    scores = ops.convert_to_numpy(scores)
    assert scores.shape == (2, 2, 5, 5)
    np.testing.assert_array_equal(scores[1, :, :, 3:], 0)
    np.testing.assert_allclose(scores.sum(-1), 1, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_heads": 3}, "hidden_dim=8, num_heads=3"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"dropout": -0.5}, "dropout=-0.5"),
        ({"intermediate_dim": 0}, "intermediate_dim=0"),
    ],
)
def test_errors_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerEncoderLayer(**{**ARGS, **kwargs})


def test_width_mismatch_error():
    with pytest.raises(ValueError, match="hidden_dim=8"):
        TransformerEncoderLayer(**ARGS)(keras.ops.ones((1, 3, 6)))
