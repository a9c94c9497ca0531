import os

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.data import (
    LabeledImages,
    image_classification_pipeline,
    mixup,
)
from keras_transformer_bit.data.image_preprocessing import decode_image, to_rgb
from keras_transformer_bit.data.mixup import sample_beta


def _half_black_images(n):
    # Left half 0, right half 255: a flip is visible in one pixel.
    images = np.zeros((n, 8, 8), "uint8")
    images[:, :, 4:] = 255
    return LabeledImages(images, np.arange(n) % 2)


def _flipped(batch_images):
    return batch_images[:, 0, 0, 0].numpy() > 127


def test_horizontal_flip_is_random_per_element_and_epoch():
    data = _half_black_images(64)
    dataset = image_classification_pipeline(
        data, 2, training=True, batch_size=64, crop_size=8, seed=0
    )
    first, second = [_flipped(images) for images, _ in dataset.take(2)]
    for flips in (first, second):
        assert 15 < flips.sum() < 49  # both orientations, about half each
    assert not np.array_equal(first, second)  # new draws on the next pass
    # The same seed reproduces the same draws.
    again = image_classification_pipeline(
        data, 2, training=True, batch_size=64, crop_size=8, seed=0
    )
    np.testing.assert_array_equal(_flipped(next(iter(again))[0]), first)


def test_random_crop_positions_vary():
    original = np.arange(256, dtype="uint8").reshape(1, 16, 16)  # unique pixels
    dataset = image_classification_pipeline(
        LabeledImages(original, [0]),
        1,
        training=True,
        batch_size=32,
        crop_size=12,
        resize_size=16,
        seed=1,
    )
    batch, labels = next(iter(dataset))
    assert batch.shape == (32, 12, 12, 3)
    np.testing.assert_array_equal(labels.numpy(), np.ones((32, 1)))
    windows = set()
    for crop in np.round(batch.numpy()[..., 0]).astype(int):
        if crop[0, 0] > crop[0, 1]:  # flipped: undo it
            crop = crop[:, ::-1]
        top, left = divmod(crop[0, 0], 16)
        # Every crop is an exact 12x12 window of the original.
        np.testing.assert_array_equal(
            crop, original[0, top : top + 12, left : left + 12]
        )
        windows.add((top, left))
    assert len(windows) > 8  # of 25 possible positions


def test_evaluation_sees_every_example_exactly_once():
    images = np.arange(37, dtype="uint8")[:, None, None] * np.ones((1, 5, 5), "uint8")
    data = LabeledImages(images, np.arange(37) % 3)
    dataset = image_classification_pipeline(
        data, 3, training=False, batch_size=8, crop_size=5
    )
    sizes, pixels, labels = [], [], []
    for batch_images, batch_labels in dataset:
        sizes.append(len(batch_images))
        pixels.extend(np.round(batch_images[:, 2, 2, 0].numpy()).astype(int))
        labels.extend(np.argmax(batch_labels, -1))
    assert sizes == [8, 8, 8, 8, 5]
    assert sorted(pixels) == list(range(37))
    np.testing.assert_array_equal(labels, np.arange(37) % 3)


def test_grayscale_becomes_rgb():
    data = LabeledImages(np.full((3, 28, 28), 77, "uint8"), [0, 1, 2])
    for training in (True, False):
        images, labels = next(
            iter(
                image_classification_pipeline(
                    data,
                    3,
                    training=training,
                    batch_size=3,
                    crop_size=24,
                    resize_size=32,
                    seed=0,
                )
            )
        )
        assert images.shape == (3, 24, 24, 3)
        assert images.dtype == tf.float32
        np.testing.assert_allclose(images.numpy(), 77.0, atol=1e-3)
        assert labels.shape == (3, 3)


