import keras
import numpy as np
import pytest

from keras_transformer_bit.layers import StandardizedConv2D
from keras_transformer_bit.models import BiTBackbone, BiTClassifier
from keras_transformer_bit.models.bit import (
    fold_weight_standardization,
    load_bit_checkpoint,
)
from tests.helpers import run_model_saving_test
from tests.models.bit import numpy_bit_reference as reference


def _classifier():
    backbone = BiTBackbone(block_depths=[2, 1], base_width=8, norm_groups=4)
    classifier = BiTClassifier(backbone, num_classes=5)
    arrays = reference.random_checkpoint([2, 1], 1, 8, num_classes=5, seed=2)
    return load_bit_checkpoint(classifier, arrays)


def _images():
    return np.random.default_rng(0).uniform(0, 255, (2, 29, 29, 3)).astype("float32")


def test_folded_classifier_gives_equal_outputs():
    classifier = _classifier()
    folded = fold_weight_standardization(classifier)
    assert folded.backbone.conv_layer == "conv2d"
    unit = folded.backbone.get_layer("block1_unit01")
    for conv in (folded.backbone.get_layer("root_conv"), unit.spatial_conv):
        assert type(conv) is keras.layers.Conv2D
    assert folded.count_params() == classifier.count_params()
    np.testing.assert_allclose(
        np.asarray(folded(_images())), np.asarray(classifier(_images())), atol=1e-5
    )
    run_model_saving_test(folded, _images())


def test_folded_backbone_gives_equal_outputs():
    backbone = _classifier().backbone
    folded = fold_weight_standardization(backbone)
    images = _images() / 127.5 - 1.0
    np.testing.assert_allclose(
        np.asarray(folded(images)), np.asarray(backbone(images)), atol=1e-5
    )
    assert not any(isinstance(layer, StandardizedConv2D) for layer in folded.layers)


def test_bad_input():
    folded = fold_weight_standardization(_classifier())
    with pytest.raises(ValueError, match="nothing to fold"):
        fold_weight_standardization(folded)
    with pytest.raises(ValueError, match="BiTClassifier or a BiTBackbone"):
        fold_weight_standardization(keras.Sequential([keras.layers.Dense(2)]))


def test_folded_mixed_precision_classifier_computes_as_the_model(tmp_path):
    # As `ktb bit export` sees a --mixed-precision run: saved, then loaded
    # under the default float32 policy. The fold rebuilt it in float32 while
    # the model computes in bfloat16: logits moved by ~3e-2.
    backbone = BiTBackbone(
        block_depths=[2, 1], base_width=8, norm_groups=4, dtype="mixed_bfloat16"
    )
    classifier = BiTClassifier(backbone, num_classes=5)
    arrays = reference.random_checkpoint([2, 1], 1, 8, num_classes=5, seed=2)
    load_bit_checkpoint(classifier, arrays)
    classifier.save(tmp_path / "model.keras")
    classifier = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    folded = fold_weight_standardization(classifier)
    for model in (classifier, folded):
        conv = model.backbone.get_layer("root_conv")
        assert conv.compute_dtype == "bfloat16", model
    expected = np.asarray(classifier(_images()))
    assert np.abs(expected).max() > 0.5
    # The same bfloat16 computation: equal up to float32 summation order.
    np.testing.assert_allclose(np.asarray(folded(_images())), expected, atol=1e-5)
