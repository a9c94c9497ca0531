"""Beam size and length penalty, chosen on validation BLEU for a trained run.

Decodes the validation split of a trained translation run (a `ktb translate
train` directory, or the main job's `runs/tutorial_translate`) with greedy
search and with beam search at every beam size and length penalty of the
grid, and scores each with sacreBLEU (13a, cased) and chrF. The test split is
not decoded: the choice is made on validation, and the recipe
(`ktb.recipes.translation_recipe()`) holds the one chosen.

Beam search is compared with greedy decoding of the same weights in the same
run, so the table also shows what the beam buys on this model.

Run:
    python bench/decoding_choice.py --run-dir runs/tutorial_translate
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow_text  # noqa: E402, F401  (registers the tokenizer ops)

import keras_transformer_bit as ktb  # noqa: E402
from keras_transformer_bit.recipes.bleu import corpus_bleu  # noqa: E402
from keras_transformer_bit.recipes.corpus_chrf import corpus_chrf  # noqa: E402
from keras_transformer_bit.recipes.repetition_report import (  # noqa: E402
    repetition_report,
)


def decode_grid(translate, pairs, beam_sizes, length_penalties, no_repeat_sizes=(0,)):
    """Scores every decoding setting on `pairs`.

    Args:
        translate: callable `(sources, **decoding) -> hypotheses`.
        pairs: list of `(source, reference)`.
        beam_sizes: beam widths to try (greedy is always tried).
        length_penalties: GNMT length penalties to try with each beam width.
        no_repeat_sizes: `no_repeat_ngram_size` values to try with each
            beam setting (`0`: none). Defaults to `(0,)`.

    Returns:
        A list of dicts (`method`, `beam_size`, `length_penalty`,
        `no_repeat_ngram_size`, `bleu`, `chrf`, `repetitive`, `empty`,
        `seconds`), greedy first.
    """
    sources = [source for source, _ in pairs]
    references = [reference for _, reference in pairs]
    settings = [dict(method="greedy")] + [
        dict(method="beam", beam_size=beam, length_penalty=penalty)
        | (dict(no_repeat_ngram_size=size) if size else {})
        for beam in beam_sizes
        for penalty in length_penalties
        for size in no_repeat_sizes
    ]
    rows = []
    for decoding in settings:
        started = time.perf_counter()
        hypotheses = translate(sources, **decoding)
        seconds = time.perf_counter() - started
        repetitions = repetition_report(hypotheses, sources)
        rows.append(
            dict(
                method=decoding["method"],
                beam_size=decoding.get("beam_size", 1),
                length_penalty=decoding.get("length_penalty"),
                no_repeat_ngram_size=decoding.get("no_repeat_ngram_size", 0),
                bleu=corpus_bleu(hypotheses, references),
                chrf=corpus_chrf(hypotheses, references),
                repetitive=repetitions["repetitive"],
                empty=repetitions["empty"],
                seconds=seconds,
            )
        )
        print("RESULT", rows[-1], flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", default="runs/tutorial_translate")
    parser.add_argument(
        "--checkpoint",
        default="auto",
        help="weights of the run: auto, best, last or averaged (default auto)",
    )
    parser.add_argument("--beam-sizes", type=int, nargs="+", default=[4, 8])
    parser.add_argument(
        "--length-penalties", type=float, nargs="+", default=[0.6, 1.0, 1.4]
    )
    parser.add_argument(
        "--no-repeat-ngram-sizes",
        type=int,
        nargs="+",
        default=[0],
        help="no_repeat_ngram_size values to try with each beam setting (0: none)",
    )
    parser.add_argument("--output", default="bench_decoding_choice.md")
    args = parser.parse_args()
    for beam in args.beam_sizes:
        if beam < 2:
            parser.error(f"--beam-sizes must be >= 2 (greedy is always run). "
                         f"Received: {beam}")  # fmt: skip
    for size in args.no_repeat_ngram_sizes:
        if size < 0:
            parser.error(f"--no-repeat-ngram-sizes must be >= 0. Received: {size}")
    for penalty in args.length_penalties:
        if penalty < 0:
            parser.error(f"--length-penalties must be >= 0. Received: {penalty}")

    try:
        run = ktb.training.TranslationRun(args.run_dir)
        corpus = run.corpus()
        _, source_tokenizer, target_tokenizer, model = run.load(args.checkpoint)
    except (FileNotFoundError, ValueError) as error:
        parser.error(f"--run-dir {args.run_dir}: {error}")
    if not corpus.validation:
        parser.error(
            f"--run-dir {args.run_dir}: the run has no validation split to "
            "choose on (train it with a validation_size above 0)."
        )
    recipe = ktb.recipes.translation_recipe()

    def translate(sources, **decoding):
        translator = ktb.Translator(
            model,
            source_tokenizer,
            target_tokenizer,
            max_length=recipe.max_length,
            **decoding,
        )
        return translator(sources)

    rows = decode_grid(
        translate,
        corpus.validation,
        args.beam_sizes,
        args.length_penalties,
        args.no_repeat_ngram_sizes,
    )
    greedy = rows[0]["bleu"]
    best = max(rows, key=lambda row: row["bleu"])
    lines = [
        "## Decoding chosen on validation",
        "",
        f"Command: `python bench/decoding_choice.py --run-dir {args.run_dir} "
        f"--checkpoint {args.checkpoint}` with the grid above "
        f"({len(corpus.validation)} validation "
        "sentences; sacreBLEU 13a cased)",
        "",
        "| decoding | length penalty | no repeat n-gram | validation BLEU | "
        "/ greedy | chrF | repeats 3+ | empty | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        name = "greedy" if row["method"] == "greedy" else f"beam {row['beam_size']}"
        penalty = "-" if row["length_penalty"] is None else f"{row['length_penalty']:g}"
        ratio = row["bleu"] / greedy if greedy > 0 else float("inf")
        lines.append(
            f"| {name} | {penalty} | {row['no_repeat_ngram_size'] or '-'} | "
            f"{row['bleu']:.2f} | {ratio:.2f}x | "
            f"{row['chrf']:.1f} | {row['repetitive']} | {row['empty']} | "
            f"{row['seconds']:.0f} |"
        )
    lines += [
        "",
        f"Best on validation: {best['method']} beam {best['beam_size']}, length "
        f"penalty {best['length_penalty']}, no_repeat_ngram_size "
        f"{best['no_repeat_ngram_size']}: {best['bleu']:.2f}. The recipe: beam "
        f"{recipe.beam_size}, length penalty {recipe.length_penalty}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with open(args.output, "w", encoding="utf-8") as file:
        file.write(text)


if __name__ == "__main__":
    main()
