import keras
import numpy as np
import pytest
from keras import ops

import keras_transformer_bit as ktb
from keras_transformer_bit.models import Transformer
from keras_transformer_bit.models.transformer.transformer_presets import (
    transformer_presets,
)
from keras_transformer_bit.recipes import (
    LabelSmoothedCrossEntropy,
    MaskedTokenAccuracy,
    NoamSchedule,
)
from tests.helpers import run_model_saving_test

VOCABULARY_SIZE = 20
SMALL = dict(
    vocabulary_size=VOCABULARY_SIZE,
    num_layers=2,
    num_heads=2,
    hidden_dim=8,
    intermediate_dim=16,
    dropout=0.0,
    max_sequence_length=16,
)
RNG = np.random.default_rng(0)
SOURCE = RNG.integers(4, VOCABULARY_SIZE, (2, 6)).astype("int32")
TARGET = RNG.integers(4, VOCABULARY_SIZE, (2, 5)).astype("int32")
SOURCE[1, 4:] = 0  # the second source sentence is padded
INPUTS = {"encoder_inputs": SOURCE, "decoder_inputs": TARGET}


def numpy(x):
    return ops.convert_to_numpy(x)


def small_model(**overrides):
    return Transformer(**{**SMALL, **overrides})


def test_forward_shape_and_float32_logits():
    model = small_model()
    logits = model(INPUTS)
    assert tuple(logits.shape) == (2, 5, VOCABULARY_SIZE)
    assert logits.dtype == "float32"
    mixed = small_model(dtype="mixed_bfloat16")
    assert mixed(INPUTS).dtype == "float32"
    assert mixed.target_embedding.compute_dtype == "bfloat16"


@pytest.mark.parametrize("position_encoding", ["sine", "learned"])
def test_decode_step_matches_full_forward(position_encoding):
    model = small_model(position_encoding=position_encoding, norm_first=False)
    full = numpy(model(INPUTS))
    encoder_outputs, encoder_padding_mask = model.encode(SOURCE)
    self_cache, cross_cache = model.build_decoder_cache(encoder_outputs, 5)
    # (batch, num_layers, 2, num_heads, length, head_dim), head-major.
    assert tuple(self_cache.shape) == (2, 2, 2, 2, 5, 4)
    assert tuple(cross_cache.shape) == (2, 2, 2, 2, 6, 4)
    self_pairs, cross_pairs = model.build_decoder_cache(
        encoder_outputs, 5, per_layer=True
    )
    assert len(self_pairs) == len(cross_pairs) == 2
    for i, (keys, values) in enumerate(cross_pairs):
        np.testing.assert_array_equal(numpy(keys), numpy(cross_cache[:, i, 0]))
        np.testing.assert_array_equal(numpy(values), numpy(cross_cache[:, i, 1]))
    assert tuple(self_pairs[0][0].shape) == (2, 2, 5, 4)
    steps, pair_steps = [], []
    for index in range(5):
        logits, self_cache = model.decode_step(
            TARGET[:, index : index + 1],
            ops.array(index),
            encoder_padding_mask,
            self_cache,
            cross_cache,
        )
        assert tuple(logits.shape) == (2, VOCABULARY_SIZE)
        steps.append(numpy(logits))
        logits, self_pairs = model.decode_step(
            TARGET[:, index : index + 1],
            ops.array(index),
            encoder_padding_mask,
            self_pairs,
            cross_pairs,
        )
        pair_steps.append(numpy(logits))
    np.testing.assert_allclose(np.stack(steps, axis=1), full, atol=1e-5)
    np.testing.assert_allclose(np.stack(pair_steps, axis=1), full, atol=1e-5)
    # Both forms hold the same keys/values after the last step.
    for i, (keys, values) in enumerate(self_pairs):
        np.testing.assert_array_equal(numpy(keys), numpy(self_cache[:, i, 0]))
        np.testing.assert_array_equal(numpy(values), numpy(self_cache[:, i, 1]))


def _future_changed(t):
    changed = TARGET.copy()
    changed[:, t + 1 :] = (changed[:, t + 1 :] + 7) % (VOCABULARY_SIZE - 4) + 4
    return {"encoder_inputs": SOURCE, "decoder_inputs": changed}


