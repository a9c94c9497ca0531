"""KerasTuner hypermodel for the Transformer."""

import keras_tuner

from keras_transformer_bit.models import Transformer
from keras_transformer_bit.recipes import BleuCallback, translation_recipe
from keras_transformer_bit.tuning.search_space import (
    check_search_space,
    hyperparameter,
    recipe_search_space,
)
from keras_transformer_bit.utils import check_positive_int


def _transformer_or_failed_trial(**config):
    """The trial's `Transformer`; a combination the model refuses (num_heads
    not dividing hidden_dim, ...) fails the trial, naming why, and the search
    goes on."""
    try:
        return Transformer(**config)
    except ValueError as error:
        raise keras_tuner.errors.FailedTrialError(
            f"{error}; skipping this combination."
        ) from error


# The first value of each list is the default (the first trial's value): the
# translation recipe (its model, warm-up, learning-rate scale and label
# smoothing) that `ktb translate train` and the tutorial run on a CPU budget,
# and values around it. Warm-ups of 4,000+ steps (the paper's, for 100k-step
# runs) are never left in a sweep trial of a few epochs of a small corpus.
TRANSFORMER_SEARCH_SPACE = {
    name: values
    for name, values in recipe_search_space().items()
    if name not in ("vocabulary_size", "tokens_per_batch")  # set by the datasets
}


class TransformerHyperModel(keras_tuner.HyperModel):
    """Builds and compiles a `Transformer` from tuned hyperparameters.

    Tunes the model size (layers, width `hidden_dim`, heads, feed-forward width
    `intermediate_multiplier * hidden_dim`), dropout, and the paper's recipe
    (Vaswani et al. 2017, §5.3-5.4): Adam(0.9, 0.98, 1e-9) on the Noam schedule
    with `warmup_steps` and a `learning_rate_scale` factor, and label smoothing.
    The model is compiled with `LabelSmoothedCrossEntropy` and
    `MaskedTokenAccuracy`. Teacher-forced accuracy is a poor proxy for
    translation quality; with `bleu_pairs` every trial also logs `val_bleu`
    (sacreBLEU of greedy translations of those pairs after each epoch; a
    hundred pairs keep it cheap), the objective to use:
    `keras_tuner.Objective("val_bleu", "max")`.

    The hypermodel trains on datasets you make; it cannot tune what makes
    them (vocabulary size, tokens per batch). To tune those too, and to
    train each trial the way `ktb translate train` does (its tokenizer,
    bucketing, budget, resuming, checkpoints), use
    `ktb.tuning.TranslationRunTuner`, whose trials are `TranslationRun`s.

    Args:
        vocabulary_size: int. Target (and shared) vocabulary size.
        search_space: dict or None. Overrides of `TRANSFORMER_SEARCH_SPACE`:
            a list is a choice (first item = default), a `(low, high)` tuple a
            range, a scalar a fixed value.
        max_sequence_length: int. Defaults to `256`.
        source_vocabulary_size: int or None. When the source vocabulary
            differs. Defaults to None (shared).
        strategy: optional `tf.distribute.Strategy` to build under.
        jit_compile: bool or `"auto"`. Passed to `compile`. Defaults to `"auto"`.
        bleu_pairs: list of (source, reference) str pairs or None. Validation
            pairs to score BLEU on. Defaults to None (no `val_bleu`).
        tokenizers: `(source_tokenizer, target_tokenizer)`, needed with
            `bleu_pairs`.
        bleu_max_length: int. Longest translation when scoring. Defaults to
            `64`.

    Example:
    >>> hypermodel = TransformerHyperModel(
    ...     vocabulary_size=1000, search_space={"num_layers": [1, 2]})
    >>> tuner = ktb.tuning.make_tuner("random_search", hypermodel, max_trials=4)
    """

    def __init__(
        self,
        vocabulary_size,
        search_space=None,
        max_sequence_length=256,
        source_vocabulary_size=None,
        strategy=None,
        jit_compile="auto",
        bleu_pairs=None,
        tokenizers=None,
        bleu_max_length=64,
        name="transformer",
    ):
        super().__init__(name=name, tunable=True)
        vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
        if vocabulary_size < 5:
            raise ValueError(
                "vocabulary_size must be an int >= 5 (4 reserved tokens). "
                f"Received: vocabulary_size={vocabulary_size!r}"
            )
        self.vocabulary_size = vocabulary_size
        self.search_space = check_search_space(search_space, TRANSFORMER_SEARCH_SPACE)
        self.max_sequence_length = max_sequence_length
        self.source_vocabulary_size = source_vocabulary_size
        self.strategy = strategy
        self.jit_compile = jit_compile
        if bleu_pairs and (not tokenizers or len(tokenizers) != 2):
            raise ValueError(
                "bleu_pairs needs tokenizers=(source_tokenizer, target_tokenizer)."
                f" Received: tokenizers={tokenizers!r}"
            )
        self.bleu_pairs = list(bleu_pairs or [])
        self.tokenizers = tokenizers
        self.bleu_max_length = bleu_max_length

    def fit(self, hp, model, *args, **kwargs):
        """`model.fit`, scoring `val_bleu` after each epoch with `bleu_pairs`.

        The callback is made here, per trial: KerasTuner deep-copies the
        callbacks given to `search`, and tokenizers do not copy.
        """
        if self.bleu_pairs:
            bleu = BleuCallback(
                self.bleu_pairs,
                *self.tokenizers,
                num_examples=len(self.bleu_pairs),
                max_length=self.bleu_max_length,
                method="greedy",
            )
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), bleu]
        return model.fit(*args, **kwargs)

    def values(self, hp):
        """Declares the search space on `hp`; returns the chosen values."""
        return {
            name: hyperparameter(hp, name, spec)
            for name, spec in self.search_space.items()
        }

    def build(self, hp):
        values = self.values(hp)

        def build_model():
            model = _transformer_or_failed_trial(
                vocabulary_size=self.vocabulary_size,
                source_vocabulary_size=self.source_vocabulary_size,
                num_layers=values["num_layers"],
                num_heads=values["num_heads"],
                hidden_dim=values["hidden_dim"],
                intermediate_dim=values["hidden_dim"]
                * values["intermediate_multiplier"],
                dropout=values["dropout"],
                max_sequence_length=self.max_sequence_length,
                share_embeddings=self.source_vocabulary_size is None,
            )
            recipe = translation_recipe(
                warmup_steps=values["warmup_steps"],
                learning_rate_scale=values["learning_rate_scale"],
                label_smoothing=values["label_smoothing"],
            )
            return recipe.compile(model, jit_compile=self.jit_compile)

        if self.strategy is None:
            return build_model()
        with self.strategy.scope():
            return build_model()
