"""The BiT image-classification input pipeline in tf.data."""

import functools
import os

import numpy as np
import tensorflow as tf

from keras_transformer_bit.data.image_preprocessing import (
    preprocess_for_evaluation,
    preprocess_for_training,
    read_image_file,
)
from keras_transformer_bit.data.labeled_images import LabeledImages
from keras_transformer_bit.data.mixup import mixup
from keras_transformer_bit.utils import check_non_negative_int, check_positive_int


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


# Encoded training images are kept in memory up to this many bytes (the
# official pipeline caches encoded records too); above it, files are read from
# disk each time. Decoded float32 pixels are never cached: a 500x400 JPEG of
# 40 KB decodes to 2.3 MiB.
DEFAULT_MAX_CACHE_BYTES = 512 * 2**20


def _fits_in_cache(paths, max_cache_bytes):
    total = 0
    for path in paths:
        total += os.path.getsize(path)
        if total > max_cache_bytes:
            return False
    return True


def _shuffled_training_examples(
    images, cache, max_cache_bytes, shuffle_buffer_size, seed, shard=None
):
    """`(undecoded image, label)` forever, every epoch in a new random order.

    A `LabeledImages` of pixel arrays or files is shuffled as a whole before
    anything is decoded, so class-sorted files give class-balanced batches
    from the first step:

    - files that fit in `max_cache_bytes` (with `cache`): read once into an
      in-memory cache of their encoded bytes, which a shuffle buffer the size
      of the dataset draws from (the buffer and the cache share the bytes);
    - other files: their paths are shuffled, each file is read when drawn;
    - pixel arrays: shuffled whole, as they are (uint8 stays uint8).

    Streams (a `tf.data.Dataset`, or a `LabeledImages` over one, e.g. TFDS,
    whose files are shuffled when the dataset is prepared) go through a
    shuffle buffer of `shuffle_buffer_size` elements, after an in-memory cache
    of what they yield when `cache` is set.

    Encoded bytes are never captured as a constant of a tf.data function:
    tracing and graph rewrites would copy them several times.

    With `shard=(num_shards, index)` only every `num_shards`-th example from
    `index` on is kept, before anything is read: of files, their paths.
    """
    num_examples = len(images) if isinstance(images, LabeledImages) else None

    def sharded(dataset):
        return dataset if shard is None else dataset.shard(*shard)

    if num_examples is not None and shard is not None:
        num_examples = len(range(shard[1], num_examples, shard[0]))
    shuffle = functools.partial(
        tf.data.Dataset.shuffle, seed=seed, reshuffle_each_iteration=True
    )
    if num_examples is None or isinstance(images.images, tf.data.Dataset):
        dataset = images.as_dataset() if num_examples is not None else images
        dataset = sharded(dataset)
        if cache:
            dataset = dataset.cache()
        buffer_size = shuffle_buffer_size
        if num_examples is not None:
            buffer_size = min(num_examples, shuffle_buffer_size)
        return shuffle(dataset, buffer_size).repeat()
    if isinstance(images.images, np.ndarray):
        dataset = tf.data.Dataset.from_tensor_slices((images.images, images.labels))
        return shuffle(sharded(dataset), num_examples).repeat()
    paths = sharded(
        tf.data.Dataset.from_tensor_slices(
            (tf.constant(images.images, dtype=tf.string), images.labels)
        )
    )
    if shard is not None:
        images = LabeledImages(
            images.images[shard[1] :: shard[0]],
            images.labels[shard[1] :: shard[0]],
            images.class_names,
        )

    def read(path, label):
        return read_image_file(path), label  # a bad file fails naming its path

    if cache and _fits_in_cache(images.images, max_cache_bytes):
        encoded = paths.map(read, num_parallel_calls=tf.data.AUTOTUNE).cache()
        return shuffle(encoded, num_examples).repeat()
    return (
        shuffle(paths, num_examples)
        .repeat()
        .map(read, num_parallel_calls=tf.data.AUTOTUNE)
    )


def _check_sizes(num_classes, batch_size, crop_size, shuffle_buffer_size, resize_size):
    """The pipeline's sizes, or an error naming the bad one; returns the resize."""
    check_positive_int("num_classes", num_classes)
    check_positive_int("batch_size", batch_size)
    check_positive_int("crop_size", crop_size)
    check_positive_int("shuffle_buffer_size", shuffle_buffer_size)
    resize_size = crop_size if resize_size is None else resize_size
    check_positive_int("resize_size", resize_size)
    if resize_size < crop_size:
        raise ValueError(
            f"resize_size must be >= crop_size={crop_size}. "
            f"Received: resize_size={resize_size}"
        )
    return resize_size


