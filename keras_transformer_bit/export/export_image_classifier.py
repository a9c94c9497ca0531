"""Export a BiT classifier as a SavedModel that takes encoded image bytes."""

import warnings

import keras
import tensorflow as tf

from keras_transformer_bit.data.image_preprocessing import (
    IMAGE_FORMATS,
    IMAGE_SIGNATURES,
    decode_image,
    encoded_image_checks,
)
from keras_transformer_bit.export.export_paths import check_new_export_path
from keras_transformer_bit.export.write_directory_atomically import (
    write_directory_atomically,
)
from keras_transformer_bit.layers.bit_bottleneck_unit import conv_layer_type
from keras_transformer_bit.layers.standardized_conv2d import StandardizedConv2D
from keras_transformer_bit.models.bit import fold_weight_standardization
from keras_transformer_bit.models.bit.backbone_of import backbone_of
from keras_transformer_bit.models.bit.bit_classifier import check_image_size

DEFAULT_IMAGE_SIZE = 224  # BiT's pre-training resolution (Kolesnikov et al., §3.1)


def _resolve_image_size(model, image_size):
    if image_size is None:
        # The resolution the classifier records (the one it was trained at,
        # else its preset's), else its static input size, else 224 (warned).
        image_size = getattr(model, "image_size", None)
    if image_size is None:
        static = tuple(model.inputs[0].shape[1:3]) if model.inputs else (None, None)
        image_size = static if None not in static else None
    if image_size is None:
        warnings.warn(
            f"{type(model).__name__} records no resolution (no `image_size` "
            "attribute, no fixed input size): serving at "
            f"{DEFAULT_IMAGE_SIZE}x{DEFAULT_IMAGE_SIZE}, BiT's pre-training "
            "resolution. Pass image_size= with the resolution the model was "
            "trained at.",
            UserWarning,
            stacklevel=3,
        )
        image_size = DEFAULT_IMAGE_SIZE
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
    try:
        backbone = backbone_of(model)
    except ValueError:
        return model  # not a BiT model: nothing to fold
    if not issubclass(conv_layer_type(backbone.conv_layer), StandardizedConv2D):
        return model  # already folded (or plain ResNet-v2 convolutions)
    return fold_weight_standardization(model)


def _printable(strings):
    # Raw bytes in an error message break clients that decode it as UTF-8.
    return tf.strings.unicode_transcode(
        strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )


def check_image_batch(images):
    """Fails unless `images` is a 1-D batch, naming the shape received.

    Args:
        images: a `tf.string` tensor of any rank.

    Returns:
        `images` as a 1-D tensor `[N]`, once checked.
    """
    shape = tf.shape(images)
    message = tf.strings.format(
        "images must be a 1-D batch of encoded images, shape [N] (one image "
        "is a batch of one: [image]). Received: a tensor of shape {}",
        (shape,),
    )
    check = tf.debugging.Assert(tf.equal(tf.size(shape), 1), [message])
    with tf.control_dependencies([check]):
        return tf.reshape(images, [-1])


def _truncation(images):
    """Per element: `"<format>: <what is missing>"`, for a truncated file."""
    signatures = IMAGE_SIGNATURES
    reason = tf.fill(tf.shape(images), "WebP: shorter than the size its header gives")
    for name, why in [
        ("BMP", "shorter than the size its header gives"),
        ("GIF", "its trailer is missing"),
        ("PNG", "its end marker is missing"),
        ("JPEG", "its end marker is missing"),
    ]:
        starts = tf.equal(
            tf.strings.substr(images, 0, len(signatures[name])), signatures[name]
        )
        reason = tf.where(starts, f"{name}: {why}", reason)
    return reason


def _describe(images, known, valid):
    """Names the first invalid element of `images` and what is wrong with it."""
    length = tf.strings.length(images)
    first_bad = tf.argmin(tf.cast(valid, tf.int32))  # the first False
    reason = tf.where(
        length[first_bad] == 0,
        "is empty: expected encoded image bytes",
        tf.where(
            known[first_bad],
            tf.strings.join(
                [
                    "is a truncated ",
                    _truncation(images)[first_bad],
                    " (send the whole file)",
                ]
            ),
            f"is not a {IMAGE_FORMATS} image (send the file's bytes, not its name)",
        ),
    )
    return tf.strings.join(
        [
            tf.strings.format("images[{}] ", (first_bad,)),
            reason,
            tf.strings.format(" (length {} bytes, first bytes: ", (length[first_bad],)),
            _printable(tf.strings.substr(images[first_bad], 0, 16)),
            ")",
        ]
    )


