"""bench/recurrent_baseline.py: the recurrent NMT baseline of issue 16."""

import pathlib
import sys

import keras
import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.models import Transformer
from keras_transformer_bit.recipes import LabelSmoothedCrossEntropy, translation_recipe
from tests.helpers import run_model_saving_test

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "bench"))

from recurrent_baseline import RecurrentTranslator  # noqa: E402

TINY = dict(vocabulary_size=50, embedding_dim=8, hidden_dim=12)


def _tiny(**overrides):
    keras.utils.set_random_seed(0)
    return RecurrentTranslator(**{**TINY, **overrides})


def test_default_size_matches_the_transformer_recipe_in_parameters():
    vocabulary_size = translation_recipe().vocabulary_size
    recurrent = RecurrentTranslator(vocabulary_size=vocabulary_size)
    transformer = translation_recipe().build_model(vocabulary_size=vocabulary_size)
    # At the recipe's 10,000 subwords (6,000 before: 2,147,712 and 2,157,056).
    assert recurrent.count_params() == 2_659_712
    assert transformer.count_params() == 2_669_056
    assert abs(recurrent.count_params() / transformer.count_params() - 1) < 0.01


def test_embedding_is_shared_and_tied():
    model = _tiny()
    embeddings = [w for w in model.weights if "embeddings" in w.path]
    assert len(embeddings) == 1
    ids = np.array([[2, 5, 6, 3]])
    hidden = np.random.default_rng(0).normal(size=(1, 4, 8)).astype("float32")
    logits = model.embedding(hidden, reverse=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(logits),
        hidden @ ops.convert_to_numpy(embeddings[0]).T,
        rtol=1e-5,
        atol=1e-5,
    )
    assert model({"encoder_inputs": ids, "decoder_inputs": ids}).shape == (1, 4, 50)


def test_appended_padding_does_not_change_the_logits():
    # The backward encoder direction must start at the last real token, and
    # attention must ignore padded source positions.
    model = _tiny()
    source = np.array([[5, 6, 7, 8], [9, 10, 0, 0]])
    target = np.array([[2, 11, 12], [2, 13, 0]])
    logits = model({"encoder_inputs": source, "decoder_inputs": target})
    padded = model(
        {
            "encoder_inputs": np.pad(source, [(0, 0), (0, 3)]),
            "decoder_inputs": np.pad(target, [(0, 0), (0, 2)]),
        }
    )
    logits, padded = ops.convert_to_numpy(logits), ops.convert_to_numpy(padded)
    np.testing.assert_allclose(padded[0, :3], logits[0], atol=1e-5)
    np.testing.assert_allclose(padded[1, :2], logits[1, :2], atol=1e-5)


def test_decoding_steps_match_the_teacher_forced_logits():
    model = _tiny(num_decoder_layers=2)
    source = np.array([[5, 6, 7, 8], [9, 10, 0, 0]])
    target = np.array([[2, 11, 12, 13], [2, 14, 15, 0]])
    expected = ops.convert_to_numpy(
        model({"encoder_inputs": source, "decoder_inputs": target})
    )
    memory, memory_mask, encoder_state = model.encode(source)
    state = model.decoder.initial_state(encoder_state)
    keys = model.decoder.memory_keys(memory)
    for position in range(target.shape[1]):
        attentional, state = model.decoder.step(
            model.embedding(target[:, position]), state, memory, keys, memory_mask
        )
        logits = ops.convert_to_numpy(model.embedding(attentional, reverse=True))
        np.testing.assert_allclose(logits, expected[:, position], atol=1e-5)


def test_greedy_generation_is_the_argmax_of_its_own_teacher_forced_logits():
    model = _tiny()
    source = np.array([[5, 6, 7, 8], [9, 10, 0, 0]])
    generated = ops.convert_to_numpy(model.generate(source, max_length=6))
    assert generated.shape == (2, 6)
    decoder_inputs = np.concatenate([np.full((2, 1), 2), generated[:, :-1]], axis=1)
    logits = ops.convert_to_numpy(
        model({"encoder_inputs": source, "decoder_inputs": decoder_inputs})
    )
    logits[..., 0] = -np.inf  # generation never emits padding
    for row in range(2):
        for position, token in enumerate(generated[row]):
            assert token == logits[row, position].argmax()
            if token == model.end_token_id:
                assert (generated[row, position + 1 :] == 0).all()
                break


def test_beam_search_of_width_one_is_greedy_and_wider_beams_score_no_worse():
    model = _tiny()
    source = np.array([[5, 6, 7, 8], [9, 10, 0, 0]])
    greedy = model.generate(source, max_length=6)
    beam_one = model.generate(
        source, max_length=6, method="beam", beam_size=1, length_penalty=0.0
    )
    np.testing.assert_array_equal(greedy, beam_one)
    _, narrow = model.generate(
        source, max_length=6, method="beam", beam_size=1, return_scores=True
    )
    _, wide = model.generate(
        source, max_length=6, method="beam", beam_size=4, return_scores=True
    )
    assert (ops.convert_to_numpy(wide) >= ops.convert_to_numpy(narrow) - 1e-5).all()


def test_saving_round_trip():
    model = _tiny(num_encoder_layers=1, num_decoder_layers=2)
    ids = np.array([[2, 5, 6, 3], [2, 7, 0, 0]])
    run_model_saving_test(model, {"encoder_inputs": ids, "decoder_inputs": ids})


@pytest.mark.large
def test_a_few_steps_fit_one_batch():
    model = _tiny(embedding_dim=16, hidden_dim=32, dropout=0.0)
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss=LabelSmoothedCrossEntropy(label_smoothing=0.0),
    )
    source = np.array([[5, 6, 7, 8], [9, 10, 11, 0]])
    decoder_inputs = np.array([[2, 8, 7, 6, 5], [2, 11, 10, 9, 0]])
    labels = np.array([[8, 7, 6, 5, 3], [11, 10, 9, 3, 0]])
    inputs = {"encoder_inputs": source, "decoder_inputs": decoder_inputs}
    history = model.fit(inputs, labels, epochs=50, batch_size=2, verbose=0)
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    generated = ops.convert_to_numpy(model.generate(source, max_length=5))
    np.testing.assert_array_equal(generated, labels)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(hidden_dim=13), "hidden_dim must be even"),
        (dict(hidden_dim=0), "hidden_dim"),
        (dict(dropout=1.0), "dropout must be a float in"),
        (dict(num_encoder_layers=0), "num_encoder_layers"),
    ],
)
def test_bad_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        RecurrentTranslator(**{**TINY, **arguments})


def test_transformer_takes_the_same_inputs():
    # The benchmark feeds both models the same batches.
    ids = np.array([[2, 5, 6, 3]])
    transformer = Transformer.from_preset("transformer_tiny", vocabulary_size=50)
    inputs = {"encoder_inputs": ids, "decoder_inputs": ids}
    assert transformer(inputs).shape == _tiny()(inputs).shape
