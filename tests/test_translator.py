import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from tests.tiny_translation import (
    MBR_TEXTS,
    tiny_mbr_translator,
    tiny_model,
    tiny_tokenizer,
)

TEXTS = ["Ich bin seit fünf Tagen hier.", "Du bist dort!", "wir sind hier ?"]


@pytest.fixture(scope="module")
def parts():
    return tiny_model(), tiny_tokenizer()


def test_strings_in_strings_out_match_generate(parts):
    model, tokenizer = parts
    translator = ktb.Translator(
        model, tokenizer, tokenizer, beam_size=3, length_penalty=0.6, max_length=12
    )
    translations, scores = translator.translate(TEXTS)
    assert len(translations) == 3 and all(isinstance(t, str) for t in translations)
    # The same pipeline by hand: tokenize, generate, detokenize.
    source_ids = tokenizer.tokenize(tf.constant(TEXTS)).to_tensor()
    ids, expected_scores = model.generate(
        source_ids,
        max_length=12,
        method="beam",
        beam_size=3,
        length_penalty=0.6,
        max_repeat_run=2,  # the Translator's default stutter guard
        return_scores=True,
        jit_compile=False,
    )
    expected = [t.decode() for t in tokenizer.detokenize(ids).numpy()]
    assert translations == expected
    np.testing.assert_allclose(scores, expected_scores.numpy(), rtol=1e-5)
    assert translator(TEXTS[1]) == translations[1]
    assert translator([]) == []


def test_empty_and_long_inputs(parts):
    model, tokenizer = parts
    translator = ktb.Translator(
        model, tokenizer, tokenizer, method="greedy", max_source_length=4, batch_size=2
    )
    long_text = "ich bin seit fünf tagen hier du bist dort"
    translations, scores = translator.translate(["", TEXTS[1], "   ", long_text])
    assert translations[0] == translations[2] == ""
    assert scores[0] == scores[2] == 0.0
    assert translations[1] == translator(TEXTS[1])
    # Inputs longer than max_source_length are cut to their first tokens.
    assert translations[3] == translator("ich bin seit fünf")
    assert translator(["", ""]) == ["", ""]


def test_lists_are_batched_by_length_and_returned_in_order(parts):
    model, tokenizer = parts
    texts = [
        "ich bin seit fünf tagen hier du bist dort",
        "du",
        "",
        "wir sind hier ?",
        "ich bin hier",
        "du bist seit fünf tagen dort !",
        "wir",
    ]
    translator = ktb.Translator(
        model, tokenizer, tokenizer, method="beam", beam_size=2, batch_size=2
    )
    batches = []
    traced = translator._translate_function

    def recording(chunk):
        batches.append([t.decode() for t in chunk.numpy()])
        return traced(chunk)

    translator._translate_function = recording
    translations, scores = translator.translate(texts)
    # Each batch holds sentences of neighbouring lengths: the batches, in
    # order, are the inputs sorted by token count.
    lengths = {
        t: int(tokenizer.tokenize(tf.constant([t])).row_lengths()[0]) for t in texts
    }
    flat = [text for batch in batches for text in batch]
    assert sorted(flat) == sorted(texts) and len(batches) == 4
    assert [lengths[t] for t in flat] == sorted(lengths[t] for t in texts)
    # ... and the results come back in the input order, as one by one.
    translator._translate_function = traced
    for text, translation, score in zip(texts, translations, scores):
        alone, alone_score = translator.translate(text)
        assert translation == alone
        assert score == pytest.approx(alone_score, abs=1e-5)


class _NoTransformer:
    """Not a Transformer: `generate_ids` and the token ids are all it has."""

    def __init__(self, model):
        self.inner = model
        self.vocabulary_size = model.vocabulary_size
        self.pad_token_id = model.pad_token_id
        self.start_token_id = model.start_token_id
        self.end_token_id = model.end_token_id

    def generate_ids(self, source_ids, sampler, max_length):
        return self.inner.generate_ids(source_ids, sampler, max_length)


def test_any_model_with_generate_ids_is_translated(parts):
    model, tokenizer = parts
    options = dict(
        method="greedy", max_length=8, max_source_length=model.max_sequence_length
    )
    other = ktb.Translator(_NoTransformer(model), tokenizer, tokenizer, **options)
    assert other(TEXTS) == ktb.Translator(model, tokenizer, tokenizer, **options)(TEXTS)
    unbounded = ktb.Translator(_NoTransformer(model), tokenizer, tokenizer)
    assert unbounded.max_length == 128 and unbounded.max_source_length is None


