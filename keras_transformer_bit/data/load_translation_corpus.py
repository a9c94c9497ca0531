"""One entry point that turns a corpus name or path into a `ParallelCorpus`."""

import os

from keras_transformer_bit.data.ding_corpus import load_ding_de_en
from keras_transformer_bit.data.sword_corpus import load_sword_en_es
from keras_transformer_bit.data.text_file_corpus import (
    read_aligned_corpus,
    read_tsv_corpus,
)
from keras_transformer_bit.data.tfds_corpus import load_tfds_corpus
from keras_transformer_bit.utils import SettingError

CORPUS_HELP = (
    "'ding' (German->English, Debian trans-de-en), 'sword_en_es' or 'sword_es_en' "
    "(Bible verses, Debian sword-text-web + sword-text-sparv), 'tfds:NAME' (e.g. "
    "tfds:ted_hrlr_translate/pt_to_en), a tab-separated file, or two line-aligned "
    "files as 'SOURCE_FILE,TARGET_FILE'"
)


DING_NAMES = ("ding", "ding_de_en")
SWORD_NAMES = ("sword_en_es", "sword_es_en")


def load_translation_corpus(
    data="ding",
    seed=1234,
    test_size=None,
    validation_size=None,
    source_column=None,
    target_column=None,
    **kwargs,
):
    """Loads a parallel corpus named by a short string (the CLI's `--data`).

    Args:
        data: str. One of `"ding"`, `"sword_en_es"`, `"sword_es_en"`,
            `"tfds:<name>"`, a path to a TSV file, or `"<source>,<target>"`
            paths of two aligned files. Defaults to `"ding"`.
        seed: int. Split seed. Defaults to `1234`.
        test_size: int or `None`. Test pairs; `None` holds out a tenth of the
            pairs, at most 1000 (see `ParallelCorpus.from_pairs`). For a TFDS
            dataset, the size of a test split cut from training when the
            dataset has none, or else the first that many test pairs.
            Defaults to `None`.
        validation_size: int or `None`. Validation pairs, likewise. Defaults
            to `None`.
        source_column: int or `None`. For a tab-separated file: the column
            of the source sentences, counting from 0. Defaults to `None`
            (column 0).
        target_column: int or `None`. Likewise, the target sentences.
            Defaults to `None` (column 1).
        **kwargs: passed to the reader (e.g. `on_malformed`, `max_examples`).

    Returns:
        A `ParallelCorpus`.

    Raises:
        SettingError: `data` names no corpus, or a held-out size does not fit
            (a `ValueError` that a caller may restate in its own names, such
            as `--data`).

    Example:
    >>> corpus = load_translation_corpus("ding")  # doctest: +SKIP
    >>> len(corpus.test)  # doctest: +SKIP
    1000
    """
    check_corpus_name(data)
    kwargs.update(seed=seed, test_size=test_size, validation_size=validation_size)
    columns = {
        key: value
        for key, value in (
            ("source_column", source_column),
            ("target_column", target_column),
        )
        if value is not None
    }
    if columns and not os.path.isfile(data):
        raise SettingError(
            lambda name: (
                " and ".join(name(key) for key in columns)
                + (" chooses a column" if len(columns) == 1 else " choose columns")
                + f" of a tab-separated file; {name('data')}={data!r} "
                "is not one. Received: "
                + ", ".join(f"{name(key)}={value!r}" for key, value in columns.items())
            )
        )
    if data in DING_NAMES:
        return load_ding_de_en(**kwargs)
    if data in SWORD_NAMES:
        return load_sword_en_es(data[-5:-3], **kwargs)
    if data.startswith("tfds:"):
        return load_tfds_corpus(data[len("tfds:") :], **kwargs)
    if "," in data and not os.path.exists(data):
        return read_aligned_corpus(*data.split(",", 1), **kwargs)
    if os.path.isfile(data):
        return read_tsv_corpus(data, **columns, **kwargs)
    raise _unknown_corpus(data)


def check_corpus_name(data):
    """Refuses a `data` that names no corpus, without reading any (a
    `SettingError` naming `--data` under `ktb`): a built-in name, a
    `tfds:` name, an existing file, or two existing files `SOURCE,TARGET`.

    Example:
    >>> check_corpus_name("ding")
    """
    if not isinstance(data, str) or not data:
        raise _unknown_corpus(data)
    if data in DING_NAMES + SWORD_NAMES or data.startswith("tfds:"):
        return
    if os.path.isfile(data):
        return
    if "," in data and not os.path.exists(data):
        missing = [path for path in data.split(",", 1) if not os.path.isfile(path)]
        if not missing:
            return
        raise SettingError(
            lambda name: (
                f"{name('data')} with a comma must name two line-aligned files, "
                f"SOURCE_FILE,TARGET_FILE, that exist; no such file: "
                f"{', '.join(missing)}. Received: {name('data')}={data!r}"
            )
        )
    raise _unknown_corpus(data)


def _unknown_corpus(data):
    """The error for a `data` that names no corpus (`--data` under `ktb`)."""
    return SettingError(
        lambda name: (
            f"{name('data')} must be {CORPUS_HELP}. Received: {name('data')}={data!r}"
            + (" (no such file)" if isinstance(data, str) and data else "")
        )
    )
