import numpy as np
import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.data import SubwordTokenizer
from keras_transformer_bit.data.parallel_corpus import ParallelCorpus
from keras_transformer_bit.models.transformer.transformer_presets import (
    transformer_presets,
)
from keras_transformer_bit.recipes.translation_recipe import (
    TranslationRecipe,
    translation_recipe,
)

WORDS = "der die das haus hund katze ist groß klein alt neu und".split()


def _corpus_and_tokenizer(num_pairs=120):
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(num_pairs):
        words = [WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(2, 9))]
        pairs.append((" ".join(words), " ".join(reversed(words)) + " ."))
    corpus = ParallelCorpus.from_pairs(pairs, test_size=10, validation_size=10)
    tokenizer = SubwordTokenizer(["[PAD]", "[UNK]", "[START]", "[END]", "."] + WORDS)
    return corpus, tokenizer


def test_default_recipe_builds_and_compiles_the_small_preset():
    recipe = translation_recipe()
    assert isinstance(recipe, TranslationRecipe)
    model = recipe.compile(recipe.build_model(vocabulary_size=6000))
    assert recipe.preset == "transformer_small"
    assert (
        model.count_params()
        == transformer_presets["transformer_small"]["parameter_count"]
    )
    # Noam: linear warm-up to scale * (hidden_dim * warmup_steps)^-0.5 at the
    # last warm-up step, then the inverse square root of the step.
    optimizer = model.optimizer
    peak = recipe.learning_rate_scale * (model.hidden_dim * recipe.warmup_steps) ** -0.5
    optimizer.iterations.assign(recipe.warmup_steps - 1)
    np.testing.assert_allclose(float(optimizer.learning_rate), peak, rtol=1e-5)
    optimizer.iterations.assign(4 * recipe.warmup_steps - 1)
    np.testing.assert_allclose(float(optimizer.learning_rate), peak / 2, rtol=1e-5)
    assert model.optimizer.beta_2 == 0.98 and model.jit_compile is False
    assert model.loss.label_smoothing == recipe.label_smoothing


def test_changes_and_the_paper_recipe():
    recipe = translation_recipe(warmup_steps=500, model_overrides={"dropout": 0.3})
    assert recipe.warmup_steps == 500
    model = recipe.build_model(vocabulary_size=100)
    assert model.dropout == 0.3 and model.vocabulary_size == 100
    paper = translation_recipe("paper")
    assert (paper.preset, paper.warmup_steps, paper.label_smoothing) == (
        "transformer_base",
        4000,
        0.1,
    )


def test_datasets_and_translator_follow_the_recipe():
    corpus, tokenizer = _corpus_and_tokenizer()
    recipe = translation_recipe(max_length=12, tokens_per_batch=48)
    train, validation = recipe.datasets(corpus, tokenizer, tokenizer)
    for inputs, labels in train.take(5):
        assert labels.shape[1] <= 12
        assert labels.shape[0] * labels.shape[1] <= 48
    assert validation is not None
    model = recipe.build_model(vocabulary_size=tokenizer.vocabulary_size)
    translator = recipe.translator(model, tokenizer, tokenizer)
    assert translator.method == "beam"
    assert translator.generate_kwargs["beam_size"] == recipe.beam_size
    (translation,) = translator(["der hund"])
    assert isinstance(translation, str)
    # The stutter guard travels with the recipe; 0 turns it off.
    guarded = translation_recipe(max_repeat_run=2).translator(
        model, tokenizer, tokenizer
    )
    assert guarded.sampler.max_repeat_run == 2
    free = translation_recipe(max_repeat_run=0).translator(model, tokenizer, tokenizer)
    assert free.sampler.max_repeat_run is None
    # So does the MBR choice among the beam's hypotheses.
    assert (translator.mbr_utility, translator.mbr_temperature) == (
        recipe.mbr_utility,
        recipe.mbr_temperature,
    )
    assert translator.sampler.num_return_sequences == recipe.beam_size
    top_1 = translation_recipe(mbr_utility=None).translator(model, tokenizer, tokenizer)
    assert top_1.mbr_utility is None and top_1.sampler.num_return_sequences == 1


def test_the_cpu_budget_recipe_decodes_with_an_mbr_choice():
    # bench/mbr_choice.py chose it on validation (docs/benchmarks.md).
    recipe = translation_recipe()
    assert (recipe.beam_size, recipe.mbr_utility, recipe.mbr_temperature) == (
        8,
        "chrf",
        0.5,
    )
    assert translation_recipe("paper").mbr_utility is None


def test_bad_recipes():
    with pytest.raises(ValueError, match="Unknown translation recipe.*cpu_budget"):
        translation_recipe("fast")
    with pytest.raises(
        ValueError, match=r"Unknown TranslationRecipe fields \['warmup'\]"
    ):
        translation_recipe(warmup=10)
    with pytest.raises(ValueError, match="tokens_per_batch must be a positive int"):
        translation_recipe(tokens_per_batch=0)
    with pytest.raises(ValueError, match="beam_size must be a positive int"):
        translation_recipe(beam_size=0)
    with pytest.raises(ValueError, match=r"max_repeat_run must be an int >= 0"):
        translation_recipe(max_repeat_run=-1)
    with pytest.raises(ValueError, match=r"Received: mbr_utility='bleu'"):
        translation_recipe(mbr_utility="bleu")
    with pytest.raises(ValueError, match="mbr_temperature must be a finite number"):
        translation_recipe(mbr_temperature=-1)
    with pytest.raises(ValueError, match="needs beam_size >= 2"):
        translation_recipe(beam_size=1)
    assert translation_recipe(beam_size=1, mbr_utility=None).beam_size == 1
    # User trial: None means no limit, as it does for the samplers.
    assert translation_recipe(max_repeat_run=None).max_repeat_run == 0
    assert isinstance(ktb.recipes.translation_recipe(), TranslationRecipe)


def test_build_model_for_a_vocabulary_per_language():
    model = translation_recipe().build_model(120, source_vocabulary_size=90)
    assert (model.vocabulary_size, model.source_vocabulary_size) == (120, 90)
    assert model.share_embeddings is False
    shared = translation_recipe().build_model(120)
    assert shared.share_embeddings is True
