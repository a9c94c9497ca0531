"""Export a BiT classifier as a SavedModel that takes encoded image bytes."""

import numbers

import keras
import tensorflow as tf

from keras_transformer_bit.data.image_preprocessing import decode_image
from keras_transformer_bit.export.write_directory_atomically import (
    write_directory_atomically,
)

DEFAULT_IMAGE_SIZE = 224  # BiT's pre-training resolution (Kolesnikov et al., §3.1)


def _resolve_image_size(model, image_size):
    if image_size is None:
        static = tuple(model.inputs[0].shape[1:3]) if model.inputs else (None, None)
        image_size = static if None not in static else DEFAULT_IMAGE_SIZE
    if isinstance(image_size, numbers.Integral):
        image_size = (image_size, image_size)
    image_size = tuple(image_size)
    if len(image_size) != 2 or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
        for d in image_size
    ):
        raise ValueError(
            "image_size must be a positive int or a (height, width) pair. "
            f"Received: image_size={image_size}"
        )
    return tuple(int(d) for d in image_size)


def _fold(model):
    from keras_transformer_bit.models.bit import fold_weight_standardization
    from keras_transformer_bit.models.bit.bit_classifier import BiTClassifier

    if not isinstance(model, BiTClassifier):
        return model
    if model.backbone.conv_layer != "standardized_conv2d":
        return model  # already folded (or plain ResNet-v2 convolutions)
    return fold_weight_standardization(model)


def export_image_classifier(
    classifier, path, image_size=None, class_names=None, fold_weights=True
):
    """Writes a SavedModel whose `serving_default` classifies encoded images.

    The signature takes a batch of encoded JPEG/PNG/GIF/BMP images
    (`tf.string`, shape `[None]`, any sizes, gray/RGB/RGBA), decodes them,
    converts them to RGB, resizes them to `image_size` as the evaluation
    pipeline does, and returns:
    - `logits`: float32 `(batch, num_classes)`;
    - `probabilities`: their softmax;
    - `top_class`: int32 `(batch,)`, the arg-max;
    - `top_class_name`: string `(batch,)`, when `class_names` is given.

    A `BiTClassifier` is exported with weight standardization folded into
    plain convolutions (`fold_weight_standardization`): same outputs, no
    kernel statistics at serving time. The directory is written next to
    `path` and renamed into place, so a reader never sees half an export.

    Args:
        classifier: a `BiTClassifier` (or any Keras model mapping float RGB
            `[0, 255]` NHWC images to logits).
        path: str. Output directory (replaced if it exists).
        image_size: int or (height, width). Serving resolution. Defaults to
            the model's static input size, else 224.
        class_names: list of str or `None`.
        fold_weights: bool. Fold weight standardization. Defaults to `True`.

    Returns:
        `path`.

    Example:
    >>> clf = keras_transformer_bit.models.BiTClassifier.from_preset(
    ...     "bit_tiny", num_classes=3)
    >>> export_image_classifier(clf, "exported/bit", image_size=64)
    'exported/bit'
    >>> served = tf.saved_model.load("exported/bit").signatures["serving_default"]
    >>> cat = tf.constant([open("cat.jpg", "rb").read()])  # doctest: +SKIP
    >>> served(images=cat)["top_class"]  # doctest: +SKIP
    """
    if not isinstance(classifier, keras.Model):
        raise ValueError(
            f"classifier must be a Keras model. Received: {type(classifier).__name__}"
        )
    height, width = _resolve_image_size(classifier, image_size)
    model = _fold(classifier) if fold_weights else classifier
    names = None
    if class_names is not None:
        names = [str(name) for name in class_names]
        num_classes = model.outputs[0].shape[-1] if model.outputs else None
        if num_classes is not None and len(names) != num_classes:
            raise ValueError(
                f"class_names must have one name per class ({num_classes}). "
                f"Received: {len(names)} names"
            )

    def serve(images):
        pixels = tf.map_fn(
            # As the evaluation pipeline: straight resize, no crop.
            lambda image: tf.image.resize(decode_image(image), [height, width]),
            images,
            fn_output_signature=tf.TensorSpec([height, width, 3], tf.float32),
        )
        logits = tf.cast(model(pixels, training=False), tf.float32)
        outputs = {
            "logits": logits,
            "probabilities": tf.nn.softmax(logits, axis=-1),
            "top_class": tf.argmax(logits, axis=-1, output_type=tf.int32),
        }
        if names is not None:
            outputs["top_class_name"] = tf.gather(
                tf.constant(names, tf.string), outputs["top_class"]
            )
        return outputs

    def write(directory):
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint(
            name="serving_default",
            fn=serve,
            input_signature=[tf.TensorSpec([None], tf.string, name="images")],
        )
        archive.write_out(directory, verbose=False)

    write_directory_atomically(path, write)
    return path
