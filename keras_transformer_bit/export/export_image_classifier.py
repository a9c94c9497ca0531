"""Export a BiT classifier as a SavedModel that takes encoded image bytes."""

import keras
import tensorflow as tf

from keras_transformer_bit.data.image_preprocessing import decode_image
from keras_transformer_bit.export.write_directory_atomically import (
    write_directory_atomically,
)
from keras_transformer_bit.models.bit.bit_classifier import check_image_size

DEFAULT_IMAGE_SIZE = 224  # BiT's pre-training resolution (Kolesnikov et al., §3.1)


def _resolve_image_size(model, image_size):
    if image_size is None:
        # The resolution the classifier records (the one it was fine-tuned
        # at, else its preset's), else its static input size, else 224.
        image_size = getattr(model, "image_size", None)
    if image_size is None:
        static = tuple(model.inputs[0].shape[1:3]) if model.inputs else (None, None)
        image_size = static if None not in static else DEFAULT_IMAGE_SIZE
    return check_image_size(image_size)


def _resolve_class_names(model, class_names):
    recorded = getattr(model, "class_names", None)
    if class_names is None:
        return None if recorded is None else list(recorded)
    names = [str(name) for name in class_names]
    if recorded is not None and names != list(recorded):
        raise ValueError(
            "class_names differ from the classifier's own, which label its "
            f"outputs: {list(recorded)}. Received: class_names={names}"
        )
    num_classes = model.outputs[0].shape[-1] if model.outputs else None
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(
            f"class_names must have one name per class ({num_classes}). "
            f"Received: {len(names)} names"
        )
    return names


def _fold(model):
    from keras_transformer_bit.layers.bit_bottleneck_unit import conv_layer_type
    from keras_transformer_bit.layers.standardized_conv2d import StandardizedConv2D
    from keras_transformer_bit.models.bit import fold_weight_standardization
    from keras_transformer_bit.models.bit.backbone_of import backbone_of

    try:
        backbone = backbone_of(model)
    except ValueError:
        return model  # not a BiT model: nothing to fold
    if not issubclass(conv_layer_type(backbone.conv_layer), StandardizedConv2D):
        return model  # already folded (or plain ResNet-v2 convolutions)
    return fold_weight_standardization(model)


# First bytes of the formats tf.io.decode_image reads.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")


def check_encoded_images(images):
    """Fails on the first element that is not an encoded image, naming it.

    Every element is checked before any is decoded, so that the error says
    which input is bad and why (`images[3] is empty`) rather than coming
    from deep inside a decoder.

    Args:
        images: a 1-D `tf.string` tensor.

    Returns:
        `images`, once checked.
    """
    length = tf.strings.length(images)
    known = tf.zeros_like(length, tf.bool)
    for signature in _SIGNATURES:
        head = tf.strings.substr(images, 0, len(signature))
        known = known | tf.equal(head, signature)
    valid = known & (length > 0)
    first_bad = tf.argmin(tf.cast(valid, tf.int32))  # the first False
    reason = tf.where(
        length[first_bad] > 0,
        "is not a JPEG, PNG, GIF or BMP image (send the file's bytes, not its name)",
        "is empty: expected encoded image bytes",
    )
    message = tf.strings.format(
        "images[{}] {} (first bytes: {})",
        (first_bad, reason, tf.strings.substr(images[first_bad], 0, 16)),
    )
    check = tf.debugging.Assert(
        tf.reduce_all(valid) | (tf.size(images) == 0), [message], summarize=1
    )
    with tf.control_dependencies([check]):
        return tf.identity(images)


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
    - `top_class_name`: string `(batch,)`, when class names are known.

    A `BiTClassifier` also gets a `features` signature (same input) returning
    `features`: float32 `(batch, num_features)`, the pre-logits embedding
    (`BiTClassifier.feature_extractor`), for retrieval or a new head.

    Every element is checked before any is decoded: an empty string or bytes
    of another format fail with an error that names the element and the
    reason (`images[1] is empty: ...`).

    A `BiTClassifier` is exported with weight standardization folded into
    plain convolutions (`fold_weight_standardization`): same outputs, no
    kernel statistics at serving time. The directory is written next to
    `path` and renamed into place, so a reader never sees half an export.

    Args:
        classifier: a `BiTClassifier` (or any Keras model mapping float RGB
            `[0, 255]` NHWC images to logits).
        path: str. Output directory (replaced if it exists).
        image_size: int or (height, width). Serving resolution. Defaults to
            the classifier's `image_size` (the resolution it was fine-tuned
            at, else its preset's), else the model's static input size, else
            224.
        class_names: list of str or `None`. Defaults to the classifier's
            `class_names`; names that differ from those are refused.
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
    names = _resolve_class_names(classifier, class_names)
    model = _fold(classifier) if fold_weights else classifier
    features_model = (
        model.feature_extractor() if hasattr(model, "feature_extractor") else None
    )

    def pixels_of(images):
        images = check_encoded_images(images)
        return tf.map_fn(
            # As the evaluation pipeline: straight resize, no crop.
            lambda image: tf.image.resize(decode_image(image), [height, width]),
            images,
            fn_output_signature=tf.TensorSpec([height, width, 3], tf.float32),
        )

    def serve(images):
        logits = tf.cast(model(pixels_of(images), training=False), tf.float32)
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

    def features(images):
        embedding = features_model(pixels_of(images), training=False)
        return {"features": tf.cast(embedding, tf.float32)}

    def write(directory):
        archive = keras.export.ExportArchive()
        archive.track(model)
        signature = [tf.TensorSpec([None], tf.string, name="images")]
        archive.add_endpoint(
            name="serving_default", fn=serve, input_signature=signature
        )
        if features_model is not None:
            archive.add_endpoint(
                name="features", fn=features, input_signature=signature
            )
        archive.write_out(directory, verbose=False)

    write_directory_atomically(path, write)
    return path