def check_encoded_images(images):
    """Fails on the first element that is not a whole encoded image, naming it.

    Every element is checked before any is decoded, so that the error says
    which input is bad and why (`images[3] is empty`, `images[1] is a
    truncated JPEG`) rather than coming from deep inside a decoder.

    Args:
        images: a 1-D `tf.string` tensor.

    Returns:
        `images`, once checked.
    """
    length = tf.strings.length(images)
    known, whole = encoded_image_checks(images)
    valid = known & whole & (length > 0)
    all_valid = tf.reduce_all(valid)  # True for an empty batch
    message = tf.cond(
        all_valid, lambda: tf.constant(""), lambda: _describe(images, known, valid)
    )
    check = tf.debugging.Assert(all_valid, [message], summarize=1)
    with tf.control_dependencies([check]):
        return tf.identity(images)


def export_image_classifier(
    classifier, path, image_size=None, class_names=None, fold_weights=True
):
    """Writes a SavedModel whose `serving_default` classifies encoded images.

    The signature takes a batch of encoded JPEG/PNG/GIF/BMP/WebP images (the
    formats training reads; `tf.string`, shape `[N]`, any sizes,
    gray/RGB/RGBA), decodes them, converts them to RGB, resizes them to
    `image_size` as the evaluation pipeline does, and returns:
    - `logits`: float32 `(batch, num_classes)`;
    - `probabilities`: their softmax;
    - `top_class`: int32 `(batch,)`, the arg-max;
    - `top_class_name`: string `(batch,)`, when class names are known.

    A `BiTClassifier` also gets a `features` signature (same input) returning
    `features`: float32 `(batch, num_features)`, the pre-logits embedding
    (`BiTClassifier.feature_extractor`), for retrieval or a new head.

    The input is checked before any image is decoded, and each problem fails
    the request with an `InvalidArgumentError` that names it (the server
    goes on serving): a tensor that is not 1-D (a scalar, `[[...]]`) names
    its shape; an empty string, bytes of another format or a file cut short (a
    JPEG/PNG without its end marker, a GIF without its trailer, a BMP/WebP
    shorter than its header says) name the element and the reason
    (`images[1] is empty: ...`). An empty batch gives empty outputs.

    An existing `path` is refused (`FileExistsError`, naming it and the next
    free version), before any work: an export never deletes or replaces a
    directory, such as a version TF Serving may have loaded.

    A `BiTClassifier` is exported with weight standardization folded into
    plain convolutions (`fold_weight_standardization`): same outputs, no
    kernel statistics at serving time. The directory is written next to
    `path` and renamed into place, so a reader never sees half an export.

    Args:
        classifier: a `BiTClassifier` (or any Keras model mapping float RGB
            `[0, 255]` NHWC images to logits).
        path: str. Output directory; it must not exist. For TF Serving, a
            numbered version under the model's base path: `BASE/1`, `BASE/2`.
        image_size: int or (height, width). Serving resolution: every image
            is resized to it, as evaluation does. Defaults to the
            classifier's `image_size`: the resolution it was trained at
            (recorded by `fit` and `bit_fine_tune` alike, and saved with the
            model), else its preset's pre-training resolution (224), else
            the model's static input size, else 224 with a warning. Pass it
            when the model was trained on batches of varying size, or set
            `classifier.image_size` before exporting.
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
    check_new_export_path(path)  # before the work; the writer checks again
    height, width = _resolve_image_size(classifier, image_size)
    names = _resolve_class_names(classifier, class_names)
    model = _fold(classifier) if fold_weights else classifier
    features_model = (
        model.feature_extractor() if hasattr(model, "feature_extractor") else None
    )

    num_classes = model.outputs[0].shape[-1]

    def pixels_of(images):
        return tf.map_fn(
            # As the evaluation pipeline: straight resize, no crop.
            lambda image: tf.image.resize(decode_image(image), [height, width]),
            images,
            fn_output_signature=tf.TensorSpec([height, width, 3], tf.float32),
        )

    def apply(network, images, num_outputs):
        """`network` on the decoded `images`; `(0, num_outputs)` if empty."""
        images = check_encoded_images(check_image_batch(images))
        return tf.cond(
            tf.size(images) > 0,
            # TensorFlow's convolution passes an empty batch through as it is.
            lambda: tf.cast(network(pixels_of(images), training=False), tf.float32),
            lambda: tf.zeros([0, num_outputs], tf.float32),
        )

    def serve(images):
        logits = apply(model, images, num_classes)
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
        num_features = features_model.outputs[0].shape[-1]
        return {"features": apply(features_model, images, num_features)}

    def write(directory):
        archive = keras.export.ExportArchive()
        archive.track(model)
        # Any rank, so that a scalar or a 2-D tensor reaches the check that
        # names its shape instead of failing in the signature's binding.
        signature = [tf.TensorSpec(None, tf.string, name="images")]
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