@pytest.mark.parametrize("bad", [3, [b"bytes"], ["ok", None], np.array(["x"])])
def test_non_string_input(parts, bad):
    model, tokenizer = parts
    translator = ktb.Translator(model, tokenizer, tokenizer, method="greedy")
    with pytest.raises(
        TypeError, match="Translator takes a string or a list of strings"
    ):
        translator(bad)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "sample"}, "Received: method='sample'"),
        ({"beam_size": 0}, "Received: beam_size=0"),
        ({"max_length": 0}, "Received: max_length=0"),
        ({"max_source_length": -1}, "Received: max_source_length=-1"),
        ({"num_return_sequences": 2}, "num_return_sequences must be 1"),
        ({"method": "top_p", "top_p": 2.0}, "Received: top_p=2.0"),
    ],
)
def test_bad_arguments(parts, kwargs, message):
    model, tokenizer = parts
    with pytest.raises(ValueError, match=message):
        ktb.Translator(model, tokenizer, tokenizer, **kwargs)


def test_tokenizer_larger_than_the_model_is_refused(parts):
    model, tokenizer = parts
    larger = ktb.data.SubwordTokenizer(
        tokenizer.vocabulary + ["extra", "words"], lower_case=True
    )
    size = tokenizer.vocabulary_size
    with pytest.raises(ValueError, match=f"source_tokenizer.*{size + 2}.*{size}"):
        ktb.Translator(model, larger, tokenizer)
    with pytest.raises(ValueError, match=f"target_tokenizer.*{size + 2}.*{size}"):
        ktb.Translator(model, tokenizer, larger)


def test_learned_positions_truncate_long_inputs():
    tokenizer = tiny_tokenizer()
    model = tiny_model(position_encoding="learned", max_sequence_length=6)
    translator = ktb.Translator(model, tokenizer, tokenizer, method="greedy")
    assert translator.max_source_length == 6
    words = "ich bin seit fünf tagen hier du bist dort".split()
    exactly, longer = " ".join(words[:6]), " ".join(words)
    assert translator([exactly, longer, ""]) == [translator(exactly)] * 2 + [""]
    with pytest.raises(ValueError, match="max_source_length=7"):
        ktb.Translator(model, tokenizer, tokenizer, max_source_length=7)


def test_translate_tensor_keeps_any_shape(parts):
    model, tokenizer = parts
    translator = ktb.Translator(model, tokenizer, tokenizer, method="greedy")
    expected = translator(TEXTS + [""])
    grid = tf.constant([TEXTS[:2], [TEXTS[2], ""]])
    translation, scores = translator.translate_tensor(grid)
    assert translation.shape == scores.shape == (2, 2)
    assert [t.decode() for t in translation.numpy().ravel()] == expected
    translation, scores = translator.translate_tensor(tf.constant(TEXTS[0]))
    assert translation.shape == scores.shape == ()
    assert translation.numpy().decode() == expected[0]
    for empty in (tf.constant([], tf.string), tf.zeros((0, 3), tf.string)):
        translation, scores = translator.translate_tensor(empty)
        assert translation.shape == scores.shape == empty.shape


def test_translate_with_attention_returns_the_cross_attention(parts):
    import numpy as np

    from keras_transformer_bit.translator import Translator

    model, tokenizer = parts
    source_tokenizer = target_tokenizer = tokenizer
    translator = Translator(model, tokenizer, tokenizer, method="greedy")
    result = translator.translate_with_attention("ich bin seit fünf tagen hier")
    assert result["translation"] == translator("ich bin seit fünf tagen hier")
    assert result["source_tokens"] == ["ich", "bin", "seit", "fünf", "tagen", "hier"]
    attention = result["attention"]
    assert attention.shape == (2, len(result["target_tokens"]), 6)
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    # Row i is the step that produced target token i: the model's own
    # attention on [START] + the first i generated tokens.
    ids = [target_tokenizer.token_to_id(t) for t in result["target_tokens"]]
    _, scores = model.call_with_attention_scores(
        {
            "encoder_inputs": np.array(
                [[source_tokenizer.token_to_id(t) for t in result["source_tokens"]]]
            ),
            "decoder_inputs": np.array([[model.start_token_id] + ids[:-1]]),
        }
    )
    np.testing.assert_allclose(
        attention, np.asarray(scores["cross_attention"][-1])[0], atol=1e-5
    )
    with pytest.raises(ValueError, match="layer=5"):
        translator.translate_with_attention("ich bin hier", layer=5)
    with pytest.raises(TypeError, match="one string"):
        translator.translate_with_attention(["ich"])
    with pytest.raises(ValueError, match="no tokens"):
        translator.translate_with_attention("")


