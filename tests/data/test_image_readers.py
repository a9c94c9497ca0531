import gzip
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.data import (
    image_classification_pipeline,
    load_fashion_mnist,
    load_image_folder,
    load_tfds_images,
)
from keras_transformer_bit.data.fashion_mnist import DEFAULT_DIRECTORY
from keras_transformer_bit.data.image_preprocessing import decode_image

TUXPAINT_STAMPS = "/usr/share/tuxpaint/stamps"


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as file:
        file.write(header + array.astype("uint8").tobytes())


@pytest.mark.skipif(
    not os.path.exists(os.path.join(DEFAULT_DIRECTORY, "t10k-labels-idx1-ubyte.gz")),
    reason="apt-get install dataset-fashion-mnist",
)
def test_fashion_mnist_debian_files():
    test = load_fashion_mnist("test")
    assert test.images.shape == (10_000, 28, 28)
    assert test.images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(test.labels), [1000] * 10)
    assert test.class_names[test.labels[0]] == "Ankle boot"
    assert test.image_size == (28, 28)


def test_fashion_mnist_missing_and_truncated(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="apt-get install dataset-fashion-mnist"
    ):
        load_fashion_mnist("train", directory=str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation")
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28)), 0x803)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3]), 0x801)
    small = load_fashion_mnist("test", directory=str(tmp_path))
    np.testing.assert_array_equal(small.labels, [1, 2, 3])
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as file:
        file.write((0x801).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"\x01\x02")
    with pytest.raises(ValueError, match="truncated"):
        load_fashion_mnist("test", directory=str(tmp_path))


def test_image_folder_mixed_formats(tmp_path):
    (tmp_path / "cats" / "nested").mkdir(parents=True)
    (tmp_path / "dogs").mkdir()
    (tmp_path / "empty").mkdir()
    rng = np.random.default_rng(0)
    files = {
        "cats/a.png": tf.io.encode_png(rng.integers(0, 255, (10, 12, 4), "uint8")),
        "cats/nested/b.jpg": tf.io.encode_jpeg(
            rng.integers(0, 255, (7, 9, 3), "uint8")
        ),
        "dogs/c.PNG": tf.io.encode_png(rng.integers(0, 255, (20, 5, 1), "uint8")),
        "dogs/notes.txt": b"not an image",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(
            bytes(content.numpy()) if hasattr(content, "numpy") else content
        )
    with pytest.warns(UserWarning, match=r"skipped 1 file .*: 1 \.txt.*empty"):
        data = load_image_folder(str(tmp_path))
    assert data.class_names == ["cats", "dogs"]
    np.testing.assert_array_equal(data.labels, [0, 0, 1])
    images, labels = next(
        iter(
            image_classification_pipeline(
                data,
                2,
                training=False,
                batch_size=8,
                crop_size=6,
            )
        )
    )
    assert images.shape == (3, 6, 6, 3)
    np.testing.assert_array_equal(np.argmax(labels, -1), [0, 0, 1])
    with pytest.raises(FileNotFoundError, match="directory"):
        load_image_folder(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="no class subfolders"):
        load_image_folder(str(tmp_path / "empty"))


@pytest.mark.skipif(
    not os.path.isdir(TUXPAINT_STAMPS), reason="apt-get install tuxpaint-stamps-default"
)
def test_image_folder_tuxpaint_stamps():
    stamps = load_image_folder(TUXPAINT_STAMPS, extensions=(".png",))
    assert "animals" in stamps.class_names
    assert len(stamps) > 100
    sample = stamps.select(np.linspace(0, len(stamps) - 1, 6).astype(int))
    images, labels = next(
        iter(
            image_classification_pipeline(
                sample,
                stamps.num_classes,
                training=True,
                batch_size=6,
                crop_size=32,
                resize_size=40,
                seed=0,
            )
        )
    )
    assert images.shape == (6, 32, 32, 3)
    assert float(tf.reduce_min(images)) >= 0 and float(tf.reduce_max(images)) <= 255.001


def test_tfds_by_name_with_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        data = load_tfds_images("cifar10", split="train")
        assert len(data) == 40
        assert data.num_classes == 10
        assert data.image_size == (32, 32)
        labels_from_stream = [int(y) for _, y in data.as_dataset()]
        np.testing.assert_array_equal(labels_from_stream, data.labels)
        present = np.unique(data.labels)
        subset = data.select(np.flatnonzero(np.isin(data.labels, present[:2])))
        batches = list(
            image_classification_pipeline(
                subset,
                10,
                training=False,
                batch_size=16,
                crop_size=8,
            )
        )
        assert sum(len(x) for x, _ in batches) == len(subset)
        got = np.concatenate([np.argmax(y, -1) for _, y in batches])
        np.testing.assert_array_equal(got, subset.labels)
        with pytest.raises(ValueError, match="no feature 'picture'"):
            load_tfds_images("cifar10", image_key="picture")


def test_image_folder_reads_webp_and_reports_what_it_skipped(tmp_path):
    image = pytest.importorskip("PIL.Image")
    import io

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (6, 7, 3), "uint8")
    encoded = io.BytesIO()
    image.fromarray(pixels).save(encoded, "WEBP", lossless=True)
    for name in ("cats", "dogs", "birds"):
        (tmp_path / name).mkdir()
    (tmp_path / "cats" / "a.webp").write_bytes(encoded.getvalue())
    (tmp_path / "cats" / "b.svg").write_text("<svg/>")
    (tmp_path / "cats" / "c.svg").write_text("<svg/>")
    (tmp_path / "dogs" / "d.png").write_bytes(bytes(tf.io.encode_png(pixels).numpy()))
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    (tmp_path / "birds" / "e.svg").write_text("<svg/>")
    (tmp_path / "README").write_text("outside every class")
    with pytest.warns(UserWarning) as caught:
        data = load_image_folder(str(tmp_path))
    message = str(caught[0].message)
    assert "skipped 5 files" in message
    assert "3 .svg" in message and "1 .txt" in message
    assert "not a class subfolder" in message  # README
    assert "birds" in message and "no images" in message  # a class folder lost
    assert data.class_names == ["cats", "dogs"]
    webp, _ = next(iter(data.as_dataset()))
    np.testing.assert_array_equal(decode_image(webp).numpy(), pixels)
    batch, _ = next(
        iter(
            image_classification_pipeline(
                data, 2, training=False, batch_size=2, crop_size=7
            )
        )
    )
    assert batch.shape == (2, 7, 7, 3)


