import keras
import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.models.transformer.generation import generate
from keras_transformer_bit.models.transformer.transformer import Transformer
from keras_transformer_bit.samplers import BeamSampler

VOCABULARY_SIZE = 23


def _model(seed, **overrides):
    keras.utils.set_random_seed(seed)
    config = dict(
        vocabulary_size=VOCABULARY_SIZE,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        dropout=0.0,
        max_sequence_length=32,
        tie_output_embeddings=False,
        end_token_id=5,
    )
    config.update(overrides)
    model = Transformer(**config)
    # Sharper logits than the default initialisation (top probability about
    # 0.3), so decoded sequences vary, end tokens appear and sampling differs.
    kernel = model.get_layer("output_projection").kernel
    kernel.assign(kernel.numpy() * 3.0)
    return model


def _source(seed, batch_size=4, length=7):
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, VOCABULARY_SIZE, size=(batch_size, length)).astype("int32")
    for row in range(1, batch_size):
        ids[row, length - row :] = 0  # rows of different lengths
    return ids


def _full_recompute_greedy(model, source_ids, max_length):
    """Reruns the whole model on the prefix at every step."""
    batch_size = source_ids.shape[0]
    ids = np.full((batch_size, 1), model.start_token_id, "int32")
    finished = np.zeros(batch_size, bool)
    log_probs = np.zeros(batch_size)
    for _ in range(max_length):
        logits = ops.convert_to_numpy(
            model({"encoder_inputs": source_ids, "decoder_inputs": ids})
        )[:, -1].astype("float64")
        logits[:, model.pad_token_id] = -1e9
        tokens = logits.argmax(-1)
        log_softmax = (
            logits
            - np.log(
                np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)
            )
            - logits.max(-1, keepdims=True)
        )
        log_probs += np.where(finished, 0.0, log_softmax[np.arange(batch_size), tokens])
        tokens = np.where(finished, model.pad_token_id, tokens)
        finished |= tokens == model.end_token_id
        ids = np.concatenate([ids, tokens[:, None].astype("int32")], axis=1)
        if finished.all():
            break
    ids = ids[:, 1:]
    padded = np.zeros((batch_size, max_length), "int32")
    padded[:, : ids.shape[1]] = ids
    return padded, log_probs


@pytest.mark.parametrize("seed, max_length", [(0, 1), (1, 9), (2, 20)])
def test_cached_greedy_equals_full_recompute(seed, max_length):
    model = _model(seed)
    source_ids = _source(seed)
    expected_ids, expected_scores = _full_recompute_greedy(
        model, source_ids, max_length
    )
    ids, scores = model.generate(
        source_ids, max_length=max_length, return_scores=True, jit_compile=False
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(ids), expected_ids)
    np.testing.assert_allclose(ops.convert_to_numpy(scores), expected_scores, atol=1e-3)


@pytest.mark.large
def test_xla_and_post_ln_model():
    model = _model(4, norm_first=False, position_encoding="learned")
    source_ids = _source(4)
    expected_ids, _ = _full_recompute_greedy(model, source_ids, 10)
    for jit_compile in (False, True):
        ids = generate(model, source_ids, max_length=10, jit_compile=jit_compile)
        np.testing.assert_array_equal(ops.convert_to_numpy(ids), expected_ids)


def test_cached_beam_equals_full_recompute_beam():
    model = _model(5)
    source_ids = _source(5, batch_size=3)
    beam_size, max_length = 3, 8
    repeated_source = ops.convert_to_tensor(np.repeat(source_ids, beam_size, axis=0))

    def full_next_fn(token_ids, index, state):
        logits = model({"encoder_inputs": repeated_source, "decoder_inputs": token_ids})
        logits = ops.take(logits, index, axis=1)
        return ops.where(ops.arange(VOCABULARY_SIZE) == 0, -1e9, logits), state

    sampler = BeamSampler(beam_size=beam_size, num_return_sequences=2)
    start = np.zeros((3, max_length + 1), "int32")
    start[:, 0] = model.start_token_id
    expected_ids, expected_scores = sampler(
        full_next_fn, start, end_token_id=model.end_token_id
    )
    ids, scores = model.generate(
        source_ids,
        max_length=max_length,
        method="beam",
        beam_size=beam_size,
        num_return_sequences=2,
        return_scores=True,
        jit_compile=False,
    )
    assert ids.shape == (3, 2, max_length)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(ids), ops.convert_to_numpy(expected_ids)[..., 1:]
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(scores), ops.convert_to_numpy(expected_scores), atol=1e-4
    )