def test_to_rgb_and_decode():
    rgba = np.zeros((2, 2, 4), "uint8")
    rgba[0, 0] = [10, 20, 30, 255]  # opaque
    rgba[0, 1] = [10, 20, 30, 0]  # transparent -> white
    expected = np.full((2, 2, 3), 255.0)
    expected[0, 0] = [10, 20, 30]
    np.testing.assert_allclose(to_rgb(rgba).numpy(), expected)
    # The same through PNG bytes (unknown channel count until decoded).
    png = tf.io.encode_png(rgba)
    np.testing.assert_allclose(decode_image(png).numpy(), expected)
    gray_png = tf.io.encode_png(np.full((3, 4, 1), 9, "uint8"))
    np.testing.assert_allclose(decode_image(gray_png).numpy(), np.full((3, 4, 3), 9.0))
    with pytest.raises(ValueError, match="5 channels"):
        to_rgb(np.zeros((2, 2, 5), "uint8"))
    with pytest.raises(ValueError, match="rank 2"):
        to_rgb(np.zeros((1, 2, 2, 3), "uint8"))


def _beta_draws(alpha, count):
    draw = tf.function(
        lambda seeds: tf.map_fn(
            lambda seed: sample_beta(alpha, seed), seeds, fn_output_signature=tf.float32
        )
    )
    return draw(tf.range(count, dtype=tf.int64)).numpy()


def test_mixup_one_lambda_per_batch_beta_distributed():
    num = 8
    images = tf.reshape(tf.range(num, dtype=tf.float32) * 10.0, (num, 1, 1, 1))
    labels = tf.one_hot(tf.range(num), num)
    for seed in range(20):
        mixed_images, mixed_labels = mixup(images, labels, 0.1, seed)
        mixed_labels = mixed_labels.numpy()
        # Labels and pixels are mixed alike: pixel = sum_j weight_j * 10 j.
        np.testing.assert_allclose(
            mixed_images.numpy()[:, 0, 0, 0],
            mixed_labels @ (np.arange(num) * 10.0),
            atol=1e-3,
        )
        np.testing.assert_allclose(mixed_labels.sum(-1), 1.0, atol=1e-6)
        # Every example mixed with another one keeps the batch's single lambda.
        own = np.diag(mixed_labels)
        moved = own < 1 - 1e-6
        np.testing.assert_allclose(own[moved], float(sample_beta(0.1, seed)), atol=1e-6)
    lambdas = _beta_draws(0.1, 1000)
    assert np.all((lambdas >= 0) & (lambdas <= 1))
    # Beta(0.1, 0.1): mean 1/2, variance 1 / (4 (2 alpha + 1)) = 0.208, U-shaped.
    assert abs(lambdas.mean() - 0.5) < 0.05
    assert abs(lambdas.var() - 1 / (4 * 1.2)) < 0.02
    assert np.mean((lambdas < 0.1) | (lambdas > 0.9)) > 0.6
    uniform = _beta_draws(1.0, 1000)
    assert abs(np.mean(uniform < 0.25) - 0.25) < 0.05  # Beta(1, 1) is uniform


def test_pipeline_applies_mixup_per_batch():
    images = np.arange(16, dtype="uint8")[:, None, None] * np.ones((1, 4, 4), "uint8")
    data = LabeledImages(images * 10, np.arange(16))
    dataset = image_classification_pipeline(
        data, 16, training=True, batch_size=16, crop_size=4, mixup_alpha=1.0, seed=2
    )
    for batch_images, batch_labels in dataset.take(3):
        pixels = batch_images.numpy()[:, 0, 0, 0]
        np.testing.assert_allclose(
            pixels, batch_labels.numpy() @ (np.arange(16) * 10.0), atol=1e-2
        )
        # At most a few examples drew themselves as partner; the rest are mixed.
        assert np.mean(batch_labels.numpy().max(-1) < 1.0) > 0.5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 0}, "num_classes"),
        ({"batch_size": 0}, "batch_size"),
        ({"crop_size": 32, "resize_size": 16}, "resize_size"),
        ({"mixup_alpha": -1.0}, "mixup_alpha"),
        ({"max_cache_bytes": True}, r"max_cache_bytes must be an int >= 0.*=True"),
        ({"max_cache_bytes": np.int64(-1)}, r"max_cache_bytes must be an int >= 0"),
        ({"max_cache_bytes": 1.5}, r"max_cache_bytes must be an int >= 0.*=1.5"),
    ],
)
def test_pipeline_bad_arguments(kwargs, message):
    data = LabeledImages(np.zeros((2, 4, 4), "uint8"), [0, 1])
    arguments = {"num_classes": 2, "training": True, "batch_size": 2, "crop_size": 4}
    with pytest.raises(ValueError, match=message):
        image_classification_pipeline(data, **{**arguments, **kwargs})


