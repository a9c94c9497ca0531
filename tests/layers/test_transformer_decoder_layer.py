import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.layers import TransformerDecoderLayer
from tests.helpers import assert_no_copied_kernels, run_layer_test

RNG = np.random.default_rng(0)
DECODER = RNG.standard_normal((2, 5, 8)).astype("float32")
ENCODER = RNG.standard_normal((2, 4, 8)).astype("float32")
ENCODER_PADDING = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)
ARGS = {"hidden_dim": 8, "intermediate_dim": 16, "num_heads": 2}


def numpy(x):
    return ops.convert_to_numpy(x)


@pytest.mark.parametrize("norm_first", [True, False])
def test_layer_contract(norm_first):
    run_layer_test(
        TransformerDecoderLayer,
        {**ARGS, "dropout": 0.1, "norm_first": norm_first},
        {
            "decoder_sequence": DECODER,
            "encoder_sequence": ENCODER,
            "encoder_padding_mask": ENCODER_PADDING,
        },
        expected_output_shape=(2, 5, 8),
        expected_num_trainable_weights=26,
    )


@pytest.mark.parametrize("training", [False, True])
def test_no_future_leak_with_scores(training):
    import keras

    changed = DECODER.copy()
    changed[:, 3:] = RNG.standard_normal((2, 2, 8))
    results = []
    for decoder in (DECODER, changed):
        # The same seed gives the same weights and the same dropout masks.
        keras.utils.set_random_seed(1)
        layer = TransformerDecoderLayer(**ARGS, dropout=0.3, attention_dropout=0.3)
        results.append(
            layer(
                decoder,
                ENCODER,
                encoder_padding_mask=ENCODER_PADDING,
                return_attention_scores=True,
                training=training,
            )
        )
    (out1, self1, cross1), (out2, self2, cross2) = results
    np.testing.assert_allclose(numpy(out1)[:, :3], numpy(out2)[:, :3], atol=1e-6)
    np.testing.assert_allclose(
        numpy(self1)[:, :, :3], numpy(self2)[:, :, :3], atol=1e-6
    )
    np.testing.assert_allclose(
        numpy(cross1)[:, :, :3], numpy(cross2)[:, :, :3], atol=1e-6
    )
    assert not np.allclose(numpy(out1)[:, 3:], numpy(out2)[:, 3:])
    np.testing.assert_array_equal(numpy(self1)[:, :, 0, 1:], 0)
    np.testing.assert_array_equal(numpy(cross1)[1, :, :, 2:], 0)


def test_incremental_decoding_matches_full_call():
    layer = TransformerDecoderLayer(**ARGS)
    full = numpy(layer(DECODER, ENCODER, encoder_padding_mask=ENCODER_PADDING))
    # Head-major stacked caches: (batch, 2, num_heads, length, head_dim).
    self_cache = ops.zeros((2, 2, 2, 5, 4))
    cross_cache = None
    steps = []
    for index in range(5):
        output, self_cache, cross_cache = layer(
            DECODER[:, index : index + 1],
            ENCODER,
            encoder_padding_mask=ENCODER_PADDING,
            self_attention_cache=self_cache,
            self_attention_cache_update_index=index,
            cross_attention_cache=cross_cache,
        )
        steps.append(numpy(output))
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
    assert tuple(cross_cache.shape) == (2, 2, 2, 4, 4)


def test_needs_encoder_sequence_or_cache():
    layer = TransformerDecoderLayer(**ARGS)
    with pytest.raises(ValueError, match="encoder_sequence=None"):
        layer(DECODER)


def test_errors_name_the_value():
    with pytest.raises(ValueError, match="hidden_dim=8, num_heads=5"):
        TransformerDecoderLayer(**{**ARGS, "num_heads": 5})
    with pytest.raises(ValueError, match="attention_dropout=1.5"):
        TransformerDecoderLayer(**ARGS, attention_dropout=1.5)


def test_is_its_own_layer_not_an_encoder_layer():
    from keras_transformer_bit.layers import TransformerEncoderLayer

    assert not issubclass(TransformerDecoderLayer, TransformerEncoderLayer)


def test_fresh_kernels_are_not_copies_of_each_other():
    layer = TransformerDecoderLayer(hidden_dim=16, intermediate_dim=16, num_heads=2)
    layer.build((None, None, 16), (None, None, 16))
    assert sum(w.path.endswith("kernel") for w in layer.weights) == 10
    assert_no_copied_kernels(layer)


def test_keras_implicit_masks_of_both_sequences():
    import keras

    source_embedding = keras.layers.Embedding(20, 8, mask_zero=True)
    target_embedding = keras.layers.Embedding(20, 8, mask_zero=True)
    layer = TransformerDecoderLayer(**ARGS)
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]])
    target = np.array([[2, 8, 9], [2, 5, 0]])
    short = numpy(layer(target_embedding(target), source_embedding(source)))
    long = numpy(
        layer(
            target_embedding(np.pad(target, ((0, 0), (0, 2)))),
            source_embedding(np.pad(source, ((0, 0), (0, 3)))),
        )
    )
    real = target != 0
    np.testing.assert_allclose(long[:, :3][real], short[real], atol=1e-5)
    explicit = numpy(
        layer(
            target_embedding(target),
            source_embedding(source),
            decoder_padding_mask=real,
            encoder_padding_mask=source != 0,
        )
    )
    np.testing.assert_allclose(short[real], explicit[real], atol=1e-6)


def test_stacked_decoder_layers_keep_the_encoder_mask():
    """Two decoder layers read one encoder output: the first must not strip
    its Keras mask (a user trial saw differences up to 1.39 at real tokens)."""
    import keras

    source_embedding = keras.layers.Embedding(20, 8, mask_zero=True)
    target_embedding = keras.layers.Embedding(20, 8)
    first, second = TransformerDecoderLayer(**ARGS), TransformerDecoderLayer(**ARGS)
    source = np.array([[3, 4, 5, 0], [6, 7, 0, 0]])
    target = target_embedding(np.array([[2, 8, 9], [2, 5, 4]]))

    def decode(source_ids):
        encoded = source_embedding(source_ids)
        return numpy(second(first(target, encoded), encoded))

    np.testing.assert_allclose(
        decode(np.pad(source, ((0, 0), (0, 3)))), decode(source), atol=1e-5
    )
