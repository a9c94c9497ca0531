"""How to train a translation Transformer: model, optimizer, loss, batching, decoding.

One frozen dataclass holds every choice, so the tutorial, the `ktb translate`
command and the quality benchmark train exactly the same way, and a change of
recipe is a change of data. `translation_recipe()` returns the recipe tuned for
a wall-clock budget on a few CPU cores; `translation_recipe("paper")` is the
base model with the schedule of Vaswani et al. 2017 (§5.3-5.4).
"""

import dataclasses

import keras

from keras_transformer_bit.models import Transformer
from keras_transformer_bit.recipes.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropy,
)
from keras_transformer_bit.recipes.masked_token_accuracy import MaskedTokenAccuracy
from keras_transformer_bit.recipes.noam_schedule import NoamSchedule
from keras_transformer_bit.utils import (
    check_fraction,
    check_mbr_options,
    check_non_negative_int,
    check_positive_int,
)


@dataclasses.dataclass(frozen=True)
class TranslationRecipe:
    """Every choice needed to train and decode a translation `Transformer`.

    Attributes:
        preset: str. The `Transformer` preset.
        model_overrides: dict. Constructor arguments that replace the preset's.
        vocabulary_size: int. Target size of each subword vocabulary (the
            shared one's, or each language's with `shared_vocabulary=False`).
        max_length: int. Longest source/target in subword tokens that is kept
            for training, and the longest generated translation.
        tokens_per_batch: int. Token budget of a length-bucketed batch.
        warmup_steps: int. Warm-up of the Noam schedule.
        learning_rate_scale: float. Multiplies the Noam schedule.
        learning_rate_cooldown: float in `[0, 1]`. The last fraction of a
            wall-clock budget over which the learning rate falls linearly to
            zero (`NoamSchedule`'s `cooldown`, driven by `TrainingBudget`);
            `0.0`: none. Training without a budget keeps the plain schedule.
        label_smoothing: float. Label smoothing of the loss.
        beam_size: int. Beam width for evaluation and serving.
        length_penalty: float. GNMT length penalty alpha of beam search.
        mbr_utility: str or None. `"chrf"`: the translation is the
            minimum-Bayes-risk choice among the beam's `beam_size` finished
            hypotheses (`Translator`'s `mbr_utility`); None: beam search's
            top-1.
        mbr_temperature: float. Divides the beam scores before the softmax
            that weighs the MBR candidates.
        phrase_pairs: int. Dictionary word and phrase pairs added to the
            training split when training on Ding (`load_ding_de_en`); other
            corpora have none.
        alternative_pairs: bool. Whether Ding's other wordings of the
            training sentences join the training split (`load_ding_de_en`);
            other corpora have none.
        average_checkpoints: int. Epochs whose weights are averaged at the end
            of training (`CheckpointAveraging`); `0`: none.
        max_repeat_run: int. The most back-to-back copies of one n-gram a
            translation may hold (`BeamSampler`'s stutter guard: `2` lets
            "very very" through and bans a third "very"); `0`: no limit.
        shared_vocabulary: bool. One subword vocabulary for both languages,
            with one embedding matrix for source, target and output; `False`:
            a vocabulary per language, each with its own embedding (the
            target one still tied to the output layer).
        target_embeddings: str or None. Pretrained English word pieces that
            a new model's target embedding starts from
            (`ktb.data.PretrainedWordEmbeddings.load`'s name or directory;
            needs `shared_vocabulary=False`); None: a random start. The
            vectors are English: `TranslationRun` applies the recipe's to
            Ding (German->English) only; other corpora start random unless
            a run asks for them.
        source_lexicon: str or None. A lexicon (`ktb.data.load_lexicon`'s
            `"ding"` or a TSV file) through which a new model's source
            embedding starts from the `target_embeddings` vectors: each
            source word from its translation's. None: a random start. Like
            `target_embeddings`, `TranslationRun` applies the recipe's to
            Ding only.
    """

    preset: str
    model_overrides: dict
    vocabulary_size: int
    max_length: int
    tokens_per_batch: int
    warmup_steps: int
    learning_rate_scale: float
    label_smoothing: float
    beam_size: int
    length_penalty: float
    phrase_pairs: int = 0
    alternative_pairs: bool = False
    average_checkpoints: int = 0
    max_repeat_run: int = 0
    shared_vocabulary: bool = True
    target_embeddings: str | None = None
    source_lexicon: str | None = None
    mbr_utility: str | None = None
    mbr_temperature: float = 1.0
    learning_rate_cooldown: float = 0.0

    def build_model(self, vocabulary_size, source_vocabulary_size=None, **overrides):
        """The preset with the recipe's overrides, sized to the vocabularies.

        Args:
            vocabulary_size: int. The target vocabulary's size (the shared
                one's when `source_vocabulary_size` is `None`).
            source_vocabulary_size: int or `None`. The source vocabulary's
                size when each language has its own (as `TranslationRun` builds
                them with `shared_vocabulary=False`); the embeddings are then
                not shared. Defaults to `None`: one shared vocabulary.
            **overrides: `Transformer` arguments that replace the recipe's.

        Example:
        >>> model = translation_recipe().build_model(vocabulary_size=6000)
        >>> model = translation_recipe().build_model(9321, source_vocabulary_size=8040)
        >>> model.source_vocabulary_size
        8040
        """
        arguments = {**self.model_overrides, **overrides}
        if source_vocabulary_size is not None:
            arguments.update(
                source_vocabulary_size=source_vocabulary_size, share_embeddings=False
            )
        return Transformer.from_preset(
            self.preset, vocabulary_size=vocabulary_size, **arguments
        )

    def optimizer(self, hidden_dim):
        """Adam (beta_2 0.98, epsilon 1e-9) on the Noam schedule for `hidden_dim`,
        with the recipe's cooldown (a `TrainingBudget` in `fit` drives it).

        Example:
        >>> optimizer = translation_recipe().optimizer(hidden_dim=256)
        """
        schedule = NoamSchedule(
            hidden_dim,
            warmup_steps=self.warmup_steps,
            scale=self.learning_rate_scale,
            cooldown=self.learning_rate_cooldown,
        )
        return keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)

    def compile(self, model, jit_compile=False, metrics=True):
        """Compiles `model` with the recipe's optimizer and label-smoothed loss.

        Args:
            model: a `Transformer`.
            jit_compile: bool. XLA for the train step. Defaults to `False`: on a
                CPU, XLA compiles once per batch shape (tens of seconds each) and
                the compiled step is no faster.
            metrics: bool. Track masked token accuracy. Defaults to `True`.

        Returns:
            The compiled `model`.

        Example:
        >>> recipe = translation_recipe()
        >>> model = recipe.compile(recipe.build_model(vocabulary_size=6000))
        """
        model.compile(
            optimizer=self.optimizer(model.hidden_dim),
            loss=LabelSmoothedCrossEntropy(label_smoothing=self.label_smoothing),
            metrics=[MaskedTokenAccuracy()] if metrics else None,
            jit_compile=jit_compile,
        )
        return model

    def datasets(
        self,
        corpus,
        source_tokenizer,
        target_tokenizer,
        seed=1234,
        num_replicas=None,
        subword_sampling_alpha=None,
    ):
        """Length-bucketed training and validation datasets for `corpus`.

        Args:
            corpus: a `ParallelCorpus` (`train` and `validation` lists of pairs).
            source_tokenizer: the source `SubwordTokenizer`.
            target_tokenizer: the target `SubwordTokenizer`.
            seed: int. Shuffle seed of the training pairs. Defaults to `1234`.
            num_replicas: int or `None`. `strategy.num_replicas_in_sync`:
                every batch splits evenly over the replicas
                (`make_translation_dataset`). Defaults to `None`: the strategy
                in scope (1 outside any).
            subword_sampling_alpha: float or `None`. Sample the training
                split's segmentations (`make_translation_dataset`); the
                validation split is always tokenized deterministically.
                Defaults to `None`.

        Returns:
            `(train, validation)`; `validation` is `None` when the corpus has no
            validation split.

        Example:
        >>> train, validation = recipe.datasets(
        ...     corpus, tokenizer, tokenizer)  # doctest: +SKIP
        """
        from keras_transformer_bit.data.translation_pipeline import (
            make_translation_dataset,
        )

        common = dict(
            source_tokenizer=source_tokenizer,
            target_tokenizer=target_tokenizer,
            max_length=self.max_length,
            tokens_per_batch=self.tokens_per_batch,
            num_replicas=num_replicas,
        )
        train = make_translation_dataset(
            corpus.train,
            seed=seed,
            subword_sampling_alpha=subword_sampling_alpha,
            **common,
        )
        validation = None
        if corpus.validation:
            validation = make_translation_dataset(
                corpus.validation, shuffle=False, **common
            )
        return train, validation

    def translator(self, model, source_tokenizer, target_tokenizer):
        """A beam-search `Translator` with the recipe's beam, length penalty,
        stutter guard and MBR choice.

        Example:
        >>> translator = recipe.translator(
        ...     model, tokenizer, tokenizer)  # doctest: +SKIP
        """
        from keras_transformer_bit.translator import Translator

        return Translator(
            model,
            source_tokenizer,
            target_tokenizer,
            method="beam",
            beam_size=self.beam_size,
            length_penalty=self.length_penalty,
            max_repeat_run=self.max_repeat_run,
            max_length=self.max_length,
            mbr_utility=self.mbr_utility,
            mbr_temperature=self.mbr_temperature,
        )


