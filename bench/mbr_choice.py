"""Minimum-Bayes-risk choice among the beam's n-best, against its top-1.

Beam search returns the translation with the highest model score. MBR
decoding (Kumar & Byrne 2004) returns instead the candidate that agrees
best, in expected sentence BLEU or chrF, with the others, each weighted by
the model's probability of it (the softmax of the beam scores divided by a
temperature). This decodes the validation split of a trained translation
run with beam search, `--beam-size` candidates a sentence, and scores the
top-1 and every MBR choice with sacreBLEU (13a, cased) and chrF. The test
split is not decoded.

Run (a few minutes on 2 cores):
    python bench/mbr_choice.py --run-dir runs/tutorial_translate
"""

import argparse
import math
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

UTILITIES = ("bleu", "chrf")


def mbr_choose(candidates, scores, utility, temperature=1.0):
    """The index of the candidate of highest expected utility.

    Args:
        candidates: list of strings, the beam's n-best.
        scores: their model scores (log-probabilities, length-penalised).
        utility: callable `(hypothesis, reference) -> float`.
        temperature: float > 0. Divides the scores before the softmax.

    Returns:
        int: `argmax_i sum_j p_j * utility(candidates[i], candidates[j])`,
        the sum over every candidate, the chosen one's own included (so at a
        low temperature the choice is beam search's top-1).
    """
    import numpy as np

    if temperature <= 0:
        raise ValueError(f"temperature must be > 0. Received: {temperature}")
    scores = np.asarray(scores, "float64") / temperature
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    expected = [
        sum(
            weights[j] * utility(candidate, other) for j, other in enumerate(candidates)
        )
        for candidate in candidates
    ]
    return int(np.argmax(expected))


def sentence_utility(name):
    """Sentence-level BLEU (with effective order) or chrF, from sacreBLEU."""
    from sacrebleu.metrics import BLEU, CHRF

    if name not in UTILITIES:
        raise ValueError(f"utility must be one of {UTILITIES}. Received: {name!r}")
    metric = BLEU(effective_order=True) if name == "bleu" else CHRF()
    return lambda hypothesis, reference: (
        metric.sentence_score(hypothesis, [reference]).score
    )


def n_best(model, source_tokenizer, target_tokenizer, sources, recipe, beam_size):
    """Every source's `beam_size` best translations and their scores."""
    import numpy as np
    import tensorflow as tf

    order = np.argsort([len(source) for source in sources], kind="stable")
    candidates, scores = [None] * len(sources), [None] * len(sources)
    for start in range(0, len(sources), 64):
        batch = order[start : start + 64]
        ids = source_tokenizer.tokenize(tf.constant([sources[i] for i in batch]))
        ids = tf.cast(ids.to_tensor(model.pad_token_id), "int32")
        token_ids, batch_scores = model.generate(
            ids[:, : recipe.max_length],
            max_length=recipe.max_length,
            method="beam",
            beam_size=beam_size,
            num_return_sequences=beam_size,
            length_penalty=recipe.length_penalty,
            max_repeat_run=recipe.max_repeat_run,
            return_scores=True,
            jit_compile=False,
        )
        rows, n, length = token_ids.shape
        texts = target_tokenizer.detokenize(tf.reshape(token_ids, [rows * n, length]))
        texts = np.asarray(texts).reshape(rows, n)
        for row, index in enumerate(batch):
            candidates[index] = [text.decode("utf-8") for text in texts[row]]
            scores[index] = np.asarray(batch_scores[row], "float64")
    return candidates, scores


def _beam_size(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected an int >= 2 (MBR chooses among the beam's candidates), "
            f"got {text!r}"
        )
    return value


def _temperature(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--checkpoint", default="auto")
    parser.add_argument("--beam-size", type=_beam_size, default=8)
    parser.add_argument(
        "--temperatures", type=_temperature, nargs="+", default=[0.5, 1, 2]
    )
    return parser.parse_args(argv)


def main():
    args = parse_args()

    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    from keras_transformer_bit.recipes import (
        corpus_bleu,
        corpus_chrf,
        translation_recipe,
    )
    from keras_transformer_bit.training import TranslationRun

    run = TranslationRun(args.run_dir)
    config, source_tokenizer, target_tokenizer, model = run.load(args.checkpoint)
    recipe = translation_recipe(max_length=config["max_length"])
    pairs = run.corpus().validation
    if not pairs:
        raise SystemExit(
            f"{args.run_dir} has no validation split: MBR is chosen on validation "
            "sentences, and the test split is not decoded here."
        )
    sources = [source for source, _ in pairs]
    references = [reference for _, reference in pairs]
    started = time.perf_counter()
    candidates, scores = n_best(
        model, source_tokenizer, target_tokenizer, sources, recipe, args.beam_size
    )
    seconds = time.perf_counter() - started
    rows = [("top-1 (beam search)", "-", [c[0] for c in candidates])]
    for name in UTILITIES:
        utility = sentence_utility(name)
        for temperature in args.temperatures:
            chosen = [
                c[mbr_choose(c, s, utility, temperature)]
                for c, s in zip(candidates, scores)
            ]
            rows.append((f"MBR, sentence {name}", f"{temperature:g}", chosen))
    print(
        f"{len(sources)} validation sentences, beam {args.beam_size}, length "
        f"penalty {recipe.length_penalty:g}, {seconds:.0f} s to decode the n-best\n"
    )
    print("| choice | temperature | validation BLEU | chrF |")
    print("|---|---:|---:|---:|")
    for name, temperature, hypotheses in rows:
        print(
            f"| {name} | {temperature} | {corpus_bleu(hypotheses, references):.2f} "
            f"| {corpus_chrf(hypotheses, references):.1f} |"
        )


if __name__ == "__main__":
    main()