@pytest.mark.parametrize("training", [False, True])
def test_no_future_leak(training):
    t = 2
    outputs = []
    for inputs in (INPUTS, _future_changed(t)):
        keras.utils.set_random_seed(3)  # same weights and dropout masks
        model = small_model(dropout=0.3, attention_dropout=0.2)
        outputs.append(numpy(model(inputs, training=training)))
    np.testing.assert_allclose(
        outputs[0][:, : t + 1], outputs[1][:, : t + 1], atol=1e-6
    )
    assert not np.allclose(outputs[0][:, t + 1 :], outputs[1][:, t + 1 :])
    if training:  # dropout was active: the same model in inference differs
        assert not np.allclose(outputs[1], numpy(model(_future_changed(t))))


@pytest.mark.parametrize("training", [False, True])
def test_no_future_leak_with_attention_scores(training):
    t = 1
    results = []
    for inputs in (INPUTS, _future_changed(t)):
        keras.utils.set_random_seed(4)
        model = small_model(dropout=0.3)
        results.append(model.call_with_attention_scores(inputs, training=training))
    (logits1, scores1), (logits2, scores2) = results
    np.testing.assert_allclose(
        numpy(logits1)[:, : t + 1], numpy(logits2)[:, : t + 1], atol=1e-6
    )
    if not training:
        np.testing.assert_allclose(numpy(logits1), numpy(model(INPUTS)), atol=1e-5)
    for name in ("decoder_self_attention", "cross_attention"):
        assert len(scores1[name]) == 2
        for a, b in zip(scores1[name], scores2[name]):
            np.testing.assert_allclose(
                numpy(a)[:, :, : t + 1], numpy(b)[:, :, : t + 1], atol=1e-6
            )
    for scores in scores1["decoder_self_attention"]:
        np.testing.assert_array_equal(np.triu(numpy(scores)[0, 0], k=1), 0)
    for scores in scores1["cross_attention"] + scores1["encoder_self_attention"]:
        np.testing.assert_array_equal(numpy(scores)[1, :, :, 4:], 0)


def test_padding_invariance():
    model = small_model()
    reference = numpy(model(INPUTS))
    padded_source = np.pad(SOURCE, ((0, 0), (0, 3)))
    padded_target = np.pad(TARGET, ((0, 0), (0, 4)))
    for inputs in (
        {"encoder_inputs": padded_source, "decoder_inputs": TARGET},
        {"encoder_inputs": SOURCE, "decoder_inputs": padded_target},
        {"encoder_inputs": padded_source, "decoder_inputs": padded_target},
    ):
        logits = numpy(model(inputs))
        np.testing.assert_allclose(logits[:, :5], reference, atol=1e-5)
    # Dropping the padding columns of the second source altogether agrees too.
    trimmed = numpy(
        model({"encoder_inputs": SOURCE[1:, :4], "decoder_inputs": TARGET[1:]})
    )
    np.testing.assert_allclose(trimmed, reference[1:], atol=1e-5)


def test_saving_and_config_round_trip():
    model = small_model(
        source_vocabulary_size=30,
        tie_output_embeddings=False,
        position_encoding="learned",
        norm_first=False,
    )
    config = model.get_config()
    assert Transformer.from_config(config).get_config() == config
    # The recipes travel with the compiled model.
    model.compile(
        optimizer=keras.optimizers.Adam(NoamSchedule(8, warmup_steps=5)),
        loss=LabelSmoothedCrossEntropy(label_smoothing=0.2),
        metrics=[MaskedTokenAccuracy()],
    )
    reloaded = run_model_saving_test(model, INPUTS)
    assert reloaded.loss.get_config() == model.loss.get_config()
    schedule = reloaded.optimizer.learning_rate
    assert float(schedule) == float(model.optimizer.learning_rate)


def test_learned_positions_bound_the_cache():
    model = small_model(position_encoding="learned")
    encoder_outputs, _ = model.encode(SOURCE)
    with pytest.raises(ValueError, match="max_length=17"):
        model.build_decoder_cache(encoder_outputs, 17)


