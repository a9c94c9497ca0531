import warnings

import numpy as np
import pytest

from keras_transformer_bit.data import ParallelCorpus
from keras_transformer_bit.data.load_translation_corpus import load_translation_corpus
from keras_transformer_bit.data.parallel_corpus import comparison_key
from keras_transformer_bit.utils import SettingError


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
        ((10, 20), (70, 20, 10)),
        ((50, 0), (50, 0, 50)),
        ((40, None), (50, 10, 40)),  # the default validation split: a tenth
        ((None, 0), (90, 0, 10)),
    ],
)
def test_explicit_sizes_that_keep_half_for_training_are_kept(sizes, expected):
    test_size, validation_size = sizes
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is reduced
        corpus = ParallelCorpus.from_pairs(
            _pairs(100), test_size=test_size, validation_size=validation_size
        )
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == expected


@pytest.mark.parametrize(
    "sizes, message",
    [
        (
            (1000, None),
            r"^test_size=1000 asks for more held-out pairs than the corpus "
            r"'corpus' allows: it has 100 pairs, of which at most half, 50, are "
            r"held out \(training keeps the rest\), and validation_size takes 10 "
            r"\(its default\), so test_size may be at most 40\.$",
        ),
        ((None, 41), r"^validation_size=41 .* and test_size takes 10 .* at most 40"),
        (
            (10, 45),
            r"^test_size=10 and validation_size=45 ask .* so with test_size=10, "
            r"validation_size may be at most 40\.$",
        ),
        ((1000, 1000), r"so test_size and validation_size may be at most 50 together"),
        ((1, 0), None),  # one pair: nothing can be held out
    ],
)
def test_explicit_sizes_that_do_not_fit_are_refused(sizes, message):
    test_size, validation_size = sizes
    pairs = _pairs(1) if message is None else _pairs(100)
    with pytest.raises(SettingError, match=message or r"at most half, 0,") as error:
        ParallelCorpus.from_pairs(
            pairs, test_size=np.int64(test_size) if test_size else test_size,
            validation_size=validation_size,
        )  # fmt: skip
    names = {"test_size": "--test-size", "validation_size": "--validation-size"}
    restated = str(error.value.restated(names))
    assert "test_size" not in restated and "validation_size" not in restated


def test_a_reader_refuses_sizes_naming_its_corpus(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in _pairs(30)))
    with pytest.raises(ValueError, match=r"the corpus 'pairs.tsv' .* 30 pairs"):
        load_translation_corpus(str(path), test_size=100)


@pytest.mark.parametrize("name", ["test_size", "validation_size"])
@pytest.mark.parametrize("bad", [-1, 2.5, "10", True])
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


def test_no_held_out_sentence_is_trained_on_from_either_side():
    # Distinct sources, but the English side of some pairs repeats (a
    # paraphrase, another casing or spacing of the same sentence): wherever
    # one of them lands in test or validation, the others leave training.
    pairs = [(f"Satz {i}.", f"Sentence {i % 20}.") for i in range(60)]
    pairs += [("Noch ein Satz.", "  SENTENCE 3. ")]
    corpus = ParallelCorpus.from_pairs(pairs, test_size=5, validation_size=5)

    def key(text):
        return " ".join(text.casefold().split())

    held_out = corpus.test + corpus.validation
    for source, target in corpus.train:
        assert key(target) not in {key(t) for _, t in held_out}, target
        assert key(source) not in {key(s) for s, _ in held_out}, source
    dropped = len(pairs) - 10 - len(corpus.train)
    assert dropped > 0 and corpus.num_overlaps_dropped == dropped
    assert f"{dropped} training pairs left out" in corpus.summary()
    # Without deduplication every pair is kept, as given.
    kept = ParallelCorpus.from_pairs(
        pairs, test_size=5, validation_size=5, deduplicate=False
    )
    assert len(kept.train) == len(pairs) - 10 and kept.num_overlaps_dropped == 0
    # A source that equals another pair's target is no leak (a copy task).
    forward = [(f"w{i} w{i + 1}", f"w{i + 1} w{i}") for i in range(20)]
    copies = forward + [(target, source) for source, target in forward]
    corpus = ParallelCorpus.from_pairs(copies, test_size=4, validation_size=4)
    assert corpus.num_overlaps_dropped == 0 and len(corpus.train) == 32


