"""Parallel corpora from plain text: a TSV file or two line-aligned files."""

import numbers
import os

from keras_transformer_bit.data.parallel_corpus import ParallelCorpus, comparison_key
from keras_transformer_bit.utils import SettingError

ON_MALFORMED = ("skip", "raise")


def _check_on_malformed(on_malformed):
    if on_malformed not in ON_MALFORMED:
        raise ValueError(
            f"on_malformed must be one of {ON_MALFORMED}. "
            f"Received: on_malformed={on_malformed!r}"
        )


def check_columns(source_column, target_column):
    """Returns the two columns as ints, or raises a `SettingError` naming them
    as the caller does (`--source-column` under `ktb`): each must be an int
    >= 0, and they must differ."""
    for key, value in (
        ("source_column", source_column),
        ("target_column", target_column),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or value < 0
        ):
            raise SettingError(
                lambda name, key=key, value=value: (
                    f"{name(key)} must be an int >= 0 (a column, counting "
                    f"from 0). Received: {name(key)}={value!r}"
                )
            )
    if source_column == target_column:
        raise SettingError(
            lambda name: (
                f"{name('source_column')} and {name('target_column')} "
                f"must differ. Received: {name('source_column')}={source_column}, "
                f"{name('target_column')}={target_column}"
            )
        )
    return int(source_column), int(target_column)


def _read_lines(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"Corpus file not found: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{path} is a directory; expected a corpus file (UTF-8 text, one "
            "pair or sentence per line)."
        )
    with open(path, "rb") as file:
        raw = file.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_number = raw[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{path}:{line_number} is not valid UTF-8 ({error.reason} at byte "
            f"{error.start}). Convert the file to UTF-8, e.g. with iconv."
        ) from None
    # Only "\n" (or "\r\n") ends a line: str.splitlines() also splits at
    # U+2028, U+0085, form feeds and lone "\r", which would cut a sentence in
    # two and shift every later line of an aligned file.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _drop_extra_blank_lines(lines, count):
    """`lines` without the blank lines at its end that go past `count` lines
    (an editor's extra newline): they would make aligned files' line counts
    differ, though no sentence is missing."""
    end = len(lines)
    while end > count and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def read_tsv_corpus(
    path,
    source_column=0,
    target_column=1,
    on_malformed="skip",
    **split_kwargs,
):
    """Reads tab-separated sentence pairs.

    A line is malformed when it lacks one of the columns or either side is empty
    (or holds only spaces and invisible characters such as a zero-width space).
    Such lines are counted in `num_malformed` and skipped, or raise with
    `on_malformed="raise"`. Blank lines are ignored.

    Args:
        path: str. A UTF-8 text file, one pair per line.
        source_column: int. Column of the source sentence, counting from 0.
            Defaults to `0`.
        target_column: int. Column of the target sentence, another than
            `source_column`. Defaults to `1`.
        on_malformed: str. `"skip"` or `"raise"`. Defaults to `"skip"`.
        **split_kwargs: passed to `ParallelCorpus.from_pairs` (`test_size`,
            `validation_size`, `seed`, `source_language`, ...).

    Returns:
        A `ParallelCorpus`.

    Example:
    >>> corpus = read_tsv_corpus("pairs.tsv", test_size=100)  # doctest: +SKIP
    """
    _check_on_malformed(on_malformed)
    source_column, target_column = check_columns(source_column, target_column)
    pairs = []
    num_malformed = 0
    most_columns = 0
    width = max(source_column, target_column) + 1
    for line_number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        most_columns = max(most_columns, len(columns))
        source = columns[source_column].strip() if len(columns) >= width else ""
        target = columns[target_column].strip() if len(columns) >= width else ""
        if not comparison_key(source) or not comparison_key(target):
            if on_malformed == "raise":
                raise ValueError(
                    f"{path}:{line_number} is malformed: expected {width} "
                    f"tab-separated non-empty columns. Received: {line!r}"
                )
            num_malformed += 1
            continue
        pairs.append((source, target))
    if not pairs and most_columns and most_columns < width:
        raise SettingError(
            lambda name: (
                f"{path} has no column {width - 1} (counting from 0): its "
                f"lines have at most {most_columns} tab-separated columns. Received: "
                f"{name('source_column')}={source_column}, "
                f"{name('target_column')}={target_column}"
            )
        )
    split_kwargs.setdefault("name", os.path.basename(path))
    return ParallelCorpus.from_pairs(pairs, num_malformed=num_malformed, **split_kwargs)


def read_aligned_corpus(source_path, target_path, on_malformed="skip", **split_kwargs):
    """Reads two files whose lines are translations of each other.

    Files with different line counts raise; blank lines at the end of the
    longer file that go past the other's count are not counted. A line pair
    where one side is empty is malformed: counted and skipped, or raised
    with `on_malformed="raise"`.

    Args:
        source_path: str. UTF-8 file of source sentences, one per line.
        target_path: str. UTF-8 file of target sentences, one per line.
        on_malformed: str. `"skip"` or `"raise"`. Defaults to `"skip"`.
        **split_kwargs: passed to `ParallelCorpus.from_pairs`.

    Returns:
        A `ParallelCorpus`.

    Example:
    >>> corpus = read_aligned_corpus("train.de", "train.en")  # doctest: +SKIP
    """
    _check_on_malformed(on_malformed)
    source_lines = _read_lines(source_path)
    target_lines = _read_lines(target_path)
    source_lines = _drop_extra_blank_lines(source_lines, len(target_lines))
    target_lines = _drop_extra_blank_lines(target_lines, len(source_lines))
    if len(source_lines) != len(target_lines):
        raise ValueError(
            "Aligned corpus files must have the same number of lines. Received: "
            f"{source_path} has {len(source_lines)}, {target_path} has "
            f"{len(target_lines)}."
        )
    pairs = []
    num_malformed = 0
    for line_number, (source, target) in enumerate(
        zip(source_lines, target_lines), start=1
    ):
        source, target = source.strip(), target.strip()
        if not source and not target:
            continue
        if not comparison_key(source) or not comparison_key(target):
            if on_malformed == "raise":
                raise ValueError(
                    f"Line {line_number} of {source_path} / {target_path} has an "
                    "empty side; expected a sentence on both."
                )
            num_malformed += 1
            continue
        pairs.append((source, target))
    split_kwargs.setdefault("name", os.path.basename(source_path))
    return ParallelCorpus.from_pairs(pairs, num_malformed=num_malformed, **split_kwargs)
