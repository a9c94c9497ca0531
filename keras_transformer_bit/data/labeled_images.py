"""Images with integer class labels: what every image reader returns."""

import hashlib
import os

import numpy as np
import tensorflow as tf

from keras_transformer_bit.data.few_shot import few_shot_indices
from keras_transformer_bit.data.image_preprocessing import (
    decode_image,
    read_image_file,
)


def _check_pixel_array(images):
    images = np.asarray(images)
    if images.ndim == 3 or (images.ndim == 4 and images.shape[-1] in (1, 2, 3, 4)):
        if np.issubdtype(images.dtype, np.floating):
            bad = ~np.isfinite(images)
            if bad.any():
                first = tuple(int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    f"images must be finite pixel values; images{list(first)} "
                    f"is {images[first]} ({int(bad.sum())} values are NaN or inf)"
                )
            if images.size and images.max() <= 1.0 and images.min() >= 0.0:
                raise ValueError(
                    "images look like floats in [0, 1]; pixel arrays are read as "
                    "[0, 255] values (uint8). Pass (images * 255).astype('uint8'). "
                    f"Received: float images with max {images.max()}"
                )
        return images
    raise ValueError(
        "images must be an array of shape (N, H, W) (grayscale) or "
        "(N, H, W, C) with C in {1, 2, 3, 4} channels. "
        f"Received: images.shape={images.shape}"
    )


def name_undecodable_files(error, *collections, limit=5):
    """An error naming the files that fail to decode, or `None`.

    A file can pass the checks on its bytes (`read_image_file`) and still
    fail in the decoder (a JPEG cut short and given an end marker), whose
    error names no file. After such a failure this decodes the files of
    `collections` one by one to find which.

    Args:
        error: the exception raised while reading images.
        *collections: `LabeledImages` (or `None`) that were being read.
        limit: int. Name at most this many files.

    Returns:
        A `ValueError` naming up to `limit` files and their decoder's error,
        or `None` when `error` is not a decoder's or no file fails.

    Example:
    >>> name_undecodable_files(KeyError("x")) is None
    True
    """
    if not isinstance(error, tf.errors.InvalidArgumentError):
        return None
    bad = []
    for images in collections:
        if images is not None and len(bad) < limit:
            bad += images.undecodable_files(limit=limit - len(bad))
    if not bad:
        return None
    return ValueError(
        f"{len(bad)}{'+' * (len(bad) == limit)} image file(s) cannot be decoded "
        "(cut short, or corrupt): "
        + "; ".join(f"{path} ({reason})" for path, reason in bad)
        + ". Replace or remove them."
    )


