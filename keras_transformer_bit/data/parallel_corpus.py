"""A parallel corpus split into train, validation and test sentence pairs."""

import dataclasses
import numbers
import random
import warnings

# Held-out pairs per split by default: a tenth of the corpus, at most this many.
DEFAULT_HELD_OUT_SIZE = 1000


def _default_held_out_size(num_pairs):
    if num_pairs < 3:
        return 0
    return max(1, min(DEFAULT_HELD_OUT_SIZE, num_pairs // 10))


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

        The split depends only on the pairs and the seed, so runs are comparable.
        By default each held-out split gets a tenth of the pairs, at least 1
        (from 3 pairs on) and at most 1000: 100 pairs give 80/10/10, 50,000
        give 48,000/1000/1000. Explicit sizes are capped so that at least half
        the pairs stay for training; when both do not fit, each keeps at least
        half of the held-out share (so 1000 and 1000 of 100 pairs give 25 and
        25, and a requested validation split is never left empty).

        Args:
            pairs: iterable of (str, str).
            test_size: int or `None`. Number of test pairs. Defaults to `None`
                (a tenth, at most 1000).
            validation_size: int or `None`. Number of validation pairs.
                Defaults to `None` (a tenth, at most 1000).
            seed: int. Shuffling seed. Defaults to `1234`.
            deduplicate: bool. Drop repeated pairs and pairs whose source was seen
                before (so no test source appears in training). Defaults to `True`.
            **kwargs: the other `ParallelCorpus` fields.
        """
        for name, value in (
            ("test_size", test_size),
            ("validation_size", validation_size),
        ):
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, numbers.Integral)
                or value < 0
            ):
                raise ValueError(
                    f"{name} must be a non-negative int or None. "
                    f"Received: {name}={value!r}"
                )
        pairs = list(pairs)
        if deduplicate:
            seen_sources = set()
            unique = []
            for source, target in pairs:
                if source not in seen_sources:
                    seen_sources.add(source)
                    unique.append((source, target))
            pairs = unique
        if not pairs:
            raise ValueError(
                f"The corpus {kwargs.get('name', 'corpus')!r} is empty: no sentence "
                "pairs are left after reading and filtering."
            )
        # Sort first so the split does not depend on the reading order.
        pairs.sort()
        random.Random(seed).shuffle(pairs)
        automatic = _default_held_out_size(len(pairs))
        requested = (test_size, validation_size)
        test_size = automatic if test_size is None else int(test_size)
        validation_size = automatic if validation_size is None else int(validation_size)
        held_out = len(pairs) // 2
        test_size = min(test_size, max(held_out // 2, held_out - validation_size))
        validation_size = min(validation_size, held_out - test_size)
        reduced = [
            f"{name}={asked} -> {given}"
            for name, asked, given in (
                ("test_size", requested[0], test_size),
                ("validation_size", requested[1], validation_size),
            )
            if asked is not None and int(asked) != given
        ]
        if reduced:
            warnings.warn(
                f"The corpus {kwargs.get('name', 'corpus')!r} has {len(pairs)} "
                f"pairs, so the held-out splits were reduced ({', '.join(reduced)}) "
                "to keep at least half of the pairs for training.",
                stacklevel=2,
            )
        test = pairs[:test_size]
        validation = pairs[test_size : test_size + validation_size]
        train = pairs[test_size + validation_size :]
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
            + f", {len(self.validation)} validation, {len(self.test)} test pairs; "
            f"{self.num_malformed} malformed lines skipped"
        )
