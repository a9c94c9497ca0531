"""A parallel corpus split into train, validation and test sentence pairs."""

import dataclasses
import random


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

    Example:
    >>> corpus = ParallelCorpus.from_pairs(
    ...     [("Ja.", "Yes."), ("Nein.", "No."), ("Gut.", "Good.")],
    ...     test_size=1, validation_size=1)
    >>> len(corpus.train), len(corpus.validation), len(corpus.test)
    (1, 1, 1)
    """

    train: list
    validation: list
    test: list
    source_language: str = "src"
    target_language: str = "tgt"
    name: str = "corpus"
    num_malformed: int = 0

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
        test_size=1000,
        validation_size=1000,
        seed=1234,
        deduplicate=True,
        **kwargs,
    ):
        """Shuffles `pairs` with `seed` and cuts off test and validation pairs.

        The split depends only on the pairs and the seed, so runs are comparable.
        Sizes are capped so that at least half the pairs stay for training.

        Args:
            pairs: iterable of (str, str).
            test_size: int. Number of test pairs. Defaults to `1000`.
            validation_size: int. Number of validation pairs. Defaults to `1000`.
            seed: int. Shuffling seed. Defaults to `1234`.
            deduplicate: bool. Drop repeated pairs and pairs whose source was seen
                before (so no test source appears in training). Defaults to `True`.
            **kwargs: the other `ParallelCorpus` fields.
        """
        for name, value in (
            ("test_size", test_size),
            ("validation_size", validation_size),
        ):
            if not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"{name} must be a non-negative int. Received: {name}={value!r}"
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
        held_out = len(pairs) // 2
        test_size = min(test_size, held_out)
        validation_size = min(validation_size, held_out - test_size)
        test = pairs[:test_size]
        validation = pairs[test_size : test_size + validation_size]
        train = pairs[test_size + validation_size :]
        return cls(train=train, validation=validation, test=test, **kwargs)

    def summary(self):
        """One line describing the corpus."""
        return (
            f"{self.name} ({self.source_language}->{self.target_language}): "
            f"{len(self.train)} train, {len(self.validation)} validation, "
            f"{len(self.test)} test pairs; {self.num_malformed} malformed lines "
            "skipped"
        )
