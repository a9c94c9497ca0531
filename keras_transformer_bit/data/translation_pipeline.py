"""The tf.data pipeline that feeds sentence pairs to a `Transformer`."""

import numpy as np
import tensorflow as tf

from keras_transformer_bit.data.count_batches import count_batches, with_cardinality
from keras_transformer_bit.utils import SettingError, check_positive_int


def _length_bounds(max_length, bucket_width):
    """Upper length bounds of the buckets: bucket_width, 2*bucket_width, ..."""
    bounds = list(range(bucket_width, max_length, bucket_width)) + [max_length]
    return bounds


def _replica_multiple(batch_size, num_replicas):
    """`batch_size` rounded down to a multiple of `num_replicas`, at least one each."""
    return max(1, batch_size // num_replicas) * num_replicas


def _check_sampling(alpha, *tokenizers):
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float))
        or not (0 < alpha <= 1)
    ):
        raise ValueError(
            "subword_sampling_alpha must be a number in (0, 1] or None. "
            f"Received: subword_sampling_alpha={alpha!r}"
        )
    for tokenizer in tokenizers:
        if not hasattr(tokenizer, "sample_tokenize"):
            raise ValueError(
                "subword_sampling_alpha needs tokenizers that sample "
                "segmentations (with a sample_tokenize method, such as "
                f"SentencePieceTokenizer). Received: a {type(tokenizer).__name__}"
            )


def _check_arguments(max_length, tokens_per_batch, bucket_width, num_replicas):
    """The sizes of `make_translation_dataset` as ints, or an error naming them."""
    max_length = check_positive_int("max_length", max_length)
    tokens_per_batch = check_positive_int("tokens_per_batch", tokens_per_batch)
    bucket_width = check_positive_int("bucket_width", bucket_width)
    if num_replicas is None:  # the strategy in scope (the default one: 1)
        num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    num_replicas = check_positive_int("num_replicas", num_replicas)
    if tokens_per_batch < max_length:
        raise SettingError(
            lambda name: (
                f"{name('tokens_per_batch')} must hold at least one "
                f"sequence of {name('max_length')} tokens. Received: "
                f"{name('tokens_per_batch')}={tokens_per_batch}, "
                f"{name('max_length')}={max_length}"
            )
        )
    return max_length, tokens_per_batch, bucket_width, num_replicas


def _pair_strings(pairs):
    """A dataset of (source, target) strings from a list of pairs (or itself)."""
    if isinstance(pairs, tf.data.Dataset):
        return pairs
    pairs = list(pairs)
    if not pairs:
        raise ValueError("Cannot build a translation dataset from zero pairs.")
    sources, targets = zip(*pairs)
    return tf.data.Dataset.from_tensor_slices(
        (tf.constant(sources, tf.string), tf.constant(targets, tf.string))
    )


def _tokenize_function(source_tokenizer, target_tokenizer, alpha):
    """`(source, target) strings -> int32 ids`, sampled when `alpha` is set."""

    def tokenize(source, target):
        if alpha is None:
            source_ids = source_tokenizer.tokenize(source)
            target_ids = target_tokenizer.tokenize(target)
        else:
            source_ids = source_tokenizer.sample_tokenize(source, alpha=alpha)
            target_ids = target_tokenizer.sample_tokenize(target, alpha=alpha)
        return tf.cast(source_ids, tf.int32), tf.cast(target_ids, tf.int32)

    return tokenize


