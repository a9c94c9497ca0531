"""Image classification datasets from TensorFlow Datasets, by name."""

import numpy as np

from keras_transformer_bit.data.labeled_images import LabeledImages


def load_tfds_images(
    name,
    split="train",
    data_dir=None,
    image_key="image",
    label_key="label",
    download=True,
):
    """Loads a TFDS image classification dataset, e.g. `"cifar10"`, by name.

    Images stay encoded (`tfds.decode.SkipDecoding`) so that reading the labels
    is cheap; the pipeline decodes them.

    Args:
        name: str. TFDS name, optionally with a version (`"cifar10:3.0.2"`).
        split: str. TFDS split, slices allowed (`"train[:10%]"`).
        data_dir: str or `None`. TFDS data directory.
        image_key: str. Feature holding the image.
        label_key: str. Feature holding the `ClassLabel`.
        download: bool. Download and prepare when missing.

    Returns:
        A `LabeledImages` backed by the TFDS dataset.

    Example:
    >>> train = load_tfds_images("cifar10", "train[:1000]")  # doctest: +SKIP
    """
    import tensorflow_datasets as tfds

    # Check the feature names first: a wrong key in `decoders` fails deep
    # inside TFDS with a message about flattening dicts.
    features = tfds.builder(name, data_dir=data_dir).info.features
    for key in (image_key, label_key):
        if key not in features:
            raise ValueError(
                f"{name} has no feature {key!r}. Its features: {list(features)}"
            )
    dataset = tfds.load(
        name,
        split=split,
        data_dir=data_dir,
        download=download,
        shuffle_files=False,
        decoders={image_key: tfds.decode.SkipDecoding()},
    )
    label_feature = features[label_key]
    if not hasattr(label_feature, "num_classes"):
        raise ValueError(
            f"{name}/{label_key} is not a ClassLabel: {type(label_feature).__name__}"
        )
    labels = np.fromiter(
        dataset.map(lambda example: example[label_key]).as_numpy_iterator(),
        dtype=np.int64,
    )
    images = dataset.map(lambda example: example[image_key])
    shape = features[image_key].shape
    image_size = tuple(shape[:2]) if None not in shape[:2] else None
    return LabeledImages(
        images, labels, list(label_feature.names), image_size=image_size
    )
