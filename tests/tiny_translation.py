"""A tiny tokenizer + random Transformer for the Translator and export tests."""

import keras

from keras_transformer_bit.data.subword_tokenizer import SubwordTokenizer
from keras_transformer_bit.models.transformer.transformer import Transformer

WORDS = (
    "ich bin seit fünf tagen hier du bist dort wir sind . , ! ? "
    "i am here for five days you are there we"
).split()
VOCABULARY = ["[PAD]", "[UNK]", "[START]", "[END]"] + WORDS + ["##s", "##en"]


def tiny_tokenizer():
    return SubwordTokenizer(VOCABULARY, lower_case=True)


def tiny_model(seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    config = dict(
        vocabulary_size=len(VOCABULARY),
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        dropout=0.0,
        max_sequence_length=24,
        tie_output_embeddings=False,
    )
    config.update(overrides)
    model = Transformer(**config)
    kernel = model.get_layer("output_projection").kernel
    kernel.assign(kernel.numpy() * 3.0)  # varied, sharper outputs
    return model


# Sources on which the tiny model's beam hypotheses disagree, so that an MBR
# choice differs from the top-1 for some of them.
MBR_TEXTS = [
    "Ich bin seit fünf Tagen hier.",
    "Du bist dort!",
    "wir sind hier ?",
    "ich bin hier",
    "du bist seit fünf tagen dort !",
    "wir",
]


def tiny_mbr_translator(model, tokenizer, **overrides):
    """A beam-5 `Translator` with the MBR choice by chrF (temperature 2)."""
    from keras_transformer_bit.translator import Translator

    options = dict(
        beam_size=5,
        length_penalty=1.0,
        max_length=10,
        mbr_utility="chrf",
        mbr_temperature=2.0,
    )
    return Translator(model, tokenizer, tokenizer, **{**options, **overrides})