def _pad_function(
    max_length, tokens_per_batch, bucket_width, num_replicas, pad_remainder
):
    """Pads a batch to its bucket bound (and its rows as the replicas need)."""

    def pad_to_bound(source, decoder, labels):
        length = tf.maximum(tf.shape(source)[1], tf.shape(decoder)[1])
        bound = tf.minimum(
            (length + bucket_width - 1) // bucket_width * bucket_width, max_length
        )
        source = tf.pad(source, [[0, 0], [0, bound - tf.shape(source)[1]]])
        decoder = tf.pad(decoder, [[0, 0], [0, bound - tf.shape(decoder)[1]]])
        labels = tf.pad(labels, [[0, 0], [0, bound - tf.shape(labels)[1]]])
        if pad_remainder or num_replicas > 1:
            if pad_remainder:  # up to the bucket's batch size (see to_batches)
                per_replica = tf.maximum(1, tokens_per_batch // bound // num_replicas)
                rows = per_replica * num_replicas - tf.shape(source)[0]
            else:
                rows = -tf.shape(source)[0] % num_replicas
            source, decoder, labels = (
                tf.pad(ids, [[0, rows], [0, 0]]) for ids in (source, decoder, labels)
            )
        return {"encoder_inputs": source, "decoder_inputs": decoder}, labels

    return pad_to_bound


def make_translation_dataset(
    pairs,
    source_tokenizer,
    target_tokenizer,
    max_length=64,
    tokens_per_batch=4096,
    bucket_width=8,
    shuffle=True,
    seed=1234,
    drop_remainder=False,
    num_parallel_calls=tf.data.AUTOTUNE,
    num_replicas=None,
    pad_remainder=False,
    subword_sampling_alpha=None,
):
    """Tokenizes sentence pairs and batches them by length for `model.fit`.

    The stages: (shuffle the strings with `seed`) → tokenize in batches of 1024
    → wrap the target as `[START] ... ` (decoder inputs) and `... [END]` (labels)
    → drop pairs longer than `max_length` tokens → group pairs of similar length
    into buckets `bucket_width` tokens wide → cut each bucket into batches of
    about `tokens_per_batch` tokens (the batch size is
    `tokens_per_batch // bucket bound`, so short sentences come in big batches)
    → pad each batch to its bucket bound → prefetch.

    Under a `tf.distribute` strategy every batch is split over
    `num_replicas` replicas, and Keras builds the model from the first batch
    only when it splits evenly. So each bucket's batch size is rounded down to
    a multiple of `num_replicas` (at least `num_replicas`), and a partial batch
    is topped up with rows that are padding everywhere: their labels are 0, so
    a padding-aware loss gives them zero weight and every pair still counts
    once.

    Every pair within `max_length` comes exactly once per epoch: by default
    the last, partial batch of each bucket is kept, so even a corpus of a few
    pairs gives batches. Padding every batch to its bucket bound keeps the
    number of batch shapes small (at most two per bucket: full and last), so a
    jit-compiled train step compiles a few times instead of once per batch;
    `pad_remainder=True` tops the last batch up with padding rows to the
    bucket's batch size, for one shape per bucket.

    Source ids are the tokenizer's ids with nothing added; decoder inputs start
    with `target_tokenizer.start_id` and labels end with `end_id`; padding is 0.

    Args:
        pairs: list of (str, str), or a `tf.data.Dataset` of (source, target)
            scalar strings.
        source_tokenizer: a `SubwordTokenizer` (or anything with a `tokenize`
            returning a `tf.RaggedTensor`) for the source side.
        target_tokenizer: the same for the target side; it also needs `start_id`
            and `end_id`.
        max_length: int. Longest source, and longest target including the start
            (or end) token, that is kept. Defaults to `64`.
        tokens_per_batch: int. Token budget of a batch (padding included).
            Defaults to `4096`.
        bucket_width: int. Width of the length buckets. Defaults to `8`.
        shuffle: bool. Shuffle pairs (with a new order each epoch). Defaults to
            `True`.
        seed: int. Shuffle seed. Defaults to `1234`.
        drop_remainder: bool. Drop each bucket's last partial batch (those
            pairs are then not seen that epoch). A dataset that would yield no
            batch at all raises a `ValueError`. Defaults to `False`.
        num_parallel_calls: int. Parallelism of the tokenizing map. Defaults to
            `tf.data.AUTOTUNE`.
        num_replicas: int or `None`. Every batch size is a multiple of it.
            `None` takes `num_replicas_in_sync` of the strategy in scope
            (`tf.distribute.get_strategy()`): make the dataset inside
            `strategy.scope()`, or pass `strategy.num_replicas_in_sync`.
            Defaults to `None` (1 outside any strategy).
        pad_remainder: bool. Top each bucket's last batch up to the bucket's
            batch size with rows that are padding everywhere (zero loss
            weight), so all batches of a bucket have one shape. Defaults to
            `False`.
        subword_sampling_alpha: float in (0, 1] or `None`. Tokenize with
            `sample_tokenize(..., alpha=subword_sampling_alpha)`: a segmentation
            drawn anew every epoch (subword regularisation for a unigram
            SentencePiece model, BPE-dropout for a BPE one), which is known to
            help on small corpora. For training data only: validation, test
            and serving tokenize deterministically. Needs tokenizers with
            `sample_tokenize` (`SentencePieceTokenizer`). Defaults to `None`
            (deterministic).

    Returns:
        A `tf.data.Dataset` of `({"encoder_inputs": (B, S), "decoder_inputs":
        (B, T)}, labels (B, T))`, int32. Built eagerly and without subword
        sampling, it declares its number of batches (`cardinality()`, counted
        in one pass over the pairs), so `model.fit` shows progress and does not
        warn that the input ran out of data.

    Example:
    >>> dataset = make_translation_dataset(
    ...     corpus.train, tokenizer, tokenizer)  # doctest: +SKIP
    >>> model.fit(dataset, epochs=10)  # doctest: +SKIP
    """
    max_length, tokens_per_batch, bucket_width, num_replicas = _check_arguments(
        max_length, tokens_per_batch, bucket_width, num_replicas
    )
    if drop_remainder and pad_remainder:
        raise ValueError(
            "drop_remainder and pad_remainder exclude each other. Received: "
            "drop_remainder=True, pad_remainder=True"
        )
    if subword_sampling_alpha is not None:
        _check_sampling(subword_sampling_alpha, source_tokenizer, target_tokenizer)
    strings = _pair_strings(pairs)
    start_id = tf.constant([target_tokenizer.start_id], tf.int32)
    end_id = tf.constant([target_tokenizer.end_id], tf.int32)

    tokenize = _tokenize_function(
        source_tokenizer, target_tokenizer, subword_sampling_alpha
    )

    def fits(source_ids, target_ids):
        return tf.logical_and(
            tf.shape(source_ids)[0] <= max_length,
            tf.shape(target_ids)[0] + 1 <= max_length,
        )

    def add_start_and_end(source_ids, target_ids):
        decoder_inputs = tf.concat([start_id, target_ids], axis=0)
        labels = tf.concat([target_ids, end_id], axis=0)
        return source_ids, decoder_inputs, labels

    def to_token_ids(strings):
        return (
            strings.batch(1024)
            .map(tokenize, num_parallel_calls=num_parallel_calls)
            .unbatch()
            .filter(fits)
            .map(add_start_and_end, num_parallel_calls=num_parallel_calls)
        )

    # Fail here, not in the middle of model.fit, when every pair is too long.
    if not any(True for _ in to_token_ids(strings).take(1)):
        # Named as the caller names it (`--max-length` under `ktb`).
        raise SettingError(
            lambda name: (
                "Every sentence pair is longer than "
                f"{name('max_length')}={max_length} tokens (or the corpus is empty), "
                f"so the dataset has no batches. Raise {name('max_length')} or check "
                "the corpus."
            )
        )
    bounds = _length_bounds(max_length, bucket_width)

    def to_batches(token_ids):
        return token_ids.bucket_by_sequence_length(
            element_length_func=lambda source, decoder, labels: tf.maximum(
                tf.shape(source)[0], tf.shape(decoder)[0]
            ),
            # A length L goes to the first bucket whose boundary exceeds it.
            bucket_boundaries=[bound + 1 for bound in bounds[:-1]],
            bucket_batch_sizes=[
                _replica_multiple(tokens_per_batch // bound, num_replicas)
                for bound in bounds
            ],
            pad_to_bucket_boundary=False,
            drop_remainder=drop_remainder,
        )

    if drop_remainder and not any(True for _ in to_batches(to_token_ids(strings))):
        raise SettingError(
            lambda name: (
                "No length bucket holds a full batch of pairs, so with "
                "drop_remainder=True the dataset has no batches (a bucket of bound "
                f"L holds {name('tokens_per_batch')} // L = {tokens_per_batch} // L "
                "pairs). Pass drop_remainder=False (the default) or lower "
                f"{name('tokens_per_batch')}."
            )
        )
    unshuffled = strings
    if shuffle:
        strings = strings.shuffle(200_000, seed=seed, reshuffle_each_iteration=True)
    batches = to_batches(to_token_ids(strings))

    pad_to_bound = _pad_function(
        max_length, tokens_per_batch, bucket_width, num_replicas, pad_remainder
    )
    dataset = batches.map(pad_to_bound, num_parallel_calls=num_parallel_calls)
    if subword_sampling_alpha is None and tf.executing_eagerly():
        # Keras cannot infer the length of bucketed batches and warns "Your
        # input ran out of data" when an epoch ends. Buckets fill
        # independently of the order, so one unshuffled pass counts every
        # epoch (sampled segmentations differ in length, so those are not).
        dataset = with_cardinality(
            dataset, count_batches(to_batches(to_token_ids(unshuffled)))
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def padding_statistics(dataset, max_length=None, num_batches=None):
    """Measures how much of a batched dataset is padding.

    Args:
        dataset: batches from `make_translation_dataset`.
        max_length: int or `None`. When given, also report the padding fraction
            the same pairs would have in fixed-length batches of `max_length`.
        num_batches: int or `None`. Look at only this many batches.

    Returns:
        dict with `padding_fraction` (padding share of encoder and decoder input
        positions), `fixed_length_padding_fraction` (when `max_length`),
        `num_batches`, `num_pairs` (real pairs, not the rows that pad a batch
        to a multiple of the replicas) and `num_tokens` (real tokens).

    Example:
    >>> padding_statistics(dataset, max_length=64)  # doctest: +SKIP
    {'padding_fraction': 0.08, 'fixed_length_padding_fraction': 0.83, ...}
    """
    real = positions = pairs = batches = 0
    for inputs, labels in dataset.take(-1 if num_batches is None else num_batches):
        for name in ("encoder_inputs", "decoder_inputs"):
            ids = inputs[name].numpy()
            real += int(np.count_nonzero(ids))
            positions += ids.size
        # Rows added to split a batch over replicas have no label at all.
        pairs += int(np.count_nonzero(np.any(labels.numpy() != 0, axis=1)))
        batches += 1
    if batches == 0:
        raise ValueError("The dataset yielded no batches to measure.")
    statistics = {
        "padding_fraction": 1.0 - real / positions,
        "num_batches": batches,
        "num_pairs": pairs,
        "num_tokens": real,
    }
    if max_length is not None:
        statistics["fixed_length_padding_fraction"] = 1.0 - real / (
            pairs * 2 * max_length
        )
    return statistics