def test_unicode_normalization_forms_of_a_held_out_sentence_are_not_trained_on():
    import unicodedata

    composed = [(f"Schön Nummer {i}.", f"Nice {i}.") for i in range(30)]
    decomposed = [
        (unicodedata.normalize("NFD", source), f"Pretty {i}.")
        for i, (source, _) in enumerate(composed)
    ]
    corpus = ParallelCorpus.from_pairs(
        composed + decomposed, test_size=5, validation_size=5
    )

    def key(text):
        return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

    held_out = {key(source) for source, _ in corpus.test + corpus.validation}
    leaks = [source for source, _ in corpus.train if key(source) in held_out]
    assert leaks == []
    # The decomposed forms are repeats of the composed ones.
    assert corpus.num_duplicates_dropped == 30


def test_pairs_dropped_as_duplicates_are_counted_and_reported():
    corpus = ParallelCorpus.from_pairs(_pairs(20) * 3, test_size=2, validation_size=2)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (16, 2, 2)
    assert corpus.num_duplicates_dropped == 40
    assert "40 repeated pairs or sources dropped" in corpus.summary()
    # A repeated source with another target is dropped too (the first is kept).
    pairs = _pairs(20) + [("Satz 3.", "Another sentence.")]
    corpus = ParallelCorpus.from_pairs(pairs, test_size=2, validation_size=2)
    assert corpus.num_duplicates_dropped == 1
    assert "repeated" not in ParallelCorpus.from_pairs(_pairs(20)).summary()


def test_no_training_pairs_left_says_where_they_went():
    # 30 pairs, but only 3 distinct English sentences: all training pairs
    # share their English side with a held-out pair.
    pairs = [(f"Satz {i}.", f"Sentence {i % 3}.") for i in range(30)]
    with pytest.raises(ValueError) as error:
        ParallelCorpus.from_pairs(pairs, test_size=2, validation_size=1, name="tiny")
    message = str(error.value)
    assert "'tiny'" in message and "30 pairs" in message
    assert "27 training pairs" in message and "held-out" in message
    # 40 lines, 4 distinct pairs, one English sentence.
    pairs = [(f"Satz {i}.", "Sentence.") for i in range(4)] * 10
    with pytest.raises(ValueError) as error:
        ParallelCorpus.from_pairs(pairs, test_size=1, validation_size=1)
    message = str(error.value)
    assert "40 pairs" in message and "36 repeated" in message


@pytest.mark.parametrize("seed", ["x", 1.5, None, True, -1])
def test_a_seed_that_is_not_an_int_is_refused(seed):
    with pytest.raises(ValueError, match=r"seed must be an int.*Received: seed="):
        ParallelCorpus.from_pairs(_pairs(20), seed=seed)


@pytest.mark.parametrize(
    "bad", ["abc", ("a", "b", "c"), (None, "b"), (b"a", "b"), ("a",)]
)
def test_a_pair_that_is_not_two_strings_is_named_with_its_position(bad):
    pairs = _pairs(10)
    pairs.insert(3, bad)
    with pytest.raises(TypeError, match=r"pair 3 must be a \(source, target\)"):
        ParallelCorpus.from_pairs(pairs)


def test_a_misspelled_keyword_is_named_with_the_function_called():
    with pytest.raises(TypeError, match=r"from_pairs got .*'tset_size'.*'test_size'"):
        ParallelCorpus.from_pairs(_pairs(20), tset_size=3)


