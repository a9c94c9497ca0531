"""Translation datasets from tensorflow-datasets, by name."""

import random

from keras_transformer_bit.data.parallel_corpus import ParallelCorpus
from keras_transformer_bit.utils import SettingError, check_non_negative_int


def _decode_pairs(dataset, max_examples):
    import tensorflow_datasets as tfds

    if max_examples is not None:
        dataset = dataset.take(max_examples)
    pairs = []
    for source, target in tfds.as_numpy(dataset):
        try:
            pairs.append(
                (source.decode("utf-8").strip(), target.decode("utf-8").strip())
            )
        except UnicodeDecodeError as error:
            raise ValueError(
                f"A tensorflow-datasets example is not valid UTF-8: {error}"
            ) from None
    return [(source, target) for source, target in pairs if source and target]


def _check_fits(key, size, most, where):
    """Refuses an explicit `size` over `most`, the pairs `where` holds."""
    if size is not None and size > most:
        raise SettingError(
            lambda name: (
                f"{name(key)}={size} asks for more pairs than {where} "
                f"holds: {most}. Use at most {most}."
            )
        )


def load_tfds_corpus(
    name,
    data_dir=None,
    download=True,
    splits=("train", "validation", "test"),
    max_examples=None,
    held_out_size=1000,
    seed=1234,
    test_size=None,
    validation_size=None,
):
    """Loads a tensorflow-datasets translation dataset through `tfds.load`.

    The dataset's supervised keys give the direction: `ted_hrlr_translate/pt_to_en`
    reads Portuguese→English, `wmt14_translate/de-en` German→English. A split the
    dataset does not have (validation or test) is cut from the end of the
    shuffled training pairs with `held_out_size` pairs.

    Args:
        name: str. A TFDS name with config, e.g. `"ted_hrlr_translate/pt_to_en"`.
        data_dir: str or `None`. TFDS data directory. Defaults to `None` (TFDS's
            default, `~/tensorflow_datasets`).
        download: bool. Let TFDS download and prepare the data when missing.
            Defaults to `True`.
        splits: tuple of three str. Names of the train, validation and test
            splits. Defaults to `("train", "validation", "test")`.
        max_examples: int or `None`. Read at most this many pairs per split.
            Defaults to `None`.
        held_out_size: int. Size of a split carved from training. Defaults to
            `1000`.
        seed: int. Seed for carving splits. Defaults to `1234`.
        test_size: int or `None`. Test pairs: the size of a carved test split
            (instead of `held_out_size`; at most a quarter of the training
            pairs), or the first that many pairs of the dataset's own (at most
            all of them). A size beyond that raises a `SettingError`.
            Defaults to `None` (`held_out_size`, or the whole split).
        validation_size: int or `None`. Validation pairs, likewise. Defaults
            to `None`.

    Returns:
        A `ParallelCorpus`.

    Example:
    >>> corpus = load_tfds_corpus("ted_hrlr_translate/pt_to_en")  # doctest: +SKIP
    """
    for argument, size in (
        ("test_size", test_size),
        ("validation_size", validation_size),
    ):
        if size is not None:
            check_non_negative_int(argument, size)
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # tfds raises several types for unknown names.
        raise ValueError(
            f"Unknown tensorflow-datasets dataset. Received: name={name!r} ({error})"
        ) from None
    supervised_keys = builder.info.supervised_keys
    if not supervised_keys or len(supervised_keys) != 2:
        raise ValueError(
            f"{name!r} is not a translation dataset: it has no (source, target) "
            f"supervised keys. Received: supervised_keys={supervised_keys}"
        )
    source_language, target_language = supervised_keys
    available = set(builder.info.splits.keys())
    loaded = {}
    for split in splits:
        # Without prepared metadata (e.g. under tfds.testing.mock_data) the split
        # list is empty and every split is tried.
        if available and split not in available:
            continue
        dataset = tfds.load(
            name,
            split=split,
            as_supervised=True,
            data_dir=data_dir,
            download=download,
            shuffle_files=False,
        )
        if any(spec.dtype != tf.string for spec in dataset.element_spec):
            raise ValueError(
                f"{name!r} is not a translation dataset: its supervised keys "
                f"{supervised_keys} are not both text."
            )
        loaded[split] = _decode_pairs(dataset, max_examples)
    train_split, validation_split, test_split = splits
    train = loaded.get(train_split)
    if train is None:
        raise ValueError(
            f"{name!r} has no split {train_split!r}. Available: {sorted(available)}"
        )
    random.Random(seed).shuffle(train)
    sizes = {
        test_split: ("test_size", test_size),
        validation_split: ("validation_size", validation_size),
    }
    for split in (test_split, validation_split):
        key, size = sizes[split]
        if split not in loaded:  # cut from training: at most a quarter of it
            most = len(train) // 4
            _check_fits(key, size, most, f"a quarter of the {len(train)} training "
                        f"pairs of {name}, which {split} is cut from")  # fmt: skip
            size = min(held_out_size, most) if size is None else int(size)
            loaded[split] = train[len(train) - size :]
            train = train[: len(train) - size]
        elif size is not None:
            _check_fits(key, size, len(loaded[split]), f"the {split} split of {name}")
            loaded[split] = loaded[split][: int(size)]
    return ParallelCorpus(
        train=train,
        validation=loaded[validation_split],
        test=loaded[test_split],
        source_language=source_language,
        target_language=target_language,
        name=name,
    )
