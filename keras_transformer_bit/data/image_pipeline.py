"""The BiT image-classification input pipeline in tf.data."""

import tensorflow as tf

from keras_transformer_bit.data.image_preprocessing import (
    decode_image,
    preprocess_for_evaluation,
    preprocess_for_training,
)
from keras_transformer_bit.data.labeled_images import LabeledImages
from keras_transformer_bit.data.mixup import mixup
from keras_transformer_bit.utils import check_positive_int


def _check_element_spec(dataset):
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise ValueError(
            "the dataset must yield (image, label) pairs. "
            f"Received: element_spec={spec}"
        )
    image_spec = spec[0]
    rank = image_spec.shape.rank
    if image_spec.dtype == tf.string:
        if rank != 0:
            raise ValueError(
                "encoded images must be scalar strings. "
                f"Received: image shape {image_spec.shape}"
            )
    elif rank not in (2, 3, None):
        raise ValueError(
            "images must have rank 2 (H, W) or 3 (H, W, C) per element. "
            f"Received: image shape {image_spec.shape}"
        )


def image_classification_pipeline(
    images,
    num_classes,
    *,
    training,
    batch_size,
    crop_size,
    resize_size=None,
    mixup_alpha=0.0,
    seed=None,
    shuffle_buffer_size=10_000,
    cache=False,
):
    """Builds batches of `(float32 RGB images in [0, 255], one-hot labels)`.

    Training: decode, grayscale -> RGB, shuffle, repeat forever, resize to
    `resize_size`, random `crop_size` crop, random horizontal flip (a fresh
    draw per element and per epoch), batches of exactly `batch_size`, then
    MixUp with one `lam ~ Beta(mixup_alpha, mixup_alpha)` per batch.

    Evaluation: decode, resize to `crop_size`, batch without dropping the
    remainder and without repeating: every example is seen exactly once.

    Args:
        images: a `LabeledImages`, or a `tf.data.Dataset` of `(image, label)`
            with encoded bytes or `(H, W[, C])` pixels and int labels.
        num_classes: int. Length of the one-hot labels.
        training: bool. Which of the two pipelines.
        batch_size: int.
        crop_size: int. Output image side.
        resize_size: int. Side before the random crop (training only).
            Defaults to `crop_size` (no crop).
        mixup_alpha: float. 0 disables MixUp (training only).
        seed: int or `None`. Seeds shuffling and all augmentation.
        shuffle_buffer_size: int. Training shuffle buffer.
        cache: bool. Keep decoded images in memory (small datasets).

    Returns:
        A `tf.data.Dataset`.

    Example:
    >>> rule = keras_transformer_bit.recipes.bit_hyperrule(len(train), (28, 28))
    >>> train_batches = image_classification_pipeline(
    ...     train, 10, training=True, batch_size=64, crop_size=rule.crop_size,
    ...     resize_size=rule.resize_size, mixup_alpha=rule.mixup_alpha, seed=0)
    """
    check_positive_int("num_classes", num_classes)
    check_positive_int("batch_size", batch_size)
    check_positive_int("crop_size", crop_size)
    resize_size = crop_size if resize_size is None else resize_size
    check_positive_int("resize_size", resize_size)
    if resize_size < crop_size:
        raise ValueError(
            f"resize_size must be >= crop_size={crop_size}. "
            f"Received: resize_size={resize_size}"
        )
    if mixup_alpha < 0:
        raise ValueError(f"mixup_alpha must be >= 0. Received: {mixup_alpha}")

    dataset = images.as_dataset() if isinstance(images, LabeledImages) else images
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "images must be a LabeledImages or a tf.data.Dataset. "
            f"Received: {type(images).__name__}"
        )
    _check_element_spec(dataset)
    autotune = tf.data.AUTOTUNE

    def one_hot(label):
        return tf.one_hot(tf.cast(label, tf.int32), num_classes, dtype=tf.float32)

    if not training:
        dataset = dataset.map(
            lambda image, label: (
                preprocess_for_evaluation(image, crop_size),
                one_hot(label),
            ),
            num_parallel_calls=autotune,
        )
        return dataset.batch(batch_size, drop_remainder=False).prefetch(autotune)

    if cache:
        dataset = dataset.map(
            lambda image, label: (decode_image(image), label),
            num_parallel_calls=autotune,
        ).cache()
    dataset = dataset.shuffle(
        shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True
    ).repeat()
    # One integer per element drives its crop and flip; Dataset.random with
    # rerandomize_each_iteration gives new draws on every pass while a fixed
    # `seed` keeps runs reproducible.
    element_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip((dataset, element_seeds)).map(
        lambda example, element_seed: (
            preprocess_for_training(example[0], element_seed, resize_size, crop_size),
            one_hot(example[1]),
        ),
        num_parallel_calls=autotune,
    )
    dataset = dataset.batch(batch_size, drop_remainder=True)
    if mixup_alpha > 0:
        batch_seeds = tf.data.Dataset.random(
            seed=None if seed is None else seed + 1,
            rerandomize_each_iteration=True,
        )
        dataset = tf.data.Dataset.zip((dataset, batch_seeds)).map(
            lambda batch, batch_seed: mixup(
                batch[0], batch[1], mixup_alpha, batch_seed
            ),
            num_parallel_calls=autotune,
        )
    return dataset.prefetch(autotune)