@pytest.mark.large
def test_beam_size_one_is_greedy_and_rows_are_independent():
    model = _model(6)
    source_ids = _source(6)
    greedy = ops.convert_to_numpy(
        model.generate(source_ids, max_length=9, jit_compile=False)
    )
    beam = model.generate(
        source_ids, max_length=9, method="beam", beam_size=1, jit_compile=False
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(beam), greedy)
    # One row alone, and with extra source padding, decodes the same.
    alone = model.generate(
        np.pad(source_ids[2:3], ((0, 0), (0, 3))), max_length=9, jit_compile=False
    )
    np.testing.assert_array_equal(ops.convert_to_numpy(alone)[0], greedy[2])


@pytest.mark.large
def test_sampling_is_reproducible():
    model = _model(7)
    source_ids = _source(7)
    kwargs = dict(
        max_length=6, method="top_p", top_p=0.9, temperature=2.0, jit_compile=False
    )
    first = ops.convert_to_numpy(model.generate(source_ids, seed=3, **kwargs))
    second = ops.convert_to_numpy(model.generate(source_ids, seed=3, **kwargs))
    other = ops.convert_to_numpy(model.generate(source_ids, seed=4, **kwargs))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    top_k = model.generate(
        source_ids, max_length=6, method="top_k", top_k=1, seed=1, jit_compile=False
    )
    greedy = model.generate(source_ids, max_length=6, jit_compile=False)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(top_k), ops.convert_to_numpy(greedy)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"max_length": 0},
            "max_length must be a positive int. Received: max_length=0",
        ),
        ({"max_length": 33}, "max_sequence_length=32. Received: max_length=33"),
        ({"method": "sample"}, "Received: method='sample'"),
        ({"method": "beam", "beam_size": 0}, "Received: beam_size=0"),
        ({"method": "top_p", "top_p": 1.5}, "Received: top_p=1.5"),
        ({"method": "top_p", "top_p": 0.0}, "Received: top_p=0.0"),
        ({"method": "top_k", "top_k": 0}, "Received: top_k=0"),
        ({"method": "greedy", "top_k": 3}, "Unknown options for method='greedy'"),
    ],
)
def test_bad_arguments(small_model, kwargs, message):
    kwargs = {"max_length": 8, **kwargs}
    with pytest.raises(ValueError, match=message):
        small_model.generate(_source(0), **kwargs)


@pytest.fixture(scope="module")
def small_model():
    return _model(0)


@pytest.mark.parametrize(
    "source, error, message",
    [
        (_source(0) + VOCABULARY_SIZE, ValueError, r"\[0, 23\).*to 4[0-9]"),
        (_source(0) - 5, ValueError, r"\[0, 23\).*from -5"),
        (_source(0).astype("float32"), ValueError, "integer token ids.*float32"),
        (_source(0)[0], ValueError, r"rank-2.*\(7,\)"),
        ([[5, 6], [7]], ValueError, "rows of one length.*pad"),
    ],
)
@pytest.mark.parametrize("jit_compile", [False, True])
def test_bad_source_ids_are_named(small_model, source, error, message, jit_compile):
    with pytest.raises(error, match=f"source_ids.*{message}"):
        small_model.generate(source, max_length=4, jit_compile=jit_compile)


@pytest.mark.tensorflow_only
def test_source_ids_inside_a_tf_function(small_model):
    import tensorflow as tf

    # Symbolic ids have no values to check: the range check is skipped, the
    # result equals the eager call.
    traced = tf.function(lambda ids: small_model.generate(ids, max_length=4))
    np.testing.assert_array_equal(
        traced(tf.constant(_source(0))), small_model.generate(_source(0), max_length=4)
    )
    with pytest.raises(ValueError, match="source_ids must hold integer"):
        tf.function(lambda ids: small_model.generate(ids, max_length=4))(
            tf.constant(_source(0), tf.float32)
        )


def test_learned_positions_refuse_too_long_sources():
    model = _model(0, position_encoding="learned", max_sequence_length=8)
    assert model.generate(_source(0, length=8), max_length=4).shape == (4, 4)
    with pytest.raises(ValueError, match=r"max_sequence_length=8.*length 9"):
        model.generate(_source(0, length=9), max_length=4)
