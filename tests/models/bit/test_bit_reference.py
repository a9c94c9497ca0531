"""The Keras BiT against an independent NumPy forward pass of the official model."""

import keras
import numpy as np
import pytest

from keras_transformer_bit.models.bit import (
    BiTBackbone,
    BiTClassifier,
    load_bit_checkpoint,
)
from tests.models.bit import numpy_bit_reference as reference

# Two blocks of two and one unit; the width factor and stride-2 block are
# exercised, as are identity and projection shortcuts.
BLOCK_DEPTHS = [2, 1, 1]
WIDTH_FACTOR = 2
BASE_WIDTH = 4
GROUPS = 4
NUM_CLASSES = 7


@pytest.fixture(scope="module")
def checkpoint():
    return reference.random_checkpoint(
        BLOCK_DEPTHS, WIDTH_FACTOR, BASE_WIDTH, NUM_CLASSES, seed=1
    )


def _classifier(checkpoint):
    backbone = BiTBackbone(
        block_depths=BLOCK_DEPTHS,
        width_factor=WIDTH_FACTOR,
        base_width=BASE_WIDTH,
        norm_groups=GROUPS,
    )
    classifier = BiTClassifier(backbone, num_classes=NUM_CLASSES)
    return load_bit_checkpoint(classifier, checkpoint, head="keep")


def _images(height, width, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (2, height, width, 3)).astype("float32")


@pytest.mark.parametrize("height, width", [(32, 32), (45, 38)])
def test_keras_logits_match_numpy_reference(checkpoint, height, width):
    images = _images(height, width, seed=height)
    expected = reference.forward(checkpoint, images, GROUPS)
    actual = np.asarray(_classifier(checkpoint)(images, training=False))
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)
    # The logits are not trivially small: the comparison has something to test.
    assert np.abs(expected).max() > 0.1


def test_same_padding_or_neg_inf_pool_padding_would_fail(checkpoint):
    images = _images(32, 32, seed=3)
    actual = np.asarray(_classifier(checkpoint)(images, training=False))
    same = reference.forward(checkpoint, images, GROUPS, padding="same")
    neg_inf = reference.forward(checkpoint, images, GROUPS, pool_pad_value=-np.inf)
    # Either mistake moves the logits by far more than the 1e-4 tolerance.
    assert np.abs(actual - same).max() > 1e-2
    assert np.abs(actual - neg_inf).max() > 1e-3


def test_root_max_pool_pads_zeros_not_neg_inf(checkpoint):
    classifier = _classifier(checkpoint)
    backbone = classifier.backbone
    root = keras.Model(backbone.input, backbone.get_layer("root_pool").output)
    conv_out = keras.Model(backbone.input, backbone.get_layer("root_conv").output)
    # The root convolution output is negative at some border positions, where
    # zero and -inf padding differ.
    scaled = _images(16, 16, seed=4) / 127.5 - 1.0
    pooled = np.asarray(root(scaled))
    before = np.asarray(conv_out(scaled))
    padded = np.pad(before, ((0, 0), (1, 1), (1, 1), (0, 0)))
    top_left = padded[:, 0:3, 0:3].max(axis=(1, 2))
    np.testing.assert_allclose(pooled[:, 0, 0], top_left, atol=1e-5)
    negative_corner = before[:, 0:2, 0:2].max(axis=(1, 2)) < 0
    assert negative_corner.any()
    # Where the whole real window is negative the zero padding wins.
    np.testing.assert_array_equal(pooled[:, 0, 0][negative_corner], 0.0)
