import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.data import SubwordTokenizer
from keras_transformer_bit.data.load_translation_corpus import load_translation_corpus
from keras_transformer_bit.data.translation_pipeline import (
    make_translation_dataset,
    padding_statistics,
)
from keras_transformer_bit.recipes.translation_recipe import translation_recipe
from keras_transformer_bit.utils import SettingError
from tests.tiny_translation import tiny_model

WORDS = "der die das haus hund katze ist groß klein alt neu und".split()


@pytest.fixture(scope="module")
def pairs_and_tokenizer():
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(400):
        length = int(rng.integers(1, 30))
        words = [WORDS[i] for i in rng.integers(0, len(WORDS), length)]
        pairs.append((" ".join(words), " ".join(reversed(words)) + " ."))
    vocabulary = ["[PAD]", "[UNK]", "[START]", "[END]", "."] + WORDS
    return pairs, SubwordTokenizer(vocabulary)


def _batches(dataset):
    return [
        (x["encoder_inputs"].numpy(), x["decoder_inputs"].numpy(), y.numpy())
        for x, y in dataset
    ]


def test_batches_hold_shifted_targets_within_budget(pairs_and_tokenizer):
    pairs, tokenizer = pairs_and_tokenizer
    dataset = make_translation_dataset(
        pairs,
        tokenizer,
        tokenizer,
        max_length=24,
        tokens_per_batch=96,
        bucket_width=8,
        shuffle=False,
    )
    batches = _batches(dataset)
    kept = [p for p in pairs if len(p[0].split()) <= 24 and len(p[1].split()) + 1 <= 24]
    assert sum(len(source) for source, _, _ in batches) == len(kept)
    for source, decoder, labels in batches:
        assert source.dtype == decoder.dtype == labels.dtype == np.int32
        width = source.shape[1]
        assert width in (8, 16, 24) and decoder.shape == labels.shape == (
            len(source),
            width,
        )
        assert source.size <= 96
        lengths = np.count_nonzero(decoder, axis=1)
        assert (
            width - 8 < lengths.max() or width - 8 < np.count_nonzero(source, 1).max()
        )
        np.testing.assert_array_equal(decoder[:, 0], 2)
        for row_decoder, row_labels, n in zip(decoder, labels, lengths):
            np.testing.assert_array_equal(row_decoder[1:n], row_labels[: n - 1])
            assert row_labels[n - 1] == 3 and not row_labels[n:].any()
    # Unshuffled, the first pair of the first bucket to fill comes back intact.
    first_source = tokenizer.detokenize(tf.constant(batches[0][0][:1]))
    assert first_source.numpy()[0].decode() in {s for s, _ in kept}


def test_shuffle_is_seeded_and_padding_beats_fixed_length(pairs_and_tokenizer):
    pairs, tokenizer = pairs_and_tokenizer

    def first_batch(seed):
        dataset = make_translation_dataset(
            pairs, tokenizer, tokenizer, max_length=32, tokens_per_batch=128, seed=seed
        )
        return next(iter(dataset))[0]["encoder_inputs"].numpy()

    np.testing.assert_array_equal(first_batch(1), first_batch(1))
    assert not np.array_equal(first_batch(1), first_batch(2))
    dataset = make_translation_dataset(
        pairs, tokenizer, tokenizer, max_length=32, tokens_per_batch=128, shuffle=False
    )
    statistics = padding_statistics(dataset, max_length=32)
    assert statistics["num_pairs"] == 400
    assert (
        statistics["padding_fraction"]
        < 0.5 * statistics["fixed_length_padding_fraction"]
    )


def test_errors_on_sizes_name_them_as_the_caller_does(pairs_and_tokenizer):
    pairs, tokenizer = pairs_and_tokenizer
    names = {"max_length": "--max-length", "tokens_per_batch": "--tokens-per-batch"}
    with pytest.raises(SettingError) as error:
        make_translation_dataset(pairs[:20], tokenizer, tokenizer, max_length=2)
    assert str(error.value.restated(names)) == (
        "Every sentence pair is longer than --max-length=2 tokens (or the corpus "
        "is empty), so the dataset has no batches. Raise --max-length or check "
        "the corpus."
    )
    with pytest.raises(SettingError) as error:
        make_translation_dataset(pairs, tokenizer, tokenizer, tokens_per_batch=8)
    assert str(error.value.restated(names)) == (
        "--tokens-per-batch must hold at least one sequence of --max-length "
        "tokens. Received: --tokens-per-batch=8, --max-length=64"
    )


