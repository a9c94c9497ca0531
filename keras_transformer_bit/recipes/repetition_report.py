"""How many translations are degenerate: a word repeated in a row, or nothing."""

import re

from keras_transformer_bit.recipes.bleu import check_aligned_texts
from keras_transformer_bit.utils import check_positive_int

_WORD = re.compile(r"\w+", re.UNICODE)


def longest_word_run(text):
    """The most times one word occurs in a row in `text` (case-insensitive).

    Example:
    >>> longest_word_run("Her latest latest latest book.")
    3
    """
    words = [word.lower() for word in _WORD.findall(text)]
    longest = run = 0
    for index, word in enumerate(words):
        run = run + 1 if index and word == words[index - 1] else 1
        longest = max(longest, run)
    return longest


def repetition_report(hypotheses, sources, min_repeats=3):
    """Counts degenerate translations of a test set.

    A translation is *repetitive* when one word occurs `min_repeats` or more
    times in a row in it while its source has no such run (so "Nein, nein,
    nein!" translated as "No, no, no!" does not count). It is *empty* when it
    holds no word characters.

    Args:
        hypotheses: list of str. Translations.
        sources: list of str. Their source sentences.
        min_repeats: int. Defaults to `3`.

    Returns:
        dict: `num_sentences`, `repetitive` (count), `repetition_rate`
        (fraction), `empty` (count) and `repetitive_examples` (up to five
        `(source, translation)` pairs).

    Example:
    >>> report = repetition_report(
    ...     ["It is is is late.", "", "Yes."], ["Es ist spät.", "Ja.", "Ja."])
    >>> report["repetitive"], report["empty"], round(report["repetition_rate"], 3)
    (1, 1, 0.333)
    """
    min_repeats = check_positive_int("min_repeats", min_repeats)
    hypotheses, sources = check_aligned_texts(
        "repetition_report", hypotheses, sources, "sources"
    )
    repetitive = [
        (source, hypothesis)
        for hypothesis, source in zip(hypotheses, sources)
        if longest_word_run(hypothesis) >= min_repeats
        and longest_word_run(source) < min_repeats
    ]
    empty = sum(1 for hypothesis in hypotheses if not _WORD.search(hypothesis))
    return {
        "num_sentences": len(hypotheses),
        "repetitive": len(repetitive),
        "repetition_rate": len(repetitive) / len(hypotheses),
        "empty": empty,
        "repetitive_examples": repetitive[:5],
    }
