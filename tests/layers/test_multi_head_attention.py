import keras
import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.layers import MultiHeadAttention
from tests.helpers import assert_no_copied_kernels, run_layer_test

RNG = np.random.default_rng(0)
QUERY = RNG.standard_normal((2, 5, 8)).astype("float32")
VALUE = RNG.standard_normal((2, 4, 8)).astype("float32")


def numpy(x):
    return ops.convert_to_numpy(x)


def reference_attention(layer, query, value, mask=None):
    """An independent NumPy computation from the layer's weights."""

    def project(x, dense):
        kernel, bias = (numpy(w) for w in dense.weights)
        return np.einsum("btd,dhk->bthk", x, kernel) + bias

    q = project(query, layer.query_dense) / np.sqrt(layer.key_dim)
    k, v = project(value, layer.key_dense), project(value, layer.value_dense)
    scores = np.einsum("bthk,bshk->bhts", q, k)
    if mask is not None:
        scores = np.where(mask[:, None], scores, -np.inf)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    probabilities = scores / scores.sum(-1, keepdims=True)
    heads = np.einsum("bhts,bshk->bthk", probabilities, v)
    kernel, bias = (numpy(w) for w in layer.output_dense.weights)
    return np.einsum("bthk,hkd->btd", heads, kernel) + bias, probabilities


def test_layer_contract():
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": 2, "key_dim": 4, "dropout": 0.1},
        {"query": QUERY, "value": VALUE},
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=8,
    )


def test_layer_contract_causal_with_scores():
    run_layer_test(
        MultiHeadAttention,
        {"num_heads": 2, "key_dim": 4, "output_dim": 6},
        {"query": QUERY, "value": QUERY},
        call_kwargs={"use_causal_mask": True, "return_attention_scores": True},
        expected_output_shape=((2, 5, 6), (2, 2, 5, 5)),
    )


def test_matches_numpy_reference_with_padding_mask():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    padding = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
    output, scores = layer(
        QUERY,
        VALUE,
        attention_mask=padding[:, None, :],
        return_attention_scores=True,
    )
    expected, expected_scores = reference_attention(
        layer, QUERY, VALUE, padding[:, None, :]
    )
    np.testing.assert_allclose(numpy(output), expected, atol=1e-5)
    np.testing.assert_allclose(numpy(scores), expected_scores, atol=1e-6)
    # Padded keys get exactly zero weight.
    assert np.all(
        numpy(scores)[~np.broadcast_to(padding[:, None, None], (2, 2, 5, 4))] == 0
    )


def test_causal_mask_merges_with_padding_and_hides_the_future():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    padding = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    output, scores = layer(
        QUERY,
        QUERY,
        attention_mask=padding[:, None, :],
        use_causal_mask=True,
        return_attention_scores=True,
    )
    merged = padding[:, None, :] & np.tril(np.ones((5, 5), bool))[None]
    expected, expected_scores = reference_attention(layer, QUERY, QUERY, merged)
    np.testing.assert_allclose(numpy(output), expected, atol=1e-5)
    np.testing.assert_allclose(numpy(scores), expected_scores, atol=1e-6)
    # Changing positions > 2 leaves outputs and scores at <= 2 unchanged.
    changed = QUERY.copy()
    changed[:, 3:] = RNG.standard_normal((2, 2, 8))
    output2, scores2 = layer(
        changed, changed, use_causal_mask=True, return_attention_scores=True
    )
    output1, scores1 = layer(
        QUERY, QUERY, use_causal_mask=True, return_attention_scores=True
    )
    np.testing.assert_array_equal(numpy(output1)[:, :3], numpy(output2)[:, :3])
    np.testing.assert_array_equal(numpy(scores1)[:, :, :3], numpy(scores2)[:, :, :3])