def _two_vocabularies():
    """A source tokenizer and a larger target one, as a run per language has."""
    source = tiny_tokenizer()
    target = ktb.data.SubwordTokenizer(
        source.vocabulary + ["only", "english", "words"], lower_case=True
    )
    return source, target


def _two_vocabulary_model(source, target, **overrides):
    return tiny_model(
        vocabulary_size=target.vocabulary_size,
        source_vocabulary_size=source.vocabulary_size,
        share_embeddings=False,
        **overrides,
    )


def test_one_tokenizer_for_both_sides_of_a_two_vocabulary_model_is_refused():
    # A model with a vocabulary per language: passing the source tokenizer
    # as the target one would decode target ids with the source vocabulary.
    source, target = _two_vocabularies()
    source_size, target_size = source.vocabulary_size, target.vocabulary_size
    model = _two_vocabulary_model(source, target)
    assert ktb.Translator(model, source, target, method="greedy")(TEXTS[:1])
    with pytest.raises(
        ValueError,
        match=f"target_tokenizer has {source_size} tokens, the size of the "
        f"model's source vocabulary; its target vocabulary has {target_size}",
    ):
        ktb.Translator(model, source, source)
    # The larger target tokenizer as the source one is named as the wrong
    # side, not only as too large; the two swapped are named as swapped.
    wrong_source = (
        f"source_tokenizer has {target_size} tokens, the size of the "
        f"model's target vocabulary; its source vocabulary has {source_size}"
    )
    with pytest.raises(ValueError, match=wrong_source):
        ktb.Translator(model, target, target)
    with pytest.raises(
        ValueError, match="source_tokenizer and target_tokenizer are swapped"
    ):
        ktb.Translator(model, target, source)


def test_a_tokenizer_from_another_build_is_refused(tmp_path):
    # A tokenizer no larger than the model's vocabulary fits its embedding,
    # so sizes alone let one from another build through and the model reads
    # its ids as other words. A model built for tokenizers records their
    # fingerprints and refuses any other.
    source, target = _two_vocabularies()
    other = ktb.data.SubwordTokenizer(
        source.vocabulary[:-2] + ["andere", "worte"], lower_case=True
    )
    assert other.vocabulary_size == source.vocabulary_size
    assert other.fingerprint != source.fingerprint
    assert source.fingerprint == tiny_tokenizer().fingerprint
    fingerprints = {"source": source.fingerprint, "target": target.fingerprint}
    model = _two_vocabulary_model(source, target, vocabulary_fingerprints=fingerprints)
    assert ktb.Translator(model, source, target, method="greedy")(TEXTS[:1])
    with pytest.raises(
        ValueError,
        match=f"source_tokenizer is not the one this model was trained with: "
        f"its fingerprint is {other.fingerprint}, the model's source "
        f"tokenizer's is {source.fingerprint}",
    ):
        ktb.Translator(model, other, target)
    smaller = ktb.data.SubwordTokenizer(source.vocabulary[:-3], lower_case=True)
    with pytest.raises(ValueError, match="target_tokenizer is not the one"):
        ktb.Translator(model, source, smaller)
    # The same vocabulary with other text settings gives other ids: refused.
    cased = ktb.data.SubwordTokenizer(source.vocabulary, lower_case=False)
    assert cased.fingerprint != source.fingerprint
    with pytest.raises(ValueError, match="source_tokenizer is not the one"):
        ktb.Translator(model, cased, target)
    # Larger and from another build: named as such, not only as too large.
    larger = ktb.data.SubwordTokenizer(
        target.vocabulary + ["noch", "mehr"], lower_case=True
    )
    with pytest.raises(ValueError, match="target_tokenizer is not the one"):
        ktb.Translator(model, source, larger)
    # The fingerprints survive saving; a model without them checks sizes only.
    model.save(tmp_path / "model.keras")
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert reloaded.vocabulary_fingerprints == fingerprints
    with pytest.raises(ValueError, match="source_tokenizer is not the one"):
        ktb.Translator(reloaded, other, target)
    plain = _two_vocabulary_model(source, target)
    assert plain.vocabulary_fingerprints is None
    assert ktb.Translator(plain, other, target, method="greedy")(TEXTS[:1])