def _check_mixup_and_cache(mixup_alpha, max_cache_bytes):
    if mixup_alpha < 0:
        raise ValueError(f"mixup_alpha must be >= 0. Received: {mixup_alpha}")
    check_non_negative_int("max_cache_bytes", max_cache_bytes)


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
    cache=True,
    max_cache_bytes=DEFAULT_MAX_CACHE_BYTES,
    input_context=None,
):
    """Builds batches of `(float32 RGB images in [0, 255], one-hot labels)`.

    Training: shuffle all the examples (a new order every epoch), repeat
    forever, then read, decode, grayscale -> RGB, resize to `resize_size`,
    random `crop_size` crop, random horizontal flip (a fresh draw per element
    and per epoch), batches of exactly `batch_size`, then MixUp with one
    `lam ~ Beta(mixup_alpha, mixup_alpha)` per batch. Images are decoded after
    the shuffle and never cached decoded: memory holds the encoded files (up
    to `max_cache_bytes`) or the given pixel array, not float32 pixels.

    Evaluation: decode, resize to `crop_size`, batch without dropping the
    remainder and without repeating: every example is seen exactly once.

    Sharding by files (training, `input_context`): pass this function to
    `strategy.distribute_datasets_from_function` (or to
    `ktb.distribute.CustomTrainingLoop.fit`) and each worker keeps only its
    share of the examples, *before* reading them: of an image folder, its
    share of the files, which it alone reads, decodes and augments, in
    per-replica batches of `batch_size // num_replicas_in_sync`. This is
    `AutoShardPolicy.FILE` over the image files; the default under a strategy,
    `AutoShardPolicy.DATA`, has every worker decode the whole global batch and
    keep its slice, which costs N times the decoding at high resolution. A
    step then averages over the same number of examples, though not the same
    examples one device would draw.

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
        shuffle_buffer_size: int. Shuffle buffer for what cannot be shuffled
            whole: a plain `tf.data.Dataset`, or a `LabeledImages` stream of
            pixels or of encoded images over `max_cache_bytes` (training only).
            Defaults to `10_000`.
        cache: bool. Training: keep the encoded files of a `LabeledImages`
            in memory, read once, when they take at most `max_cache_bytes`;
            keep what a stream yields (e.g. TFDS's encoded images) in memory.
            Defaults to `True`.
        max_cache_bytes: int. The bound for files. Defaults to 512 MiB.
        input_context: a `tf.distribute.InputContext` or `None`. Training
            only: shard the examples over its input pipelines (see above).
            Defaults to `None` (every example; `tf.distribute` may shard the
            batches by data).

    Returns:
        A `tf.data.Dataset`.

    Example:
    >>> rule = keras_transformer_bit.recipes.bit_hyperrule(
    ...     len(train), (28, 28))  # doctest: +SKIP
    >>> train_batches = image_classification_pipeline(  # doctest: +SKIP
    ...     train, 10, training=True, batch_size=64, crop_size=rule.crop_size,
    ...     resize_size=rule.resize_size, mixup_alpha=rule.mixup_alpha, seed=0)
    """
    resize_size = _check_sizes(
        num_classes, batch_size, crop_size, shuffle_buffer_size, resize_size
    )
    _check_mixup_and_cache(mixup_alpha, max_cache_bytes)

    shard = None
    if input_context is not None:
        if not training:
            raise ValueError(
                "input_context shards the training pipeline; evaluation reads "
                "every example once. Received: training=False with an "
                "input_context"
            )
        shard = (input_context.num_input_pipelines, input_context.input_pipeline_id)
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        if seed is not None:  # other crops, flips and MixUp on every worker
            seed = seed + 7919 * input_context.input_pipeline_id
    if isinstance(images, LabeledImages) and len(images):
        if images.labels.max() >= num_classes:
            # tf.one_hot would silently make an all-zero target of it.
            raise ValueError(
                f"labels must be < num_classes={num_classes}. Received: a label "
                f"of {images.labels.max()} (classes {images.class_names})"
            )
    dataset = images.as_dataset() if isinstance(images, LabeledImages) else images
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "images must be a LabeledImages or a tf.data.Dataset. "
            f"Received: {type(images).__name__}"
        )
    _check_element_spec(dataset)
    autotune = tf.data.AUTOTUNE

    def one_hot(label):
        label = tf.cast(label, tf.int32)
        check = tf.debugging.Assert(
            (label >= 0) & (label < num_classes),
            [f"labels must be in [0, num_classes={num_classes}). Received:", label],
        )
        with tf.control_dependencies([check]):
            return tf.one_hot(label, num_classes, dtype=tf.float32)

    if not training:
        dataset = dataset.map(
            lambda image, label: (
                preprocess_for_evaluation(image, crop_size),
                one_hot(label),
            ),
            num_parallel_calls=autotune,
        )
        return dataset.batch(batch_size, drop_remainder=False).prefetch(autotune)

    dataset = _shuffled_training_examples(
        images if isinstance(images, LabeledImages) else dataset,
        cache,
        max_cache_bytes,
        shuffle_buffer_size,
        seed,
        shard,
    )
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
    if input_context is not None:  # sharded here, by files: no more by data
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF
        )
        dataset = dataset.with_options(options)
    return dataset.prefetch(autotune)