def test_saving_shared_and_tied():
    # The helper asserts equal outputs, configs and weights after the reload.
    reloaded = run_model_saving_test(small_model(share_embeddings=True), INPUTS)
    assert reloaded.source_embedding is reloaded.target_embedding
    assert reloaded.output_projection is None


def test_embedding_sharing_and_tying_change_the_parameter_count():
    d, v = SMALL["hidden_dim"], VOCABULARY_SIZE
    shared = small_model(share_embeddings=True)
    assert shared.source_embedding is shared.target_embedding
    assert shared.output_projection is None
    separate = small_model(source_vocabulary_size=30)
    assert separate.count_params() == shared.count_params() + 30 * d
    untied = small_model(share_embeddings=True, tie_output_embeddings=False)
    assert untied.count_params() == shared.count_params() + v * d + v
    # The tied projection is the transposed target embedding.
    hidden = np.random.rand(1, 3, d).astype("float32")
    table = numpy(shared.target_embedding.embeddings)
    np.testing.assert_allclose(
        numpy(shared._project(hidden)),
        numpy(shared.decoder_final_norm(hidden)) @ table.T,
        atol=1e-5,
    )


def test_tiny_preset_parameter_count():
    for name in ("transformer_tiny", "transformer_small"):
        model = Transformer.from_preset(name)
        assert model.count_params() == transformer_presets[name]["parameter_count"]
    model = Transformer.from_preset("transformer_tiny", vocabulary_size=50, dropout=0.2)
    assert model.vocabulary_size == 50 and model.dropout == 0.2


def _check_paper_count(name, paper_count):
    model = Transformer.from_preset(name, vocabulary_size=37000)
    count = model.count_params()
    assert count == transformer_presets[name]["parameter_count"]
    assert abs(count - paper_count) / paper_count < 0.04, count


def test_base_preset_matches_paper_parameter_count():
    _check_paper_count("transformer_base", 65e6)


@pytest.mark.large
def test_big_preset_matches_paper_parameter_count():
    _check_paper_count("transformer_big", 213e6)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"num_heads": 3}, "hidden_dim=8, num_heads=3"),
        ({"dropout": -0.1}, "dropout=-0.1"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"attention_dropout": 1}, "attention_dropout=1"),
        ({"num_layers": 0}, "num_layers=0"),
        ({"share_embeddings": True, "source_vocabulary_size": 30}, "=30"),
        ({"end_token_id": 20}, "end_token_id=20"),
    ],
)
def test_constructor_errors_name_the_value(overrides, message):
    with pytest.raises(ValueError, match=message):
        small_model(**overrides)


def test_unknown_preset_lists_known_names():
    with pytest.raises(ValueError, match="transformer_huge.*transformer_base"):
        Transformer.from_preset("transformer_huge")


@pytest.fixture(scope="module")
def validating_model():
    return small_model(source_vocabulary_size=30)


@pytest.mark.parametrize(
    "inputs, message",
    [
        ({"encoder_inputs": SOURCE}, r"missing keys \['decoder_inputs'\]"),
        ((SOURCE, TARGET), "dict with keys"),
        (
            {"encoder_inputs": SOURCE[0], "decoder_inputs": TARGET},
            r"encoder_inputs must be a rank-2.*\(6,\)",
        ),
        (
            {"encoder_inputs": SOURCE, "decoder_inputs": TARGET.astype("float32")},
            "decoder_inputs must hold integer.*float32",
        ),
        (
            {"encoder_inputs": SOURCE, "decoder_inputs": TARGET + 10},
            r"decoder_inputs ids must be in \[0, 20\).*to 29",
        ),
        (
            {"encoder_inputs": SOURCE - 5, "decoder_inputs": TARGET},
            r"encoder_inputs ids must be in \[0, 30\).*from -5",
        ),
    ],
)
def test_input_errors_name_the_value(validating_model, inputs, message):
    with pytest.raises(ValueError, match=message):
        validating_model(inputs)


def test_source_ids_may_exceed_target_vocabulary_when_not_shared(validating_model):
    logits = validating_model({"encoder_inputs": SOURCE + 10, "decoder_inputs": TARGET})
    assert tuple(logits.shape) == (2, 5, VOCABULARY_SIZE)