def test_a_numpy_int_cache_bound_is_taken():
    data = LabeledImages(np.zeros((2, 4, 4), "uint8"), [0, 1])
    batches = image_classification_pipeline(
        data, 2, training=False, batch_size=2, crop_size=4,
        max_cache_bytes=np.int64(0),
    )  # fmt: skip
    images, labels = next(iter(batches))
    assert images.shape == (2, 4, 4, 3) and labels.shape == (2, 2)


def test_pipeline_bad_image_rank():
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((2, 1, 4, 4, 3), "uint8"), [0, 1])
    )
    with pytest.raises(ValueError, match="rank 2"):
        image_classification_pipeline(
            dataset, 2, training=False, batch_size=2, crop_size=4
        )


def _sorted_by_class(num_examples, num_classes):
    # Labels 0, 0, ..., 1, 1, ...: the order of a class-sorted image folder.
    labels = np.repeat(np.arange(num_classes), num_examples // num_classes)
    pixels = labels.astype("uint8")[:, None, None] * np.ones((1, 2, 2), "uint8")
    return LabeledImages(pixels, labels)


def test_class_sorted_examples_give_balanced_batches_from_the_first_step():
    # 30,000 examples sorted by class: a 10,000-element shuffle buffer filled
    # in that order would give the first batches only the first classes.
    data = _sorted_by_class(30_000, 10)
    dataset = image_classification_pipeline(
        data, 10, training=True, batch_size=100, crop_size=2, seed=0
    )
    for _, labels in dataset.take(30):
        classes = np.unique(np.argmax(labels.numpy(), -1))
        assert len(classes) == 10, classes


def test_every_epoch_is_a_permutation_of_the_examples():
    data = LabeledImages(
        np.arange(12, dtype="uint8")[:, None, None] * np.ones((1, 2, 2), "uint8"),
        np.arange(12) % 3,
    )
    dataset = image_classification_pipeline(
        data, 3, training=True, batch_size=4, crop_size=2, seed=3
    )
    pixels = np.concatenate(
        [np.round(images.numpy()[:, 0, 0, 0]) for images, _ in dataset.take(9)]
    )
    epochs = pixels.reshape(3, 12)
    for epoch in epochs:
        assert sorted(epoch) == list(range(12))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch


def _png_folder(root, count):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = root / f"{i}.png"
        pixels = rng.integers(0, 255, (16, 16, 3), "uint8")
        path.write_bytes(bytes(tf.io.encode_png(pixels).numpy()))
        paths.append(str(path))
    return paths


def test_training_caches_the_encoded_files_up_to_a_bound(tmp_path):
    paths = _png_folder(tmp_path, 6)
    total_bytes = sum(os.path.getsize(path) for path in paths)
    data = LabeledImages(paths, [0, 1, 2] * 2)
    arguments = {"training": True, "batch_size": 3, "crop_size": 8, "seed": 0}
    cached = iter(
        image_classification_pipeline(data, 3, max_cache_bytes=total_bytes, **arguments)
    )
    streamed = iter(
        image_classification_pipeline(
            data, 3, max_cache_bytes=total_bytes - 1, **arguments
        )
    )
    next(cached), next(streamed)
    for path in paths:
        os.remove(path)
    # The first batch read every file into memory, encoded: 7 more batches
    # (3 more epochs) come from there...
    assert sum(len(next(cached)[0]) for _ in range(7)) == 21
    # ...unless they exceed the bound: then each file is read when drawn.
    with pytest.raises(tf.errors.NotFoundError):
        for _ in range(7):
            next(streamed)


def test_training_on_an_encoded_stream_sees_every_example_each_epoch():
    # A LabeledImages over a stream (as load_tfds_images returns): cached as
    # encoded bytes, shuffled through a buffer of the whole (small) dataset.
    pixels = (
        np.arange(6, dtype="uint8")[:, None, None, None]
        * 40
        * np.ones((1, 4, 4, 1), "uint8")
    )
    stream = tf.data.Dataset.from_tensor_slices(pixels).map(tf.io.encode_png)
    data = LabeledImages(stream, np.arange(6) % 3, image_size=(4, 4))
    dataset = image_classification_pipeline(
        data, 3, training=True, batch_size=3, crop_size=4, seed=0
    )
    seen = [
        np.round(images.numpy()[:, 0, 0, 0] / 40).astype(int)
        for images, _ in dataset.take(4)
    ]
    for epoch in (np.concatenate(seen[:2]), np.concatenate(seen[2:])):
        assert sorted(epoch) == list(range(6))


@pytest.mark.parametrize("max_cache_bytes", [2**20, 0])  # cached, read on draw
def test_class_sorted_files_are_shuffled_whole(tmp_path, max_cache_bytes):
    # shuffle_buffer_size bounds streams only: a file list is shuffled whole,
    # whether its encoded bytes are cached or read when drawn.
    paths = _png_folder(tmp_path, 40)
    data = LabeledImages(paths, np.repeat(np.arange(4), 10))  # sorted by class
    dataset = image_classification_pipeline(
        data,
        4,
        training=True,
        batch_size=20,
        crop_size=4,
        seed=0,
        shuffle_buffer_size=2,
        max_cache_bytes=max_cache_bytes,
    )
    for _, labels in dataset.take(4):
        assert len(np.unique(np.argmax(labels.numpy(), -1))) == 4


def test_input_context_shards_the_files_before_reading_them(tmp_path):
    # Under MultiWorkerMirroredStrategy each worker gets its own share of the
    # image files and never reads, decodes or augments the others' files.
    paths = []
    for index in range(8):
        path = tmp_path / f"{index}.png"
        pixels = np.full((4, 4, 3), index * 20, "uint8")
        path.write_bytes(bytes(tf.io.encode_png(pixels).numpy()))
        paths.append(str(path))
    data = LabeledImages(paths, np.arange(8) % 2)
    seen = []
    for worker in range(2):
        context = tf.distribute.InputContext(
            num_input_pipelines=2, input_pipeline_id=worker, num_replicas_in_sync=2
        )
        dataset = image_classification_pipeline(
            data, 2, training=True, batch_size=4, crop_size=4, seed=0,
            max_cache_bytes=0, input_context=context,
        )  # fmt: skip
        policy = dataset.options().experimental_distribute.auto_shard_policy
        assert policy == tf.data.experimental.AutoShardPolicy.OFF
        if worker == 1:  # the first worker's files vanish: never opened here
            for index in seen[0]:
                os.remove(paths[index])
        batches = iter(dataset)
        first = next(batches)[0].numpy()
        assert first.shape == (2, 4, 4, 3)  # the per-replica share of 4
        # One epoch: this worker's 4 files, 2 per per-replica batch.
        epoch = [first, next(batches)[0].numpy()]
        values = [round(float(p)) // 20 for b in epoch for p in b[:, 0, 0, 0]]
        seen.append(set(values))
        assert len(values) == len(seen[-1]) == 4
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == set(range(8))
    with pytest.raises(ValueError, match="input_context"):
        image_classification_pipeline(
            data, 2, training=False, batch_size=4, crop_size=4,
            input_context=context,
        )  # fmt: skip
