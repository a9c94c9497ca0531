import warnings

import numpy as np
import pytest

from keras_transformer_bit.data import ParallelCorpus
from keras_transformer_bit.data.load_translation_corpus import load_translation_corpus


def _pairs(n):
    return [(f"Satz {i}.", f"Sentence {i}.") for i in range(n)]


@pytest.mark.parametrize(
    "num_pairs, sizes",
    [
        (1, (1, 0, 0)),
        (4, (2, 1, 1)),
        (10, (8, 1, 1)),
        (100, (80, 10, 10)),
        (500, (400, 50, 50)),
        (30_000, (28_000, 1000, 1000)),
    ],
)
def test_default_split_holds_out_a_tenth_each_up_to_1000(num_pairs, sizes):
    corpus = ParallelCorpus.from_pairs(_pairs(num_pairs))
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == sizes
    every = sorted(corpus.train + corpus.validation + corpus.test)
    assert every == sorted(_pairs(num_pairs))


@pytest.mark.parametrize(
    "sizes, expected",
    [
        ((1000, 1000), (50, 25, 25)),  # too big: the held-out half is shared
        ((5, 1000), (50, 45, 5)),
        ((1000, 5), (50, 5, 45)),
        ((1000, 0), (50, 0, 50)),
        ((10, 20), (70, 20, 10)),
    ],
)
def test_explicit_sizes_keep_half_for_training(sizes, expected):
    test_size, validation_size = sizes
    reduced = expected[2] != test_size or expected[1] != validation_size
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        corpus = ParallelCorpus.from_pairs(
            _pairs(100), test_size=np.int64(test_size), validation_size=validation_size
        )
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == expected
    # A reduced request says so (a user trial saw --test-size 1000 become 1).
    messages = [str(w.message) for w in caught]
    assert any("reduced" in m for m in messages) == reduced, messages
    if reduced:
        assert f"test_size={test_size} -> {expected[2]}" in messages[0] or (
            f"validation_size={validation_size} -> {expected[1]}" in messages[0]
        )


@pytest.mark.parametrize("name", ["test_size", "validation_size"])
@pytest.mark.parametrize("bad", [-1, 2.5, "10"])
def test_bad_sizes_are_named(name, bad):
    with pytest.raises(ValueError, match=f"Received: {name}={bad!r}"):
        ParallelCorpus.from_pairs(_pairs(10), **{name: bad})


def test_load_translation_corpus_takes_validation_size(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in _pairs(200)))
    corpus = load_translation_corpus(str(path))
    assert (len(corpus.validation), len(corpus.test)) == (20, 20)
    corpus = load_translation_corpus(str(path), validation_size=7, test_size=3)
    assert (len(corpus.validation), len(corpus.test)) == (7, 3)
