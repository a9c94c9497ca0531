import pytest

from keras_transformer_bit.models.bit import PRESETS, bit_presets, count_parameters
from keras_transformer_bit.models.bit.bit_checkpoint import resolve_weights

# The official BiT model names, as listed by `KNOWN_MODELS` in
# google-research/big_transfer (bit_pytorch/models.py; bit_tf2/models.py lists
# the same minus R152x2). The README downloads them as
# https://storage.googleapis.com/bit_models/<name>.npz; object names are
# case-sensitive, and the width is a lowercase "x".
OFFICIAL_MODELS = [
    "BiT-M-R50x1",
    "BiT-M-R50x3",
    "BiT-M-R101x1",
    "BiT-M-R101x3",
    "BiT-M-R152x2",
    "BiT-M-R152x4",
    "BiT-S-R50x1",
    "BiT-S-R50x3",
    "BiT-S-R101x1",
    "BiT-S-R101x3",
    "BiT-S-R152x2",
    "BiT-S-R152x4",
]


def test_official_presets_name_the_official_files():
    official = {
        preset["weights_file"]: preset["weights_url"]
        for preset in PRESETS.values()
        if preset["weights_url"]
    }
    assert official == {
        f"{model}.npz": f"https://storage.googleapis.com/bit_models/{model}.npz"
        for model in OFFICIAL_MODELS
    }
    assert PRESETS["bit_m_r50x1"]["weights_file"] == "BiT-M-R50x1.npz"
    assert PRESETS["bit_s_r152x4"]["weights_file"] == "BiT-S-R152x4.npz"


def test_failed_download_names_url_file_and_local_option(tmp_path):
    preset = bit_presets.get_preset("bit_m_r50x1")
    preset["weights_url"] = "file://" + str(tmp_path / "absent" / "BiT-M-R50x1.npz")
    with pytest.raises(OSError) as error:
        resolve_weights(preset, "imagenet21k", cache_dir=str(tmp_path / "cache"))
    message = str(error.value)
    assert preset["weights_url"] in message
    assert "BiT-M-R50x1.npz" in message
    assert "weights=" in message and "local" in message


def test_every_preset_states_its_parameter_count():
    for name, preset in PRESETS.items():
        head = 10 if name == "bit_tiny" else 1000
        assert preset["parameter_count"] == count_parameters(preset["config"], head)
    # R26 (2 units per block, as timm's resnetv2_26) is a one-line preset.
    assert PRESETS["bit_r26x1"]["config"] == {"depth": 26, "width_factor": 1}


def test_get_preset_returns_an_independent_copy_with_its_name():
    preset = bit_presets.get_preset("bit_tiny")
    assert preset["name"] == "bit_tiny"
    preset["config"]["base_width"] = 1
    assert PRESETS["bit_tiny"]["config"]["base_width"] == 16
    with pytest.raises(ValueError, match="bit_r18x1"):
        bit_presets.get_preset("bit_r18x1")


def test_classifier_scaling_and_resolution_follow_the_preprocessing_metadata():
    import numpy as np

    from keras_transformer_bit.models import BiTClassifier

    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    rescaling = classifier.get_layer("rescaling")
    for preset in PRESETS.values():
        preprocessing = preset["preprocessing"]
        scaled = rescaling(np.array(preprocessing["input_range"], "float32"))
        np.testing.assert_allclose(np.asarray(scaled), preprocessing["scaled_to"])
    size = PRESETS["bit_tiny"]["preprocessing"]["image_size"]
    assert classifier.image_size == (size, size)
