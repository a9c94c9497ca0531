"""Corpus chrF with sacreBLEU, the character n-gram F-score."""

import sacrebleu

from keras_transformer_bit.recipes.bleu import check_aligned_texts


def corpus_chrf(hypotheses, references):
    """sacreBLEU corpus chrF (chrF2: character 6-grams, beta 2) of translations.

    chrF rewards partly right words (shared character n-grams), so it moves
    before BLEU does on small models and morphologically rich targets.

    Args:
        hypotheses: list of str. System translations, detokenized.
        references: list of str. One reference per hypothesis.

    Returns:
        float. chrF in [0, 100].

    Example:
    >>> round(corpus_chrf(["The cat sat on the mat."], ["The cat sat on the mat."]))
    100
    """

    hypotheses, references = check_aligned_texts("corpus_chrf", hypotheses, references)
    return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)