# The recipes, as data. "cpu_budget" is tuned for about 20 minutes of training
# on 2 CPU cores with about 20,000 sentence pairs (bench/translation_quality.py);
# "paper" is the base model of Vaswani et al. 2017 (§5.3-5.4).
translation_recipes = {
    "cpu_budget": dict(
        preset="transformer_small",
        # bench/recipe_search.py round 9 (docs/benchmarks.md): with the
        # pretrained starts below, at 20 epochs, dropout 0.2 scored 8.53 / 9.08
        # validation BLEU (last / averaged) against 7.85 / 8.66 for the
        # preset's 0.1, and 0.3 scored 8.99 / 8.67.
        model_overrides={"dropout": 0.2},
        # bench/recipe_search.py round 4 (docs/benchmarks.md): at 10 epochs,
        # 10,000 (9,461 built on Ding) scored 6.54 validation BLEU averaged,
        # 8,000 6.01 and 6,000 5.81; round 2 had 4,000 below 6,000.
        vocabulary_size=10000,
        max_length=48,
        tokens_per_batch=2048,
        warmup_steps=500,
        learning_rate_scale=0.8,
        # bench/recipe_search.py round 10 (docs/benchmarks.md): the learning
        # rate falling to zero over the last 30% of the budget scored 9.83
        # validation BLEU (averaged; 9.65 for the last weights) against 9.52
        # (9.11) without; over the whole budget, 9.34 (9.34).
        learning_rate_cooldown=0.3,
        label_smoothing=0.1,
        # bench/mbr_choice.py (docs/benchmarks.md): on the main job's
        # validation split, the MBR choice by sentence chrF among beam 8's
        # 8 hypotheses, at temperature 0.5, scored 9.37 BLEU against 9.01 for
        # beam 8's top-1 and 8.82 for beam 4's (temperatures 1 and 2: 9.33,
        # 9.03; sentence BLEU as the utility: 9.00-9.06).
        beam_size=8,
        mbr_utility="chrf",
        mbr_temperature=0.5,
        # bench/decoding_choice.py (docs/benchmarks.md): on validation, 1.0
        # beat 0.6 and 1.4 at beam 4, and beat 0.6 at beams 2 and 8.
        length_penalty=1.0,
        # bench/recipe_search.py (docs/benchmarks.md): on validation, averaging
        # the last 5 epochs beat the last epoch; Ding's dictionary phrases and
        # dropout 0.3 did not.
        phrase_pairs=0,
        average_checkpoints=5,
        # bench/decoding_choice.py (docs/benchmarks.md): on validation, beam 4
        # held 14 translations with a word 3+ times in a row; with 2 it held
        # 1, at the same BLEU (6.79 against 6.78). 1 would also ban "very very".
        max_repeat_run=2,
        # bench/recipe_search.py round 5 (docs/benchmarks.md): a vocabulary
        # per language (8,040 German, 9,321 English subwords on Ding) scored
        # 7.07 validation BLEU averaged against 6.54 for one shared vocabulary.
        shared_vocabulary=False,
        # bench/recipe_search.py round 7 (docs/benchmarks.md): starting the
        # English embedding from all-MiniLM-L6-v2's word pieces (PCA to 128)
        # scored 7.06 validation BLEU averaged against 6.42 for a random start,
        # and lowered the best validation loss from 4.70 to 4.47.
        target_embeddings="all-minilm-l6-v2",
        # bench/recipe_search.py round 8 (docs/benchmarks.md): starting the
        # German embedding from the same vectors, each word from its Ding
        # translation's, scored 8.05 / 8.31 validation BLEU (last / averaged)
        # against 7.53 / 8.22, chrF 28.3 against 27.1, and lowered the
        # validation loss at every epoch (best 4.41 against 4.48).
        source_lexicon="ding",
        # bench/recipe_search.py round 8b (docs/benchmarks.md): with the
        # lexicon, adding Ding's 2,230 other wordings of training sentences
        # scored 8.65 validation BLEU averaged against 8.31 without.
        alternative_pairs=True,
    ),
    "paper": dict(
        preset="transformer_base",
        model_overrides={},
        vocabulary_size=37000,
        max_length=256,
        tokens_per_batch=25000,
        warmup_steps=4000,
        learning_rate_scale=1.0,
        label_smoothing=0.1,
        beam_size=4,
        length_penalty=0.6,
        phrase_pairs=0,
        # The base models average the last 5 checkpoints (written every 10
        # minutes; here, epochs).
        average_checkpoints=5,
        # One shared source-target vocabulary of about 37,000 BPE tokens.
        shared_vocabulary=True,
    ),
}


