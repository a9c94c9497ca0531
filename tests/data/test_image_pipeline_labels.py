"""Labels the one-hot targets cannot hold are refused, not zeroed."""

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.data import LabeledImages, image_classification_pipeline


def test_labels_at_or_above_num_classes_are_refused():
    images = LabeledImages(np.zeros((3, 8, 8), "uint8"), [0, 1, 2])
    with pytest.raises(ValueError, match=r"num_classes=2. Received: a label of 2"):
        image_classification_pipeline(
            images, 2, training=False, batch_size=2, crop_size=8
        )
    stream = tf.data.Dataset.from_tensor_slices(
        (np.zeros((3, 8, 8, 3), "uint8"), np.array([0, 1, 2]))
    )
    batches = image_classification_pipeline(
        stream, 2, training=False, batch_size=3, crop_size=8
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes=2"):
        list(batches)
