"""A parallel corpus split into train, validation and test sentence pairs."""

import dataclasses
import random
import unicodedata

from keras_transformer_bit.utils import (
    SettingError,
    check_non_negative_int,
    check_seed,
)
from keras_transformer_bit.utils.check_known_arguments import check_known_arguments

# Held-out pairs per split by default: a tenth of the corpus, at most this many.
DEFAULT_HELD_OUT_SIZE = 1000


def comparison_key(text):
    """How two texts are compared for repeats and for leaks between splits:
    case, spacing, invisible format characters (zero-width space, byte order
    mark) and Unicode normalization form (composed "ö" or "o" + combining
    diaeresis, full-width letters) do not count. An empty key is a blank text.

    Example:
    >>> comparison_key("  One moment,  please!")
    'one moment, please!'
    >>> comparison_key("Scho\u0308n") == comparison_key("SCHÖN\u200b")
    True
    >>> comparison_key("\u200b ")
    ''
    """
    text = unicodedata.normalize("NFKC", text)
    visible = "".join(map(_visible, text))
    return " ".join(visible.casefold().split())


# Default-ignorable characters outside category Cf: the combining grapheme
# joiner, Hangul fillers, Mongolian and other variation selectors.
_IGNORABLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0]
    + list(range(0x180B, 0x1810))
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)


def _visible(character):
    """`character`, or "" for an invisible one, or a space for a control or
    a zero-width space (a word break)."""
    if character == "\u200b":
        return " "
    category = unicodedata.category(character)
    if category == "Cf" or ord(character) in _IGNORABLE:
        return ""
    return " " if category == "Cc" else character


def _hold_out(pairs, size, taken):
    """Moves `size` pairs from the front of `pairs` into a held-out split,
    passing over those that share a source or target (`comparison_key`) with
    a pair in `taken` (the keys of the splits held out before, updated);
    returns `(held_out, rest)`, the rest in their order."""
    held_out, rest = [], []
    for pair in pairs:
        keys = [(side, comparison_key(text)) for side, text in enumerate(pair)]
        if len(held_out) < size and not any(key in taken for key in keys):
            held_out.append(pair)
            taken.update(keys)
        else:
            rest.append(pair)
    return held_out, rest