@pytest.mark.parametrize("form", ["stacked", "pair"])
def test_incremental_cache_matches_causal_self_attention(form):
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    full = numpy(layer(QUERY, QUERY, use_causal_mask=True))
    # Head-major layout: (batch, 2, num_heads, length, head_dim) or a pair of
    # (batch, num_heads, length, head_dim).
    cache = ops.zeros((2, 2, 2, 5, 4))
    if form == "pair":
        cache = (cache[:, 0], cache[:, 1])
    steps = []
    for index in range(5):
        step = QUERY[:, index : index + 1]
        output, cache = layer(
            step,
            step,
            use_causal_mask=True,
            cache=cache,
            cache_update_index=ops.array(index),
        )
        steps.append(numpy(output))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    # The cache now holds the projected keys/values of the whole sequence,
    # in the form it was passed in.
    if form == "pair":
        assert isinstance(cache, tuple) and len(cache) == 2
        cache = ops.stack(cache, axis=1)
    np.testing.assert_allclose(
        numpy(cache), numpy(layer.compute_key_value_cache(QUERY)), atol=1e-6
    )
    # Keys of head h at position t are the key projection of QUERY[:, t].
    kernel, bias = (numpy(w) for w in layer.key_dense.weights)
    keys = np.einsum("btd,dhk->bhtk", QUERY, kernel) + bias[None, :, None, :]
    np.testing.assert_allclose(numpy(cache)[:, 0], keys, atol=1e-5)


def test_precomputed_cross_attention_cache():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    expected = numpy(layer(QUERY, VALUE))
    cache = layer.compute_key_value_cache(VALUE)
    assert tuple(cache.shape) == (2, 2, 2, 4, 4)
    output, returned = layer(QUERY, None, cache=cache)
    np.testing.assert_allclose(numpy(output), expected, atol=1e-6)
    assert returned is cache
    pair = (cache[:, 0], cache[:, 1])
    output, returned = layer(QUERY, None, cache=pair)
    np.testing.assert_allclose(numpy(output), expected, atol=1e-6)
    assert isinstance(returned, tuple) and len(returned) == 2
    for got, passed in zip(returned, pair):
        np.testing.assert_array_equal(numpy(got), numpy(passed))


def test_compute_output_shape_and_symbolic_outputs():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, output_dim=3)
    assert layer.compute_output_shape((None, 5, 8), (None, 4, 8)) == (None, 5, 3)
    query, value = keras.Input((5, 8)), keras.Input((4, 8))
    output, scores = layer(query, value, return_attention_scores=True)
    assert tuple(output.shape) == (None, 5, 3)
    assert tuple(scores.shape) == (None, 2, 5, 4)


def test_dropout_only_in_training():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.5)
    inference = [numpy(layer(QUERY, VALUE, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    assert not np.allclose(numpy(layer(QUERY, VALUE, training=True)), inference[0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_heads": 0, "key_dim": 4}, "num_heads=0"),
        ({"num_heads": 2, "key_dim": -1}, "key_dim=-1"),
        ({"num_heads": 2, "key_dim": 4, "dropout": 1.0}, "dropout=1.0"),
        ({"num_heads": 2, "key_dim": 4, "dropout": -0.1}, "dropout=-0.1"),
    ],
)
def test_errors_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(**kwargs)


def test_call_errors():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    with pytest.raises(ValueError, match="cache_update_index=0"):
        layer(QUERY, QUERY, cache_update_index=0)
    with pytest.raises(ValueError, match="rank 3"):
        layer(QUERY, VALUE, attention_mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="a tuple of 3"):
        layer(QUERY, None, cache=(VALUE, VALUE, VALUE))
    with pytest.raises(ValueError, match=r"shape \(2, 4, 8\)"):
        layer(QUERY, None, cache=ops.convert_to_tensor(VALUE))


def test_builds_on_keras_multi_head_attention():
    layer = MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1, seed=3)
    assert isinstance(layer, keras.layers.MultiHeadAttention)
    assert layer.get_config()["seed"] == 3


@pytest.mark.parametrize("seed", [None, 4])
def test_projection_kernels_are_independent(seed):
    """An initializer shared by the projections makes equal kernels."""
    initializer = keras.initializers.GlorotUniform(seed=seed)
    layer = MultiHeadAttention(num_heads=2, key_dim=4, kernel_initializer=initializer)
    layer.build(QUERY.shape, QUERY.shape)
    assert_no_copied_kernels(layer)


def test_keras_masks_of_the_inputs_hide_padded_keys():
    embedding = keras.layers.Embedding(10, 8, mask_zero=True)
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    ids = np.array([[3, 4, 5, 0, 0], [6, 7, 0, 0, 0]])
    longer = np.concatenate([ids, np.zeros((2, 3), int)], axis=1)
    x, x_longer = embedding(ids), embedding(longer)
    short = numpy(layer(x, x))
    long = numpy(layer(x_longer, x_longer))
    real = ids != 0
    np.testing.assert_allclose(long[:, :5][real], short[real], atol=1e-6)
    explicit = numpy(layer(x, x, attention_mask=real[:, None, :]))
    np.testing.assert_allclose(short[real], explicit[real], atol=1e-6)