def test_an_unknown_corpus_names_data_as_the_caller_does(tmp_path):
    absent = str(tmp_path / "nosuch.tsv")
    with pytest.raises(SettingError, match=r"^data must be .*data='") as error:
        load_translation_corpus(absent)
    message = str(error.value.restated({"data": "--data"}))
    assert message.startswith("--data must be 'ding'")
    assert message.endswith(f"Received: --data={absent!r} (no such file)")


def test_bad_inputs(pairs_and_tokenizer, tmp_path):
    pairs, tokenizer = pairs_and_tokenizer
    with pytest.raises(ValueError, match="max_length=2"):
        make_translation_dataset(pairs[:20], tokenizer, tokenizer, max_length=2)
    with pytest.raises(ValueError, match="zero pairs"):
        make_translation_dataset([], tokenizer, tokenizer)
    with pytest.raises(ValueError, match="tokens_per_batch=8"):
        make_translation_dataset(pairs, tokenizer, tokenizer, tokens_per_batch=8)
    with pytest.raises(ValueError, match="data must be"):
        load_translation_corpus(str(tmp_path / "nope.tsv"))


def test_load_translation_corpus_from_files(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"Satz {i}.\tSentence {i}.\n" for i in range(30)))
    corpus = load_translation_corpus(str(path), test_size=5)
    assert len(corpus.test) == 5 and corpus.name == "pairs.tsv"
    (tmp_path / "a.de").write_text("Eins.\nZwei.\nDrei.\nVier.\n")
    (tmp_path / "a.en").write_text("One.\nTwo.\nThree.\nFour.\n")
    corpus = load_translation_corpus(
        f"{tmp_path / 'a.de'},{tmp_path / 'a.en'}", test_size=1, validation_size=1
    )
    assert sorted(corpus.train + corpus.validation + corpus.test)[0] == (
        "Drei.",
        "Three.",
    )


@pytest.fixture(scope="module")
def pairs_of_every_length():
    # Sources of 1 to 47 words and targets one shorter or longer: every bucket
    # of the default recipe (bounds 8, 16, ..., 48) fills at least one batch.
    rng = np.random.default_rng(1)
    pairs = []
    for _ in range(3000):
        length = int(rng.integers(1, 47))
        words = [WORDS[i] for i in rng.integers(0, len(WORDS), length)]
        pairs.append((" ".join(words), " ".join(reversed(words[1:])) + " ."))
    vocabulary = ["[PAD]", "[UNK]", "[START]", "[END]", "."] + WORDS
    return pairs, SubwordTokenizer(vocabulary)


@pytest.mark.parametrize(
    "num_replicas, full_sizes",
    [
        (1, [256, 128, 85, 64, 51, 42]),
        (2, [256, 128, 84, 64, 50, 42]),
        (8, [256, 128, 80, 64, 48, 40]),
    ],
)
@pytest.mark.parametrize("shuffle", [True, False])
def test_every_batch_splits_evenly_over_the_replicas(
    pairs_of_every_length, num_replicas, full_sizes, shuffle
):
    # The default recipe's budget cuts buckets into batches of 2048 // bound
    # sentences (85, 51 and 42 divide neither 2 nor 8 replicas). Under a
    # strategy every batch, the last partial one of a bucket included, must
    # split evenly, and every pair must still be seen once.
    pairs, tokenizer = pairs_of_every_length
    recipe = translation_recipe()
    dataset = make_translation_dataset(
        pairs,
        tokenizer,
        tokenizer,
        max_length=recipe.max_length,
        tokens_per_batch=recipe.tokens_per_batch,
        shuffle=shuffle,
        drop_remainder=False,
        num_replicas=num_replicas,
    )
    sizes_by_width = {}
    real_pairs = 0
    for source, decoder, labels in _batches(dataset):
        assert len(source) % num_replicas == 0, (len(source), num_replicas)
        real = np.count_nonzero(labels, axis=1) > 0
        real_pairs += int(real.sum())
        # Padding rows come last and are padding everywhere: zero loss weight.
        assert not real[real.sum() :].any() and real[: real.sum()].all()
        for ids in (source, decoder, labels):
            assert not ids[~real].any()
        if len(source) - real.sum() >= num_replicas:
            raise AssertionError(f"more padding rows than needed: {len(source)}")
        sizes_by_width.setdefault(source.shape[1], set()).add(len(source))
    assert real_pairs == len(pairs)
    widths = sorted(sizes_by_width)
    assert widths == [8, 16, 24, 32, 40, 48]
    assert [max(sizes_by_width[width]) for width in widths] == full_sizes