class LabeledImages:
    """A labelled image collection, held as pixels, files or a `tf.data` source.

    Readers (`load_fashion_mnist`, `load_image_folder`, `load_tfds_images`)
    return one. Labels are always in memory (few-shot sampling and the
    HyperRule need them); images stay where they are until `as_dataset()`.

    Args:
        images: one of: a uint8 array `(N, H, W)` or `(N, H, W, C)`; a list of
            N image file paths; or a `tf.data.Dataset` of N images (encoded
            bytes or pixel tensors) in a fixed order.
        labels: int array `(N,)` with values in `[0, num_classes)`.
        class_names: list of str, or `None` (names are then the indices).
        image_size: `(height, width)` typical of the images, or `None` to
            read it from the first images.

    Example:
    >>> images = LabeledImages(np.zeros((6, 8, 8), "uint8"), [0, 1, 2] * 2)
    >>> len(images.few_shot(2, seed=0)), images.num_classes
    (6, 3)
    """

    def __init__(self, images, labels, class_names=None, image_size=None):
        labels = np.asarray(labels)
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                "labels must be a 1-D array of ints. "
                f"Received: labels with shape {labels.shape} and dtype {labels.dtype}"
            )
        if labels.size and labels.min() < 0:
            raise ValueError(
                f"labels must be >= 0. Received: a label of {labels.min()}"
            )
        if isinstance(images, tf.data.Dataset):
            pass
        elif isinstance(images, (list, tuple)) and (
            not images or isinstance(images[0], str)
        ):
            images = list(images)
        else:
            images = _check_pixel_array(images)
        if not isinstance(images, tf.data.Dataset) and len(images) != len(labels):
            raise ValueError(
                "images and labels must have the same length. Received: "
                f"{len(images)} images and {len(labels)} labels"
            )
        if class_names is None:
            num_classes = int(labels.max()) + 1 if labels.size else 0
            class_names = [str(i) for i in range(num_classes)]
        elif labels.size and labels.max() >= len(class_names):
            raise ValueError(
                f"labels must be < len(class_names)={len(class_names)}. "
                f"Received: a label of {labels.max()}"
            )
        self.images = images
        self.labels = labels.astype("int64")
        self.class_names = list(class_names)
        self._image_size = tuple(image_size) if image_size is not None else None

    def __len__(self):
        return len(self.labels)

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def image_size(self):
        """`(height, width)`: the median over the first 8 images unless given."""
        if self._image_size is None:
            if isinstance(self.images, np.ndarray):
                self._image_size = tuple(int(d) for d in self.images.shape[1:3])
            else:
                try:
                    shapes = [
                        tuple(decode_image(image).shape[:2])
                        for image, _ in self.as_dataset().take(8)
                    ]
                except tf.errors.InvalidArgumentError as error:
                    first = self.select(range(min(8, len(self))))
                    named = name_undecodable_files(error, first)
                    if named is None:
                        raise
                    raise named from error
                if not shapes:
                    raise ValueError("image_size of an empty LabeledImages.")
                self._image_size = tuple(int(d) for d in np.median(shapes, axis=0))
        return self._image_size

    def select(self, indices):
        """Returns the examples at `indices` (in that order for arrays/files)."""
        indices = np.asarray(indices, dtype="int64")
        if indices.size and (indices.min() < 0 or indices.max() >= len(self)):
            raise ValueError(
                f"indices must be in [0, {len(self)}). Received: indices from "
                f"{indices.min()} to {indices.max()}"
            )
        if isinstance(self.images, np.ndarray):
            images = self.images[indices]
        elif isinstance(self.images, list):
            images = [self.images[i] for i in indices]
        else:
            # A stream can only be filtered, so the order stays the stream's.
            indices = np.unique(indices)
            keep = np.zeros(len(self), dtype=bool)
            keep[indices] = True
            keep = tf.constant(keep)
            images = (
                self.images.enumerate()
                .filter(lambda i, image: tf.gather(keep, i))
                .map(lambda i, image: image)
            )
        return LabeledImages(
            images, self.labels[indices], self.class_names, self._image_size
        )

    def select_classes(self, classes):
        """Keeps the examples of `classes` and relabels them `0..len(classes)-1`."""
        classes = [int(c) for c in classes]
        unknown = [c for c in classes if not 0 <= c < self.num_classes]
        if unknown or len(set(classes)) != len(classes):
            raise ValueError(
                f"classes must be distinct ints in [0, {self.num_classes}). "
                f"Received: classes={classes}"
            )
        indices = np.flatnonzero(np.isin(self.labels, classes))
        subset = self.select(indices)
        mapping = np.full(self.num_classes, -1, dtype="int64")
        mapping[classes] = np.arange(len(classes))
        return LabeledImages(
            subset.images,
            mapping[subset.labels],
            [self.class_names[c] for c in classes],
            self._image_size,
        )

    def with_class_names(self, class_names):
        """Relabels the examples by name to index `class_names` (a model's order).

        Classes are matched by name, not position: a test folder missing one
        class keeps the others' labels right, and a subset of a model's
        classes is evaluated against the model's own label numbers.

        Args:
            class_names: list of str. The model's classes, in label order.

        Returns:
            A `LabeledImages` with the same examples and `class_names`.

        Raises:
            ValueError: when some classes here are not in `class_names`.
        """
        class_names = [str(name) for name in class_names]
        index = {name: i for i, name in enumerate(class_names)}
        unknown = [name for name in self.class_names if name not in index]
        if unknown:
            raise ValueError(
                f"The images have classes the model does not know: {unknown}. "
                f"The model's classes are {class_names}"
            )
        mapping = np.array([index[name] for name in self.class_names], "int64")
        return LabeledImages(
            self.images,
            mapping[self.labels] if len(self) else self.labels,
            class_names,
            self._image_size,
        )

    def hold_out(self, fraction=0.2, seed=0):
        """Splits off `fraction` of every class, drawn with `seed`.

        For data that comes as one set (an image folder): the held-out part
        scores models the rest trains. Each class of two or more examples
        gives `round(fraction * count)` of them, at least one and never all;
        a class of one stays in training.

        Args:
            fraction: float in (0, 1). Defaults to `0.2`.
            seed: int. Defaults to `0`.

        Returns:
            `(rest, held_out)`: two `LabeledImages` with the same class names
            and no example in common.

        Example:
        >>> images = LabeledImages(np.zeros((10, 4, 4, 3), "uint8"), [0] * 5 + [1] * 5)
        >>> rest, held_out = images.hold_out(0.2)
        >>> len(rest), len(held_out)
        (8, 2)
        """
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, (int, float, np.floating))
            or not 0 < fraction < 1
        ):
            raise ValueError(
                f"fraction must be a float in (0, 1). Received: fraction={fraction!r}"
            )
        rng = np.random.default_rng(seed)
        held = []
        for label in range(self.num_classes):
            members = np.flatnonzero(self.labels == label)
            if len(members) < 2:
                continue
            count = min(len(members) - 1, max(1, round(fraction * len(members))))
            held.extend(rng.choice(members, size=count, replace=False).tolist())
        held = np.sort(np.asarray(held, dtype="int64"))
        rest = np.setdiff1d(np.arange(len(self)), held)
        return self.select(rest), self.select(held)

    def few_shot(self, shots, seed=0):
        """Returns `shots` examples of every class, drawn with `seed`."""
        return self.select(
            few_shot_indices(
                self.labels,
                shots,
                seed=seed,
                num_classes=self.num_classes,
                class_names=self.class_names,
            )
        )

    def undecodable_files(self, limit=None):
        """`(path, decoder error)` of the files that fail to decode, in order.

        Decodes every file (pixels and `tf.data` sources have no files:
        `[]`), so it is slow on a large folder; `name_undecodable_files`
        calls it only after a failure.

        Args:
            limit: int or `None`. Stop after this many.
        """
        bad = []
        if not isinstance(self.images, list):
            return bad
        for path in self.images:
            if limit is not None and len(bad) >= limit:
                break
            try:
                decode_image(tf.io.read_file(path))
            except tf.errors.InvalidArgumentError as error:
                reason = error.message.split("[Op:")[0].split("}}")[-1].strip()
                bad.append((path, reason))
        return bad

    def fingerprint(self):
        """What identifies this data, to tell it from other data of the same classes.

        A resumed training run compares it with the run's, so that resuming
        on a different folder (or a folder whose files changed) is refused.
        Files are identified by their paths relative to the folder that
        holds them all and their sizes, so a moved folder keeps its
        fingerprint; pixel arrays by their bytes; a `tf.data` source by its
        labels only.

        Returns:
            dict: `num_examples`, `class_names`, `examples_per_class`
            (class name -> count) and `sha256` (hex digest of the images
            and their labels, in order).

        Example:
        >>> LabeledImages(np.zeros((2, 4, 4), "uint8"), [0, 1]).fingerprint()[
        ...     "examples_per_class"]
        {'0': 1, '1': 1}
        """
        digest = hashlib.sha256()
        digest.update(self.labels.astype("<i8").tobytes())
        if isinstance(self.images, np.ndarray):
            digest.update(str(self.images.shape).encode())
            digest.update(np.ascontiguousarray(self.images).tobytes())
        elif isinstance(self.images, list) and self.images:
            root = os.path.commonpath([os.path.dirname(p) for p in self.images])
            for path in self.images:
                size = os.path.getsize(path) if os.path.exists(path) else -1
                digest.update(f"{os.path.relpath(path, root)}\0{size}\n".encode())
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {
            "num_examples": len(self),
            "class_names": list(self.class_names),
            "examples_per_class": {
                name: int(count) for name, count in zip(self.class_names, counts)
            },
            "sha256": digest.hexdigest(),
        }

    def as_dataset(self):
        """A `tf.data.Dataset` of `(image, label)` in order, images undecoded.

        Images are pixel tensors for arrays and encoded bytes for files;
        `ktb.data.image_classification_pipeline` takes either.
        """
        labels = tf.data.Dataset.from_tensor_slices(self.labels)
        if isinstance(self.images, np.ndarray):
            images = tf.data.Dataset.from_tensor_slices(self.images)
        elif isinstance(self.images, list):
            images = tf.data.Dataset.from_tensor_slices(
                tf.constant(self.images, dtype=tf.string)
            ).map(read_image_file)  # a bad file fails naming its path
        else:
            images = self.images
        return tf.data.Dataset.zip((images, labels))

    def __repr__(self):
        return (
            f"LabeledImages(num_examples={len(self)}, num_classes={self.num_classes})"
        )
