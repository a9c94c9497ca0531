"""Picks the beam size and length penalty by BLEU on held-out pairs."""

import itertools
import time

from keras_transformer_bit.recipes.bleu import corpus_bleu
from keras_transformer_bit.utils import check_positive_int


def choose_decoding(
    model,
    source_tokenizer,
    target_tokenizer,
    pairs,
    beam_sizes=(1, 2, 4, 6),
    length_penalties=(0.0, 0.6, 1.0),
    max_length=64,
    max_source_length=None,
):
    """Decodes `pairs` with every beam size and length penalty; best BLEU first.

    Choose these on the validation split, never on the test split. Beam size
    1 is greedy decoding, for which the length penalty does not matter: it is
    decoded once. Each setting decodes through `ktb.Translator`, as an export
    with the same options serves.

    Args:
        model: a trained `Transformer` (or any model `ktb.Translator` drives).
        source_tokenizer: tokenizer of the source side.
        target_tokenizer: tokenizer of the target side.
        pairs: list of (source, reference) pairs, e.g. `corpus.validation`.
        beam_sizes: ints. Defaults to `(1, 2, 4, 6)`.
        length_penalties: floats, the GNMT alpha of beam search. Defaults to
            `(0.0, 0.6, 1.0)`.
        max_length: int. Most target tokens. Defaults to `64`.
        max_source_length: int or None. Sources are cut to this many tokens.

    Returns:
        A list of dicts `{"beam_size", "length_penalty", "bleu", "seconds"}`
        (`length_penalty` is None for greedy), the best BLEU first.

    Example:
    >>> results = choose_decoding(
    ...     model, tokenizer, tokenizer, corpus.validation)  # doctest: +SKIP
    >>> best = results[0]  # doctest: +SKIP
    >>> best["beam_size"], best["length_penalty"]  # doctest: +SKIP
    (4, 0.6)
    """
    # ktb.Translator is TensorFlow (it exports); imported on use so that the
    # recipes stay backend-neutral.
    from keras_transformer_bit.translator import Translator

    pairs = list(pairs)
    if not pairs:
        raise ValueError("choose_decoding needs at least one pair. Received: []")
    beam_sizes = [check_positive_int("beam_sizes", size) for size in beam_sizes]
    if not beam_sizes or not length_penalties:
        raise ValueError(
            "beam_sizes and length_penalties must not be empty. Received: "
            f"beam_sizes={beam_sizes}, length_penalties={list(length_penalties)}"
        )
    for penalty in length_penalties:
        if (
            isinstance(penalty, bool)
            or not isinstance(penalty, (int, float))
            or (not penalty >= 0)
        ):
            raise ValueError(
                "length_penalties must be numbers >= 0 (GNMT's alpha; 0: none). "
                f"Received: {penalty!r} in length_penalties={list(length_penalties)}"
            )
    sources = [source for source, _ in pairs]
    references = [reference for _, reference in pairs]
    settings = [(1, None)] if 1 in beam_sizes else []
    settings += [
        (size, float(penalty))
        for size, penalty in itertools.product(beam_sizes, length_penalties)
        if size > 1
    ]
    results = []
    for beam_size, length_penalty in settings:
        if beam_size == 1:
            options = dict(method="greedy")
        else:
            options = dict(
                method="beam", beam_size=beam_size, length_penalty=length_penalty
            )
        translator = Translator(
            model,
            source_tokenizer,
            target_tokenizer,
            max_length=max_length,
            max_source_length=max_source_length,
            **options,
        )
        started = time.perf_counter()
        hypotheses = translator(sources)
        results.append(
            {
                "beam_size": beam_size,
                "length_penalty": length_penalty,
                "bleu": corpus_bleu(hypotheses, references),
                "seconds": time.perf_counter() - started,
            }
        )
    return sorted(results, key=lambda result: -result["bleu"])