def test_test_and_validation_share_no_sentence_and_keep_their_sizes():
    # 60 sources over 12 English sentences (and case variants of them): no
    # sentence (either side, compared by comparison_key) may be in both
    # held-out splits, and each split still gets the size asked.
    pairs = [(f"Satz {i}.", f"Sentence {i % 12}.") for i in range(60)]
    pairs += [(f"Noch ein Satz {i}.", f"SENTENCE  {i}.") for i in range(12)]
    corpus = ParallelCorpus.from_pairs(pairs, test_size=4, validation_size=4)
    assert (len(corpus.test), len(corpus.validation)) == (4, 4)
    for side in (0, 1):
        test = {comparison_key(pair[side]) for pair in corpus.test}
        validation = {comparison_key(pair[side]) for pair in corpus.validation}
        assert not test & validation, (side, test & validation)


def test_repeats_that_differ_in_case_spacing_or_normalization_are_repeats():
    pairs = _pairs(20) + [
        ("satz 3.", "Sentence 3."),
        ("Satz  4. ", "sentence 4."),
        ("ＳＡＴＺ 5.", "Sentence 5."),
    ]
    corpus = ParallelCorpus.from_pairs(pairs, test_size=2, validation_size=2)
    assert corpus.num_duplicates_dropped == 3
    sources = [comparison_key(source) for source, _ in corpus.train]
    assert len(sources) == len(set(sources))


@pytest.mark.parametrize("blank", ["", "   ", "\u200b", "\u200b\ufeff \u2060"])
def test_a_pair_with_an_empty_or_invisible_side_is_skipped_as_malformed(blank):
    pairs = _pairs(20) + [(blank, "Sentence."), ("Satz.", blank)]
    corpus = ParallelCorpus.from_pairs(pairs, num_malformed=1)
    assert corpus.num_malformed == 3
    assert "3 malformed" in corpus.summary()
    everything = corpus.train + corpus.validation + corpus.test
    assert all(comparison_key(side) for pair in everything for side in pair)
    assert len(everything) == 20


@pytest.mark.parametrize(
    "hidden", ["\u3164", "\ufe0f", "\u034f", "\u115f", "\x00", "\u200b\ufe0f"]
)
def test_default_ignorable_characters_do_not_count(hidden):
    assert comparison_key(hidden) == ""
    assert comparison_key(f"Ich liebe dich ❤{hidden}") == comparison_key(
        "ich liebe dich ❤"
    )
    pairs = _pairs(20) + [("Hangul.", hidden), (f"Satz 3.{hidden}", "Sentence 3.")]
    corpus = ParallelCorpus.from_pairs(pairs)
    assert corpus.num_malformed == 1 and corpus.num_duplicates_dropped == 1


def test_counts_from_pairs_computes_and_a_non_bool_deduplicate_are_refused():
    for key in ("num_duplicates_dropped", "num_overlaps_dropped"):
        with pytest.raises(TypeError, match=rf"{key} is counted by from_pairs"):
            ParallelCorpus.from_pairs(_pairs(20), **{key: 7})
    with pytest.raises(TypeError, match=r"deduplicate must be a bool.*'no'"):
        ParallelCorpus.from_pairs(_pairs(20), deduplicate="no")


def test_one_pair_is_one_pair_in_the_size_error():
    with pytest.raises(SettingError, match=r"it has 1 pair, of which"):
        ParallelCorpus.from_pairs(_pairs(1), test_size=1)


def test_no_training_pairs_names_the_sizes_as_the_caller_does():
    pairs = [(f"Satz {i}.", f"Sentence {i % 3}.") for i in range(30)]
    with pytest.raises(SettingError) as error:
        ParallelCorpus.from_pairs(pairs, test_size=2, validation_size=1)
    restated = str(
        error.value.restated(
            {"test_size": "--test-size", "validation_size": "--validation-size"}
        )
    )
    assert "smaller --test-size and --validation-size" in restated
