"""Minimum-Bayes-risk choice among a beam's candidates, in TensorFlow ops.

Beam search returns the translation of highest model score. The MBR choice
(Kumar & Byrne 2004) returns instead the candidate that agrees best with the
others: the one of highest expected sentence chrF against the n-best, each
candidate weighted by the softmax of its beam score divided by a
temperature. Every op is a core TensorFlow op, so `ktb.Translator` runs the
choice inside its decoding graph and `ktb.export.export_translator` writes it
into the SavedModel that TF Serving loads.
"""

import tensorflow as tf

from keras_transformer_bit.utils.check_mbr_options import check_mbr_options
from keras_transformer_bit.utils.check_positive_int import check_positive_int
from keras_transformer_bit.utils.is_finite_number import is_finite_number

# What Python's `str.split()` splits on, and so what sacreBLEU's chrF drops.
_WHITESPACE = r"[\t\n\x0b\f\r\x1c-\x1f\x{85}\p{Z}]+"


def pairwise_chrf(candidates, char_order=6, beta=2.0):
    """Sentence chrF of every candidate against every other of its row.

    The score is sacreBLEU's sentence chrF (`CHRF()`: character n-grams of
    orders 1 to `char_order` with whitespace removed, precision and recall
    averaged over the orders that both sentences have, F-beta), divided by
    100.

    Args:
        candidates: `tf.string` tensor `(batch, n)`.
        char_order: int. The longest character n-gram. Defaults to `6`.
        beta: float. Weight of recall against precision. Defaults to `2.0`.

    Returns:
        float32 tensor `(batch, n, n)`: entry `[b, i, j]` scores candidate
        `i` as the hypothesis against candidate `j` as the reference, in
        `[0, 1]`.

    Example:
    >>> scores = pairwise_chrf([["the cat sat", "the cat sat down", ""]])
    >>> [round(float(x), 3) for x in scores[0, 0]]
    [1.0, 0.66, 0.0]
    """
    check_positive_int("char_order", char_order)
    if not is_finite_number(beta) or not beta > 0:
        raise ValueError(f"beta must be a finite number > 0. Received: beta={beta!r}")
    candidates = tf.convert_to_tensor(candidates, tf.string)
    if candidates.shape.rank != 2:
        raise ValueError(
            "candidates must be a (batch, n) tensor of strings. Received: shape "
            f"{candidates.shape}"
        )
    batch, n = tf.shape(candidates)[0], tf.shape(candidates)[1]
    text = tf.strings.regex_replace(tf.reshape(candidates, [-1]), _WHITESPACE, "")
    characters = tf.strings.unicode_split(text, "UTF-8")
    rows = tf.range(batch * n)
    # Each flat row's sentence and its column among the sentence's candidates.
    sentence_of_row = rows // n
    column_of_row = tf.cast(rows % n, tf.int64)
    n64 = tf.cast(n, tf.int64)
    matches, counts = [], []
    for order in range(1, char_order + 1):
        grams = tf.strings.ngrams(characters, order, separator="")
        row = grams.value_rowids()
        sentence = tf.gather(sentence_of_row, row)
        # One id per distinct (sentence, n-gram); whitespace never occurs in
        # an n-gram, so a tab keeps the sentence number apart.
        keys = tf.strings.join(
            [tf.strings.as_string(sentence), grams.flat_values], "\t"
        )
        ids, gram_index = tf.unique(keys, out_idx=tf.int64)
        num_ids = tf.size(ids, out_type=tf.int64)
        column = tf.gather(column_of_row, row)
        # counts[id, k]: how often candidate k of the id's sentence holds it.
        gram_counts = tf.math.unsorted_segment_sum(
            tf.ones_like(gram_index, tf.float32),
            gram_index * n64 + column,
            num_ids * n64,
        )
        gram_counts = tf.reshape(gram_counts, [num_ids, n64])
        gram_sentence = tf.math.unsorted_segment_max(sentence, gram_index, num_ids)
        shared = tf.minimum(gram_counts[:, :, None], gram_counts[:, None, :])
        matches.append(tf.math.unsorted_segment_sum(shared, gram_sentence, batch))
        counts.append(tf.reshape(tf.cast(grams.row_lengths(), tf.float32), [batch, n]))
    matches = tf.stack(matches)  # (order, batch, n, n)
    counts = tf.stack(counts)
    hypothesis, reference = counts[:, :, :, None], counts[:, :, None, :]
    both = tf.cast((hypothesis > 0) & (reference > 0), tf.float32)
    precision = tf.reduce_sum(both * tf.math.divide_no_nan(matches, hypothesis), 0)
    recall = tf.reduce_sum(both * tf.math.divide_no_nan(matches, reference), 0)
    orders = tf.reduce_sum(both, 0)
    precision = tf.math.divide_no_nan(precision, orders)
    recall = tf.math.divide_no_nan(recall, orders)
    factor = float(beta) ** 2
    return tf.math.divide_no_nan(
        (1 + factor) * precision * recall, factor * precision + recall
    )


