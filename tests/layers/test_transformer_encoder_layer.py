import keras
import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.layers import TransformerEncoderLayer
from tests.helpers import assert_no_copied_kernels, run_layer_test

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


def _kernel_values(layer):
    return {
        weight.path: ops.convert_to_numpy(weight).ravel()
        for weight in layer.weights
        if weight.path.endswith("kernel")
    }


@pytest.mark.parametrize("seed", [None, 5])
def test_fresh_kernels_are_not_copies_of_each_other(seed):
    """One shared unseeded initializer made q, k, v, o equal and the FFN
    output kernel a permutation of the intermediate one; a seeded one must
    not either, and must stay reproducible."""
    initializer = keras.initializers.GlorotUniform(seed=seed)
    args = dict(hidden_dim=16, intermediate_dim=16, num_heads=2)
    layer = TransformerEncoderLayer(**args, kernel_initializer=initializer)
    layer.build((None, None, 16))
    assert len(_kernel_values(layer)) == 6
    assert_no_copied_kernels(layer)
    if seed is not None:
        # Seeded means reproducible, as for Keras' own layers: another layer
        # built with the same initializer has the same kernels.
        again = TransformerEncoderLayer(**args, kernel_initializer=initializer)
        again.build((None, None, 16))
        for values, expected in zip(
            _kernel_values(again).values(), _kernel_values(layer).values()
        ):
            np.testing.assert_array_equal(values, expected)


def test_keras_implicit_mask_equals_explicit_padding_mask():
    """Embedding(mask_zero=True) -> layer: appended padding changes nothing."""
    embedding = keras.layers.Embedding(20, 8, mask_zero=True)
    layer = TransformerEncoderLayer(**ARGS)
    ids = np.array([[3, 4, 5, 6, 0], [7, 8, 9, 0, 0]])
    longer = np.concatenate([ids, np.zeros((2, 4), int)], axis=1)
    short = ops.convert_to_numpy(layer(embedding(ids)))
    long = ops.convert_to_numpy(layer(embedding(longer)))
    real = ids != 0
    np.testing.assert_allclose(long[:, :5][real], short[real], atol=1e-5)
    explicit = ops.convert_to_numpy(layer(embedding(ids), padding_mask=real))
    np.testing.assert_allclose(short[real], explicit[real], atol=1e-6)


def test_keras_implicit_mask_in_a_functional_model():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
    outputs = TransformerEncoderLayer(**ARGS)(x)
    model = keras.Model(inputs, outputs)
    ids = np.array([[3, 4, 5, 0], [7, 8, 0, 0]])
    longer = np.concatenate([ids, np.zeros((2, 3), int)], axis=1)
    real = ids != 0
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(longer))[:, :4][real],
        ops.convert_to_numpy(model(ids))[real],
        atol=1e-5,
    )
