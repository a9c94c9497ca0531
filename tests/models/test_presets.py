"""Both model families describe their presets the same way."""

import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.models.bit.bit_presets import PRESETS as BIT_PRESETS
from keras_transformer_bit.models.transformer.transformer_presets import (
    transformer_presets,
)

SHARED_KEYS = {"description", "config", "parameter_count"}


@pytest.mark.parametrize(
    "presets", [BIT_PRESETS, transformer_presets], ids=["bit", "transformer"]
)
def test_every_preset_has_the_shared_keys(presets):
    for name, preset in presets.items():
        assert SHARED_KEYS <= set(preset), name
        assert isinstance(preset["description"], str) and preset["description"]
        assert isinstance(preset["config"], dict)
        assert isinstance(preset["parameter_count"], int)


@pytest.mark.parametrize(
    "cls, presets",
    [
        (ktb.models.Transformer, transformer_presets),
        (ktb.models.BiTBackbone, BIT_PRESETS),
        (ktb.models.BiTClassifier, BIT_PRESETS),
    ],
)
def test_every_model_lists_its_presets(cls, presets):
    listed = cls.presets()
    assert listed == {name: p["description"] for name, p in presets.items()}