def mbr_choice(candidates, scores, temperature=1.0):
    """The index of each row's candidate of highest expected chrF.

    `expected[i] = sum_j p_j * chrF(candidate i, candidate j)` with `p =
    softmax(scores / temperature)` over the row: the sum runs over every
    candidate, the scored one included, so a low temperature gives back the
    top-scored candidate. A candidate whose score is not finite (a beam
    that never finished) gets no weight and is never chosen; a row with no
    finite score chooses its first candidate. Ties go to the lower index.

    Args:
        candidates: `tf.string` tensor `(batch, n)`, e.g. beam search's
            n-best.
        scores: float tensor `(batch, n)`: their model scores
            (log-probabilities, length-penalised for beam search).
        temperature: float > 0. Divides the scores before the softmax.
            Defaults to `1.0`.

    Returns:
        int32 tensor `(batch,)`: the chosen candidate of each row.

    Example:
    >>> candidates = [["a dog runs", "the dog runs", "the dog is running"]]
    >>> mbr_choice(candidates, [[-1.0, -1.1, -1.2]]).numpy().tolist()
    [1]
    """
    _, temperature = check_mbr_options(None, temperature)
    candidates = tf.convert_to_tensor(candidates, tf.string)
    scores = tf.cast(tf.convert_to_tensor(scores), tf.float32)
    _check_shapes(candidates, scores)
    utility = pairwise_chrf(candidates)
    logits = scores / temperature
    finite = tf.math.is_finite(logits)
    logits = tf.where(finite, logits, float("-inf"))
    # A row without a finite score has NaN weights; they become 0 here.
    weights = tf.where(finite, tf.nn.softmax(logits, axis=-1), 0.0)
    expected = tf.linalg.matvec(utility, weights)
    expected = tf.where(finite, expected, -1.0)
    best = tf.reduce_max(expected, axis=-1, keepdims=True)
    n = tf.shape(expected)[-1]
    index = tf.where(expected >= best, tf.range(n)[None, :], n)
    return tf.minimum(tf.reduce_min(index, axis=-1), n - 1)


def _check_shapes(candidates, scores):
    """Candidates and scores of one shape `(batch, n)` with `n >= 1`, where
    the shapes are known (inside a graph, unknown dimensions pass)."""
    if candidates.shape.rank != 2 or scores.shape.rank != 2:
        raise ValueError(
            "candidates and scores must both be (batch, n) tensors. Received: "
            f"candidates of shape {candidates.shape}, scores of shape {scores.shape}"
        )
    if not candidates.shape.is_compatible_with(scores.shape):
        raise ValueError(
            "candidates and scores must have the same shape (a score per "
            f"candidate). Received: candidates of shape {candidates.shape}, "
            f"scores of shape {scores.shape}"
        )
    if candidates.shape[1] == 0:
        raise ValueError(
            "mbr_choice needs at least one candidate per row. Received: "
            f"candidates of shape {candidates.shape}"
        )