def test_image_folder_says_nothing_when_nothing_is_skipped(tmp_path):
    import warnings

    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.png").write_bytes(
        bytes(tf.io.encode_png(np.zeros((2, 2, 3), "uint8")).numpy())
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_image_folder(str(tmp_path))) == 1


def test_image_folder_takes_one_extension_as_a_string(tmp_path):
    from keras_transformer_bit.data import load_image_folder

    for name in ("a/x.jpg", "a/y.png", "b/z.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(
            bytes(tf.io.encode_jpeg(np.zeros((4, 4, 3), "uint8")).numpy())
        )
    with pytest.warns(UserWarning):  # the .png is skipped, and said so
        images = load_image_folder(str(tmp_path), extensions=".jpg")
    assert len(images) == 2


def test_image_folder_names_files_that_are_not_images_despite_their_name(tmp_path):
    # Caught when the folder is read, each file named, instead of a decode
    # error that names no file in the middle of training.
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
    png = bytes(tf.io.encode_png(np.zeros((3, 4, 3), "uint8")).numpy())
    (tmp_path / "cats" / "a.png").write_bytes(png)
    (tmp_path / "cats" / "notes.jpg").write_text("a text file, not a JPEG")
    (tmp_path / "dogs" / "b.png").write_bytes(png)
    (tmp_path / "dogs" / "empty.png").write_bytes(b"")
    with pytest.warns(UserWarning) as caught:
        data = load_image_folder(str(tmp_path))
    message = str(caught[0].message)
    assert "skipped 2 files" in message, message
    assert os.path.join("cats", "notes.jpg") in message, message
    assert os.path.join("dogs", "empty.png") in message, message
    assert "not images despite their names" in message, message
    assert [os.path.basename(p) for p in data.images] == ["a.png", "b.png"]
    batch, _ = next(
        iter(
            image_classification_pipeline(
                data, 2, training=False, batch_size=2, crop_size=4
            )
        )
    )
    assert batch.shape == (2, 4, 4, 3)


@pytest.mark.parametrize("cache", [True, False])
def test_a_truncated_image_file_is_named_when_read(tmp_path, cache):
    # Its first bytes are a JPEG's, so the folder keeps it; reading it names
    # the file, in training (cached or not) as in evaluation.
    (tmp_path / "cats").mkdir()
    jpeg = bytes(tf.io.encode_jpeg(np.zeros((8, 8, 3), "uint8")).numpy())
    (tmp_path / "cats" / "a.jpg").write_bytes(jpeg)
    (tmp_path / "cats" / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    data = load_image_folder(str(tmp_path))
    for training in (True, False):
        pipeline = image_classification_pipeline(
            data, 1, training=training, batch_size=2, crop_size=4, cache=cache,
            resize_size=6, seed=0,
        )  # fmt: skip
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"cut\.jpg.*trunc"):
            for _ in zip(range(3), pipeline):
                pass


@pytest.mark.parametrize("image_format", ["WEBP", "GIF", "BMP"])
def test_a_truncated_webp_gif_or_bmp_is_named_when_read(tmp_path, image_format):
    pil = pytest.importorskip("PIL.Image")
    import io

    pixels = np.random.default_rng(0).integers(0, 255, (24, 24, 3), "uint8")
    buffer = io.BytesIO()
    pil.fromarray(pixels).save(buffer, format=image_format)
    encoded = buffer.getvalue()
    extension = image_format.lower()
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / f"a.{extension}").write_bytes(encoded)
    (tmp_path / "cats" / f"cut.{extension}").write_bytes(encoded[: len(encoded) // 2])
    data = load_image_folder(str(tmp_path))
    pipeline = image_classification_pipeline(
        data, 1, training=False, batch_size=2, crop_size=4
    )
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"cut\.\w+\W+is truncated"
    ):
        next(iter(pipeline))
    # The whole file passes the checks and decodes.
    (tmp_path / "cats" / f"cut.{extension}").unlink()
    batch, _ = next(iter(image_classification_pipeline(
        load_image_folder(str(tmp_path)), 1, training=False, batch_size=1,
        crop_size=4,
    )))  # fmt: skip
    assert batch.shape == (1, 4, 4, 3)


def test_encoded_image_checks_of_an_empty_batch():
    from keras_transformer_bit.data.image_preprocessing import encoded_image_checks

    known, whole = encoded_image_checks(tf.constant([], tf.string))
    assert known.shape == (0,) and whole.shape == (0,)