def _reversal_data(rng, count, max_length=6, num_symbols=10):
    """Sources of 3..max_length symbols; targets are them reversed.

    Ids follow our tokenizers: 0 padding, 2 start, 3 end, symbols from 4.
    """
    source = np.zeros((count, max_length), "int32")
    decoder_inputs = np.zeros((count, max_length + 1), "int32")
    labels = np.zeros((count, max_length + 1), "int32")
    for row, length in enumerate(rng.integers(3, max_length + 1, count)):
        symbols = rng.integers(4, 4 + num_symbols, length)
        source[row, :length] = symbols
        decoder_inputs[row, 0] = 2
        decoder_inputs[row, 1 : length + 1] = symbols[::-1]
        labels[row, :length] = symbols[::-1]
        labels[row, length] = 3
    return {"encoder_inputs": source, "decoder_inputs": decoder_inputs}, labels


@pytest.mark.large
def test_tiny_transformer_learns_to_reverse_sequences():
    keras.utils.set_random_seed(0)
    model = Transformer(
        vocabulary_size=14,
        num_layers=2,
        num_heads=4,
        hidden_dim=32,
        intermediate_dim=64,
        dropout=0.0,
        share_embeddings=True,
        max_sequence_length=16,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(
            NoamSchedule(32, warmup_steps=20, scale=0.5), beta_2=0.98, epsilon=1e-9
        ),
        loss=LabelSmoothedCrossEntropy(0.1),
        metrics=[MaskedTokenAccuracy()],
    )
    inputs, labels = _reversal_data(np.random.default_rng(0), 200 * 64)
    model.fit(inputs, labels, batch_size=64, epochs=1, verbose=0)

    test_inputs, test_labels = _reversal_data(np.random.default_rng(1), 256)
    accuracy = MaskedTokenAccuracy()
    accuracy.update_state(test_labels, model.predict(test_inputs, verbose=0))
    assert float(accuracy.result()) >= 0.95

    # Greedy decoding with the cached decode_step reverses unseen sequences.
    encoder_outputs, encoder_padding_mask = model.encode(test_inputs["encoder_inputs"])
    self_cache, cross_cache = model.build_decoder_cache(encoder_outputs, 7)
    token = np.full((256, 1), 2, "int32")
    predicted = []
    for index in range(7):
        logits, self_cache = model.decode_step(
            token, index, encoder_padding_mask, self_cache, cross_cache
        )
        token = np.argmax(numpy(logits), axis=-1).astype("int32")[:, None]
        predicted.append(token[:, 0])
    predicted = np.stack(predicted, axis=1)
    real = test_labels != 0
    greedy_accuracy = (predicted == test_labels)[real].mean()
    assert greedy_accuracy >= 0.9, greedy_accuracy


@pytest.mark.tensorflow_only
@pytest.mark.large
def test_fit_under_mirrored_strategy():
    # Keras builds the model from a float MEAN of the first batch under a strategy;
    # the integer-ids check must not reject that symbolic build.
    strategy = ktb.distribute.get_strategy("mirrored")
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 50, size=(8, 6)).astype("int32")
    with strategy.scope():
        model = Transformer.from_preset(
            "transformer_tiny",
            vocabulary_size=50,
            num_layers=1,
            hidden_dim=16,
            intermediate_dim=32,
            num_heads=2,
        )
        model.compile(optimizer="adam", loss=LabelSmoothedCrossEntropy())
    history = model.fit(
        {"encoder_inputs": ids, "decoder_inputs": ids},
        ids,
        batch_size=4,
        epochs=1,
        verbose=0,
    )
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="integer token ids"):
        model({"encoder_inputs": ids.astype("float32"), "decoder_inputs": ids})


def test_unknown_constructor_arguments_are_named():
    with pytest.raises(ValueError, match=r"\['num_layer', 'vocab_size'\]") as error:
        Transformer.from_preset("transformer_tiny", vocab_size=8000, num_layer=1)
    assert "vocabulary_size" in str(error.value) and "num_layers" in str(error.value)
    with pytest.raises(ValueError, match=r"Unknown.*\['misspelled'\].*hidden_dim"):
        small_model(misspelled=3)
    # Keras' own keyword arguments still pass.
    assert small_model(name="mine", trainable=False).name == "mine"