def test_bad_num_replicas(pairs_and_tokenizer):
    pairs, tokenizer = pairs_and_tokenizer
    with pytest.raises(ValueError, match="num_replicas"):
        make_translation_dataset(pairs, tokenizer, tokenizer, num_replicas=0)


@pytest.mark.parametrize("num_pairs", [1, 10, 100, 400])
def test_every_pair_comes_once_per_epoch_with_the_defaults(
    pairs_and_tokenizer, num_pairs
):
    pairs, tokenizer = pairs_and_tokenizer
    pairs = [(s, t) for s, t in pairs if len(t.split()) < 63][:num_pairs]
    dataset = make_translation_dataset(pairs, tokenizer, tokenizer)
    sources = []
    for _ in range(2):  # two epochs, reshuffled
        epoch = [
            tuple(row[row != 0])
            for x, _ in dataset
            for row in x["encoder_inputs"].numpy()
        ]
        assert len(epoch) == len(pairs)
        sources.append(sorted(epoch))
    expected = sorted(
        tuple(ids) for ids in tokenizer.tokenize([s for s, _ in pairs]).to_list()
    )
    assert sources[0] == sources[1] == expected


def test_pad_remainder_gives_one_batch_shape_per_bucket(pairs_and_tokenizer):
    pairs, tokenizer = pairs_and_tokenizer
    dataset = make_translation_dataset(
        pairs, tokenizer, tokenizer, max_length=32, tokens_per_batch=128,
        pad_remainder=True,
    )  # fmt: skip
    shapes, real_rows = set(), 0
    for x, labels in dataset:
        source, decoder = x["encoder_inputs"].numpy(), x["decoder_inputs"].numpy()
        width = source.shape[1]
        assert source.shape == decoder.shape == labels.shape == (128 // width, width)
        shapes.add(source.shape)
        # Filler rows are all padding: no tokens, no labels (no loss).
        filler = ~decoder.any(axis=1)
        assert not source[filler].any() and not labels.numpy()[filler].any()
        real_rows += int((~filler).sum())
    assert real_rows == len(pairs) and len(shapes) == 4


def test_no_batches_is_an_error_that_says_why(pairs_and_tokenizer):
    pairs, tokenizer = pairs_and_tokenizer
    import tensorflow as tf

    empty = tf.data.Dataset.from_tensor_slices(
        (tf.constant([], tf.string), tf.constant([], tf.string))
    )
    with pytest.raises(ValueError, match="no batches"):
        make_translation_dataset(empty, tokenizer, tokenizer)
    # 10 pairs fill no bucket's batch of 4096 // bound pairs: dropping the
    # partial batches would leave nothing.
    with pytest.raises(ValueError, match="drop_remainder=True the dataset has no"):
        make_translation_dataset(pairs[:10], tokenizer, tokenizer, drop_remainder=True)
    with pytest.raises(ValueError, match="exclude each other"):
        make_translation_dataset(
            pairs, tokenizer, tokenizer, drop_remainder=True, pad_remainder=True
        )


def test_num_replicas_defaults_to_the_strategy_in_scope(pairs_and_tokenizer):
    # User code as in the README: the dataset made inside strategy.scope()
    # without num_replicas. 7 pairs: one odd-sized batch, which Keras could not
    # split over 2 replicas (an AddN shape error inside fit) before.
    import keras

    from keras_transformer_bit.distribute import get_strategy
    from keras_transformer_bit.models import Transformer
    from keras_transformer_bit.recipes import LabelSmoothedCrossEntropy

    pairs, tokenizer = pairs_and_tokenizer
    pairs = pairs[:7]
    strategy = get_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        dataset = make_translation_dataset(
            pairs, tokenizer, tokenizer, max_length=32, tokens_per_batch=1024
        )
        sizes = [len(source) for source, _, _ in _batches(dataset)]
        assert all(size % 2 == 0 for size in sizes), sizes
        model = Transformer.from_preset(
            "transformer_tiny", vocabulary_size=tokenizer.vocabulary_size
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=LabelSmoothedCrossEntropy(),
            jit_compile=False,
        )
    history = model.fit(dataset, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    # Outside any scope the default strategy has one replica: no padding rows,
    # and some batch is odd-sized; explicit values still win.
    outside = make_translation_dataset(
        pairs, tokenizer, tokenizer, max_length=32, tokens_per_batch=1024
    )
    outside_sizes = [len(source) for source, _, _ in _batches(outside)]
    assert sum(outside_sizes) == 7 and any(size % 2 for size in outside_sizes)
    explicit = make_translation_dataset(
        pairs, tokenizer, tokenizer, max_length=32, tokens_per_batch=1024,
        num_replicas=4,
    )  # fmt: skip
    assert all(len(s) % 4 == 0 for s, _, _ in _batches(explicit))


@pytest.fixture(scope="module")
def sentencepiece_pairs_and_tokenizer(pairs_and_tokenizer):
    from keras_transformer_bit.data import SentencePieceTokenizer

    pairs, _ = pairs_and_tokenizer
    texts = [sentence for pair in pairs for sentence in pair]
    return pairs, SentencePieceTokenizer.build(texts, vocabulary_size=285)


def _decoded_pairs(dataset, tokenizer):
    """(source, target) strings of every real pair in the batches, sorted."""
    decoded = []
    for x, labels in dataset:
        sources = tokenizer.detokenize(x["encoder_inputs"]).numpy()
        targets = tokenizer.detokenize(labels).numpy()
        decoded += [
            (source.decode(), target.decode())
            for source, target, row in zip(sources, targets, labels.numpy())
            if row.any()
        ]
    return sorted(decoded)


def test_subword_sampling_varies_between_epochs_and_keeps_the_text(
    sentencepiece_pairs_and_tokenizer,
):
    pairs, tokenizer = sentencepiece_pairs_and_tokenizer
    # Long enough that no pair is dropped, however finely it is segmented.
    options = dict(max_length=256, tokens_per_batch=4096, shuffle=False)
    plain = make_translation_dataset(pairs, tokenizer, tokenizer, **options)
    sampled = make_translation_dataset(
        pairs, tokenizer, tokenizer, subword_sampling_alpha=0.5, **options
    )
    first, second = _batches(sampled), _batches(sampled)
    assert [b[0].tolist() for b in first] != [b[0].tolist() for b in second]
    assert [b[0].tolist() for b in _batches(plain)] == [
        b[0].tolist() for b in _batches(plain)
    ]
    expected = sorted(pairs)
    assert _decoded_pairs(plain, tokenizer) == expected
    assert _decoded_pairs(sampled, tokenizer) == expected


def test_subword_sampling_needs_a_tokenizer_that_samples(pairs_and_tokenizer):
    pairs, tokenizer = pairs_and_tokenizer
    with pytest.raises(ValueError, match="sample_tokenize.*SubwordTokenizer"):
        make_translation_dataset(
            pairs, tokenizer, tokenizer, subword_sampling_alpha=0.1
        )
    with pytest.raises(ValueError, match="subword_sampling_alpha=2"):
        make_translation_dataset(pairs, tokenizer, tokenizer, subword_sampling_alpha=2)


def test_recipe_samples_the_training_split_only(sentencepiece_pairs_and_tokenizer):
    from keras_transformer_bit.data import ParallelCorpus

    pairs, tokenizer = sentencepiece_pairs_and_tokenizer
    corpus = ParallelCorpus.from_pairs(pairs, test_size=10, validation_size=40)
    recipe = translation_recipe(max_length=64, tokens_per_batch=512)
    train, validation = recipe.datasets(
        corpus, tokenizer, tokenizer, subword_sampling_alpha=0.5
    )
    assert _batches(validation)[0][0].tolist() == _batches(validation)[0][0].tolist()
    train_sources = [b[0].tolist() for b in _batches(train)]
    assert train_sources != [b[0].tolist() for b in _batches(train)]


@pytest.mark.parametrize("num_replicas", [None, 2])
def test_the_dataset_declares_its_number_of_batches(pairs_and_tokenizer, num_replicas):
    # Length-bucketed batches have no length tf.data can infer; without one
    # Keras warns "Your input ran out of data" in a plain `model.fit`. The
    # count holds for every shuffled epoch (buckets fill independently of
    # the order).
    pairs, tokenizer = pairs_and_tokenizer
    batching = dict(max_length=24, tokens_per_batch=96, num_replicas=num_replicas)
    dataset = make_translation_dataset(pairs, tokenizer, tokenizer, **batching)
    declared = int(dataset.cardinality())
    assert declared > 1
    assert [sum(1 for _ in dataset) for _ in range(2)] == [declared, declared]
    if num_replicas:
        return
    model = tiny_model(vocabulary_size=tokenizer.vocabulary_size)
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(dataset, epochs=2, verbose=0)
    assert not [w for w in caught if "ran out of data" in str(w.message)]