def _default_held_out_size(num_pairs):
    if num_pairs < 3:
        return 0
    return max(1, min(DEFAULT_HELD_OUT_SIZE, num_pairs // 10))


def _held_out_sizes(num_pairs, test_size, validation_size, corpus_name):
    """`(test_size, validation_size)` as ints: the defaults (`None`) for a
    corpus of `num_pairs`, or the sizes asked when the two leave at least
    half of the pairs for training; else a `SettingError` naming the most
    that each may be."""
    held_out = num_pairs // 2
    automatic = _default_held_out_size(num_pairs)
    # The default sizes: smaller where a tiny corpus has no room for both.
    default_test = min(automatic, max(held_out // 2, held_out - automatic))
    defaults = {
        "test_size": default_test,
        "validation_size": min(automatic, held_out - default_test),
    }
    asked = {"test_size": test_size, "validation_size": validation_size}
    explicit = {key: int(value) for key, value in asked.items() if value is not None}
    sizes = {key: explicit.get(key, defaults[key]) for key in asked}
    if sum(sizes.values()) > held_out:
        raise SettingError(
            lambda name: _too_many_held_out(
                name, num_pairs, held_out, corpus_name, explicit, defaults
            )
        )
    return sizes["test_size"], sizes["validation_size"]


def _too_many_held_out(name, num_pairs, held_out, corpus_name, explicit, defaults):
    """The message of held-out sizes that take more than half of a corpus."""
    keys = list(explicit)
    asked = " and ".join(f"{name(key)}={explicit[key]}" for key in keys)
    message = (
        f"{asked} {'ask' if len(keys) > 1 else 'asks'} for more held-out pairs "
        f"than the corpus {corpus_name!r} allows: it has {num_pairs} "
        f"pair{'' if num_pairs == 1 else 's'}, of "
        f"which at most half, {held_out}, are held out (training keeps the "
        "rest), "
    )
    if len(keys) == 1:
        (key,) = keys
        other = "validation_size" if key == "test_size" else "test_size"
        return message + (
            f"and {name(other)} takes {defaults[other]} (its default), so "
            f"{name(key)} may be at most {held_out - defaults[other]}."
        )
    smaller, larger = sorted(keys, key=lambda key: explicit[key])
    if explicit[smaller] <= held_out:
        return message + (
            f"so with {name(smaller)}={explicit[smaller]}, {name(larger)} may "
            f"be at most {held_out - explicit[smaller]}."
        )
    return message + (
        f"so {name('test_size')} and {name('validation_size')} may be at most "
        f"{held_out} together."
    )


@dataclasses.dataclass
class ParallelCorpus:
    """Source/target sentence pairs, split into train, validation and test.

    Each split is a list of `(source, target)` string tuples. Readers fill
    `num_malformed` with the lines they skipped as malformed.

    Args:
        train: list of (str, str). Training pairs.
        validation: list of (str, str). Validation pairs.
        test: list of (str, str). Test pairs.
        source_language: str. Code of the source language, e.g. `"de"`.
        target_language: str. Code of the target language, e.g. `"en"`.
        name: str. Where the corpus came from.
        num_malformed: int. Lines the reader skipped as malformed.
        num_phrase_pairs: int. How many of the training pairs are dictionary
            words and phrases rather than sentences (`load_ding_de_en`).
        num_alternative_pairs: int. How many of the training pairs are other
            wordings of training sentences (`load_ding_de_en`).
        num_overlaps_dropped: int. Training pairs that `from_pairs` left out
            because their source or their target equals that of a test
            or validation pair.
        num_duplicates_dropped: int. Pairs that `from_pairs` dropped because
            an earlier pair had the same source (the same pair repeated, or
            another translation of the same sentence).

    Example:
    >>> pairs = [(f"Satz {i}.", f"Sentence {i}.") for i in range(20)]
    >>> corpus = ParallelCorpus.from_pairs(pairs)
    >>> len(corpus.train), len(corpus.validation), len(corpus.test)
    (16, 2, 2)
    """

    train: list
    validation: list
    test: list
    source_language: str = "src"
    target_language: str = "tgt"
    name: str = "corpus"
    num_malformed: int = 0
    num_phrase_pairs: int = 0
    num_alternative_pairs: int = 0
    num_overlaps_dropped: int = 0
    num_duplicates_dropped: int = 0

    def __post_init__(self):
        if not self.train:
            raise ValueError(
                f"The corpus {self.name!r} has no training pairs. Check that the "
                "input is not empty and that its lines are not all filtered out."
            )

    @classmethod
    def from_pairs(
        cls,
        pairs,
        test_size=None,
        validation_size=None,
        seed=1234,
        deduplicate=True,
        **kwargs,
    ):
        """Shuffles `pairs` with `seed` and cuts off test and validation pairs.

        A pair with an empty side (or one of only spaces and invisible
        characters) is skipped and counted in `num_malformed`, as the file
        readers do.

        The split depends only on the pairs and the seed, so runs are comparable.
        By default each held-out split gets a tenth of the pairs, at least 1
        (from 3 pairs on) and at most 1000: 100 pairs give 80/10/10, 50,000
        give 48,000/1000/1000. The held-out splits take at most half of the
        pairs, so that training keeps the rest: explicit sizes that do not
        fit are refused (a `SettingError` that names the most each may be),
        never cut down to something other than what was asked.

        Args:
            pairs: iterable of (str, str).
            test_size: int or `None`. Number of test pairs. Defaults to `None`
                (a tenth, at most 1000).
            validation_size: int or `None`. Number of validation pairs.
                Defaults to `None` (a tenth, at most 1000).
            seed: int in `[0, 2**32 - 1]`. Shuffling seed. Defaults to `1234`.
            deduplicate: bool. Compare sentences by `comparison_key`
                (ignoring case, spacing, invisible characters and Unicode
                normalization): drop repeated pairs and pairs whose source
                was seen before (the count is `num_duplicates_dropped`);
                keep the test and validation splits from sharing a sentence
                on either side (each still gets its size); then drop the
                training pairs whose source equals the source of a test or
                validation pair, or whose target equals its target (so no
                held-out sentence is trained on; the count is
                `num_overlaps_dropped`). Defaults to `True`.
            **kwargs: the other `ParallelCorpus` fields.

        Raises:
            SettingError: `test_size` and `validation_size` hold out more than
                half of the pairs (an error the caller may word in its own
                names, `--test-size` under `ktb`).
            ValueError: no pair is left for training; the message counts
                where the pairs went.
        """
        seed = _check_from_pairs_arguments(
            cls, kwargs, test_size, validation_size, seed, deduplicate
        )
        pairs = list(pairs)
        for index, pair in enumerate(pairs):
            _check_pair(index, pair)
        num_given = len(pairs)
        pairs = [pair for pair in pairs if all(map(comparison_key, pair))]
        kwargs["num_malformed"] = (
            kwargs.get("num_malformed", 0) + num_given - len(pairs)
        )
        if deduplicate:
            unique = _first_of_each_source(pairs)
            kwargs["num_duplicates_dropped"] = len(pairs) - len(unique)
            pairs = unique
        if not pairs:
            raise ValueError(
                f"The corpus {kwargs.get('name', 'corpus')!r} is empty: no sentence "
                "pairs are left after reading and filtering."
            )
        # Sort first so the split does not depend on the reading order.
        pairs.sort()
        random.Random(seed).shuffle(pairs)
        test_size, validation_size = _held_out_sizes(
            len(pairs), test_size, validation_size, kwargs.get("name", "corpus")
        )
        if deduplicate:
            # No sentence, on either side, in both held-out splits.
            taken = set()
            test, pairs = _hold_out(pairs, test_size, taken)
            validation, train = _hold_out(pairs, validation_size, taken)
        else:
            test = pairs[:test_size]
            validation = pairs[test_size : test_size + validation_size]
            train = pairs[test_size + validation_size :]
        if deduplicate:
            held_out = test + validation
            sources = {comparison_key(source) for source, _ in held_out}
            targets = {comparison_key(target) for _, target in held_out}
            kept = [
                (source, target)
                for source, target in train
                if comparison_key(source) not in sources
                and comparison_key(target) not in targets
            ]
            kwargs["num_overlaps_dropped"] = len(train) - len(kept)
            train = kept
        if not train:
            raise SettingError(
                lambda name: _no_training_pairs(
                    name, num_given, test, validation, kwargs
                )
            )
        return cls(train=train, validation=validation, test=test, **kwargs)

    def summary(self):
        """One line describing the corpus."""
        return (
            f"{self.name} ({self.source_language}->{self.target_language}): "
            f"{len(self.train)} train"
            + (
                f" (of which {self.num_phrase_pairs} dictionary phrase pairs)"
                if self.num_phrase_pairs
                else ""
            )
            + (
                f" (of which {self.num_alternative_pairs} other wordings)"
                if self.num_alternative_pairs
                else ""
            )
            + f", {len(self.validation)} validation, {len(self.test)} test pairs; "
            f"{self.num_malformed} malformed lines skipped"
            + (
                f"; {self.num_duplicates_dropped} repeated pairs or sources dropped"
                if self.num_duplicates_dropped
                else ""
            )
            + (
                f"; {self.num_overlaps_dropped} training pairs left out for "
                "sharing a sentence with a test or validation pair"
                if self.num_overlaps_dropped
                else ""
            )
        )


def _check_from_pairs_arguments(
    cls, kwargs, test_size, validation_size, seed, deduplicate
):
    """Refuses unknown or computed fields, bad sizes, a bad seed and a
    non-bool `deduplicate`; returns the seed as an int."""
    fields = {field.name for field in dataclasses.fields(cls)}
    check_known_arguments(
        "ParallelCorpus.from_pairs",
        kwargs,
        (fields - {"train", "validation", "test"})
        | {"test_size", "validation_size", "seed", "deduplicate"},
    )
    for key in ("num_duplicates_dropped", "num_overlaps_dropped"):
        if key in kwargs:
            raise TypeError(
                f"{key} is counted by from_pairs, not given to it. Received: "
                f"{key}={kwargs[key]!r}"
            )
    if not isinstance(deduplicate, bool):
        raise TypeError(
            f"deduplicate must be a bool. Received: deduplicate={deduplicate!r}"
        )
    for name, value in (("test_size", test_size), ("validation_size", validation_size)):
        if value is not None:
            check_non_negative_int(name, value)
    return check_seed(seed, allow_none=False)


def _first_of_each_source(pairs):
    """`pairs` without those whose source (by `comparison_key`) came before."""
    seen, unique = set(), []
    for source, target in pairs:
        key = comparison_key(source)
        if key not in seen:
            seen.add(key)
            unique.append((source, target))
    return unique


def _check_pair(index, pair):
    """Raises a `TypeError` naming `pair` unless it is two strings."""
    if not (
        isinstance(pair, (tuple, list))
        and len(pair) == 2
        and all(isinstance(side, str) for side in pair)
    ):
        raise TypeError(
            f"pair {index} must be a (source, target) tuple of two str. "
            f"Received: {pair!r}"
        )


def _no_training_pairs(name, num_given, test, validation, fields):
    """The error for a split that leaves nothing to train on, counting where
    the `num_given` pairs went."""
    went = [
        f"{fields.get('num_duplicates_dropped', 0)} repeated pairs or sources dropped",
        f"{len(test)} test and {len(validation)} validation pairs held out",
        f"{fields.get('num_overlaps_dropped', 0)} training pairs left out for "
        "sharing a source or target with a held-out (test or validation) pair",
    ]
    return (
        f"The corpus {fields.get('name', 'corpus')!r} has no training pairs "
        f"left: of {num_given} pairs, " + "; ".join(went) + ". Give more distinct "
        f"pairs, or smaller {name('test_size')} and {name('validation_size')}."
    )