@pytest.mark.parametrize(
    "fingerprints",
    [{"source": 7}, {"sorce": "0123456789abcdef"}, ["abc"], "abc", {"source": "zz"}],
)
def test_bad_vocabulary_fingerprints(fingerprints):
    with pytest.raises(ValueError, match="vocabulary_fingerprints"):
        tiny_model(vocabulary_fingerprints=fingerprints)


def test_translations_do_not_stutter_by_default():
    # A model that prefers one word at every step: unguarded, greedy decoding
    # repeats it to the length limit. The Translator applies the recipe's
    # stutter guard (no n-gram 3+ times in a row) unless told otherwise,
    # as `ktb translate` does.
    tokenizer = tiny_tokenizer()
    model = tiny_model()
    word = tokenizer.vocabulary.index("here")
    bias = model.get_layer("output_projection").bias
    bias.assign(np.where(np.arange(tokenizer.vocabulary_size) == word, 50.0, 0.0))
    for method in ("greedy", "beam"):
        guarded = ktb.Translator(model, tokenizer, tokenizer, method=method)
        assert guarded.sampler.max_repeat_run == 2
        translation = guarded(TEXTS[0])
        # "here here" may stay; a third "here" gives way to the next word
        # ("here here ##en": "here hereen").
        assert translation.count("here here") >= 2, translation
        assert "here here here" not in translation, translation
        unguarded = ktb.Translator(
            model, tokenizer, tokenizer, method=method, max_repeat_run=0
        )
        assert unguarded(TEXTS[0]).startswith("here here here here here")


def _mbr_by_hand(model, tokenizer, texts, beam_size, temperature, max_length):
    """Beam search's n-best through `generate`, chosen with sacreBLEU's chrF."""
    from sacrebleu.metrics import CHRF

    source_ids = tokenizer.tokenize(tf.constant(texts)).to_tensor()
    ids, scores = model.generate(
        source_ids,
        max_length=max_length,
        method="beam",
        beam_size=beam_size,
        num_return_sequences=beam_size,
        length_penalty=1.0,
        max_repeat_run=2,
        return_scores=True,
        jit_compile=False,
    )
    rows, n, length = ids.shape
    texts = tokenizer.detokenize(tf.reshape(ids, [rows * n, length])).numpy()
    texts = [t.decode() for t in texts]
    chosen, chosen_scores = [], []
    for row in range(rows):
        candidates = texts[row * n : (row + 1) * n]
        logits = scores.numpy()[row].astype("float64") / temperature
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        expected = [
            sum(
                w * CHRF().sentence_score(c, [other]).score
                for w, other in zip(weights, candidates)
            )
            for c in candidates
        ]
        best = int(np.argmax(expected))
        chosen.append(candidates[best])
        chosen_scores.append(float(scores.numpy()[row, best]))
    return chosen, chosen_scores


def test_mbr_translation_is_the_chrf_choice_among_the_n_best(parts):
    model, tokenizer = parts
    texts = MBR_TEXTS
    translator = tiny_mbr_translator(model, tokenizer)
    translations, scores = translator.translate(texts)
    expected, expected_scores = _mbr_by_hand(model, tokenizer, texts, 5, 2.0, 10)
    assert translations == expected
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)
    top_1 = ktb.Translator(
        model, tokenizer, tokenizer, beam_size=5, length_penalty=1.0, max_length=10
    )
    # The random model's n-best disagree: MBR picks another than the top-1
    # for some inputs, or the test shows nothing.
    assert translations != top_1(texts)
    # Empty inputs stay empty; the attention view shows the MBR translation.
    assert translator.translate(["", " "]) == (["", ""], [0.0, 0.0])
    assert (
        translator.translate_with_attention(texts[3])["translation"]
        == (translations[3])
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "greedy"}, "needs method='beam' with beam_size >= 2"),
        ({"beam_size": 1}, "needs method='beam' with beam_size >= 2"),
        ({"beam_size": 3, "num_return_sequences": 1}, "num_return_sequences"),
        ({"mbr_utility": "bleu"}, r"one of \['chrf'\]. Received: mbr_utility='bleu'"),
        ({"mbr_temperature": 0.0}, "mbr_temperature must be a finite number > 0"),
        ({"mbr_temperature": float("nan")}, "Received: mbr_temperature=nan"),
    ],
)
def test_bad_mbr_arguments(parts, kwargs, message):
    model, tokenizer = parts
    kwargs = {"mbr_utility": "chrf", **kwargs}
    with pytest.raises(ValueError, match=message):
        ktb.Translator(model, tokenizer, tokenizer, **kwargs)
