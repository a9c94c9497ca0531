"""Fashion-MNIST from the Debian package `dataset-fashion-mnist` (offline)."""

import gzip
import os

import numpy as np

from keras_transformer_bit.data.labeled_images import LabeledImages

DEFAULT_DIRECTORY = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# IDX magic numbers: two zero bytes, the element type (0x08 = uint8), the rank.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


def read_idx(path, expected_magic):
    """Reads a gzip-compressed IDX file (LeCun's MNIST format) into an array."""
    with gzip.open(path, "rb") as file:
        data = file.read()
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"{path} is not an IDX file of rank {expected_magic & 0xFF} uint8: "
            f"magic number {magic:#010x}, expected {expected_magic:#010x}."
        )
    rank = magic & 0xFF
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    offset = 4 + 4 * rank
    if len(data) - offset != int(np.prod(shape)):
        raise ValueError(
            f"{path} is truncated: header says {shape} ({int(np.prod(shape))} "
            f"bytes of data), file holds {len(data) - offset}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def load_fashion_mnist(split="train", directory=DEFAULT_DIRECTORY):
    """Loads Fashion-MNIST (Xiao et al. 2017) from the Debian data files.

    Args:
        split: str. `"train"` (60,000 images) or `"test"` (10,000).
        directory: str. Where the four `*-idx?-ubyte.gz` files are.
            Defaults to the Debian location.

    Returns:
        A `LabeledImages` of uint8 `(N, 28, 28)` grayscale images, 10 classes.

    Example:
    >>> train = load_fashion_mnist("train")
    >>> len(train), train.image_size, train.class_names[9]
    (60000, (28, 28), 'Ankle boot')
    """
    if split not in _FILES:
        raise ValueError(
            f"split must be one of {sorted(_FILES)}. Received: split={split!r}"
        )
    paths = [os.path.join(directory, name) for name in _FILES[split]]
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST files not found: {', '.join(missing)}. On Debian or "
            "Ubuntu install them with `apt-get install dataset-fashion-mnist`, or "
            "pass the directory holding them."
        )
    images = read_idx(paths[0], _IMAGES_MAGIC)
    labels = read_idx(paths[1], _LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(
            f"{paths[0]} holds {len(images)} images but {paths[1]} holds "
            f"{len(labels)} labels."
        )
    return LabeledImages(images, labels.astype("int64"), CLASS_NAMES)
