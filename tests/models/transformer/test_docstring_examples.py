"""The Examples in the Transformer family's docstrings run and print what they say."""

import doctest
import importlib

import keras
import numpy as np
import pytest

import keras_transformer_bit

MODULES = [
    "layers.sine_position_encoding",
    "layers.position_embedding",
    "layers.token_and_position_embedding",
    "layers.multi_head_attention",
    "layers.transformer_encoder_layer",
    "layers.transformer_decoder_layer",
    "models.transformer.transformer",
    "recipes.label_smoothed_cross_entropy",
    "recipes.masked_token_accuracy",
    "recipes.noam_schedule",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module):
    result = doctest.testmod(
        importlib.import_module(f"keras_transformer_bit.{module}"),
        extraglobs={
            "keras": keras,
            "np": np,
            "keras_transformer_bit": keras_transformer_bit,
        },
        optionflags=doctest.ELLIPSIS,
    )
    assert result.attempted > 0
    assert result.failed == 0