def translation_recipe(name="cpu_budget", **changes):
    """Returns the named `TranslationRecipe`, with `changes` applied.

    Args:
        name: str. `"cpu_budget"` (default) or `"paper"`.
        **changes: fields of `TranslationRecipe` to replace.

    Returns:
        A `TranslationRecipe`.

    Example:
    >>> recipe = translation_recipe(warmup_steps=500)
    >>> recipe.preset, recipe.warmup_steps
    ('transformer_small', 500)
    """
    if name not in translation_recipes:
        raise ValueError(
            f"Unknown translation recipe. Expected one of "
            f"{sorted(translation_recipes)}. Received: name={name!r}"
        )
    fields = {field.name for field in dataclasses.fields(TranslationRecipe)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ValueError(
            f"Unknown TranslationRecipe fields {unknown}. Expected some of "
            f"{sorted(fields)}."
        )
    if "max_repeat_run" in changes and changes["max_repeat_run"] is None:
        changes["max_repeat_run"] = 0  # no limit, as the samplers read None
    recipe = TranslationRecipe(**{**translation_recipes[name], **changes})
    for field in (
        "vocabulary_size",
        "max_length",
        "tokens_per_batch",
        "warmup_steps",
        "beam_size",
    ):
        check_positive_int(field, getattr(recipe, field))
    for field in ("phrase_pairs", "average_checkpoints", "max_repeat_run"):
        check_non_negative_int(field, getattr(recipe, field))
    _check_mbr(recipe)
    check_fraction("learning_rate_cooldown", recipe.learning_rate_cooldown)
    return recipe


def _check_mbr(recipe):
    """The MBR settings, checked as `Translator` checks them."""
    check_mbr_options(recipe.mbr_utility, recipe.mbr_temperature)
    if recipe.mbr_utility is not None and recipe.beam_size < 2:
        raise ValueError(
            "mbr_utility chooses among the beam's hypotheses, so it needs "
            f"beam_size >= 2. Received: beam_size={recipe.beam_size}, "
            f"mbr_utility={recipe.mbr_utility!r}"
        )
