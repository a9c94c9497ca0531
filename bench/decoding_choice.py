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

# Wider beams decode 1,000 validation sentences for hours on a CPU and need
# beam_size x batch decoder caches; the grid stops here.
MAX_BEAM_SIZE = 64
# BeamSampler's bound (keras_transformer_bit.samplers.beam_sampler), kept here so
# that --help answers without loading TensorFlow.
MAX_LENGTH_PENALTY = 10.0
CHECKPOINTS = ("auto", "best", "last", "averaged")


def _package():
    """The package, imported when decoding starts: `--help` and argument
    errors answer at once, without loading TensorFlow (seconds)."""
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    import keras_transformer_bit as ktb

    return ktb


def decode_grid(
    translate,
    pairs,
    beam_sizes,
    length_penalties,
    no_repeat_sizes=(0,),
    max_repeat_runs=(0,),
):
    """Scores every decoding setting on `pairs`.

    Args:
        translate: callable `(sources, **decoding) -> hypotheses`.
        pairs: list of `(source, reference)`.
        beam_sizes: beam widths to try (greedy is always tried).
        length_penalties: GNMT length penalties to try with each beam width.
        no_repeat_sizes: `no_repeat_ngram_size` values to try with each
            beam setting (`0`: none). Defaults to `(0,)`.
        max_repeat_runs: `max_repeat_run` values to try with each beam
            setting (`0`: none). Defaults to `(0,)`.

    Returns:
        A list of dicts (`method`, `beam_size`, `length_penalty`,
        `no_repeat_ngram_size`, `max_repeat_run`, `bleu`, `chrf`, `repetitive`, `empty`,
        `seconds`), greedy first.
    """
    from keras_transformer_bit.recipes.bleu import corpus_bleu
    from keras_transformer_bit.recipes.corpus_chrf import corpus_chrf
    from keras_transformer_bit.recipes.repetition_report import repetition_report

    sources = [source for source, _ in pairs]
    references = [reference for _, reference in pairs]
    settings = [dict(method="greedy")] + [
        dict(method="beam", beam_size=beam, length_penalty=penalty)
        | (dict(no_repeat_ngram_size=size) if size else {})
        | (dict(max_repeat_run=run) if run else {})
        for beam in beam_sizes
        for penalty in length_penalties
        for size in no_repeat_sizes
        for run in max_repeat_runs
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
                max_repeat_run=decoding.get("max_repeat_run", 0),
                bleu=corpus_bleu(hypotheses, references),
                chrf=corpus_chrf(hypotheses, references),
                repetitive=repetitions["repetitive"],
                empty=repetitions["empty"],
                seconds=seconds,
            )
        )
        print("RESULT", rows[-1], flush=True)
    return rows


def _length_penalty(text):
    """An argparse type: a float in [0, MAX_LENGTH_PENALTY]."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= MAX_LENGTH_PENALTY:
        raise argparse.ArgumentTypeError(
            f"must be a number in [0, {MAX_LENGTH_PENALTY:g}]. Received: {text!r}"
        )
    return value + 0.0  # -0.0 is 0.0


def parse_args(argv=None):
    """The command line, checked: every beam size >= 2, every length penalty
    a number in [0, MAX_LENGTH_PENALTY], every no-repeat size >= 0, no value
    given twice, and a --checkpoint the run can have."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--run-dir",
        default="runs/tutorial_translate",
        help="a trained translation run (default: runs/tutorial_translate, the "
        "main job's)",
    )
    parser.add_argument(
        "--checkpoint",
        default="auto",
        choices=CHECKPOINTS,
        help="weights of the run: auto, best, last or averaged (default: auto)",
    )
    parser.add_argument(
        "--beam-sizes",
        type=int,
        nargs="+",
        default=[4, 8],
        help=f"beam widths, each in [2, {MAX_BEAM_SIZE}]; greedy is always run "
        "(default: 4 8)",
    )
    parser.add_argument(
        "--length-penalties",
        type=_length_penalty,
        nargs="+",
        default=[0.6, 1.0, 1.4],
        help="GNMT length penalties tried with each beam width (default: 0.6 1.0 1.4)",
    )
    parser.add_argument(
        "--no-repeat-ngram-sizes",
        type=int,
        nargs="+",
        default=[0],
        help="no_repeat_ngram_size values to try with each beam setting (0: "
        "none) (default: 0)",
    )
    parser.add_argument(
        "--max-repeat-runs",
        type=int,
        nargs="+",
        default=[0],
        help="max_repeat_run values to try with each beam setting (0: none) "
        "(default: 0)",
    )
    parser.add_argument(
        "--output",
        default="bench_decoding_choice.md",
        help="where the Markdown table is written (default: "
        "bench_decoding_choice.md in the current directory)",
    )
    args = parser.parse_args(argv)
    if not args.output or os.path.isdir(args.output):
        parser.error(
            "--output must be a file to write the table to (checked before "
            f"decoding). Received: --output {args.output!r}"
        )
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
        parser.error(
            "--output must be in a directory that exists (checked before "
            f"decoding). Received: --output {args.output}"
        )
    for beam in args.beam_sizes:
        if not 2 <= beam <= MAX_BEAM_SIZE:
            parser.error(
                f"--beam-sizes must be in [2, {MAX_BEAM_SIZE}] (greedy is always "
                f"run). Received: {beam}"
            )
    for flag in ("--no-repeat-ngram-sizes", "--max-repeat-runs"):
        for size in getattr(args, flag[2:].replace("-", "_")):
            if size < 0:
                parser.error(f"{flag} must be >= 0. Received: {size}")
    for flag in (
        "--beam-sizes",
        "--length-penalties",
        "--no-repeat-ngram-sizes",
        "--max-repeat-runs",
    ):
        values = getattr(args, flag[2:].replace("-", "_"))
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            parser.error(
                f"{flag} repeats {' '.join(f'{v:g}' for v in repeated)}: give each "
                f"value once. Received: {flag} {' '.join(f'{v:g}' for v in values)}"
            )
    args.error = parser.error
    return args


def _setting_name(row):
    return "greedy" if row["method"] == "greedy" else f"beam {row['beam_size']}"


def format_report(rows, args, num_validation):
    """The Markdown report of `decode_grid`'s rows: the command, the table
    (each setting's BLEU also as a ratio to greedy's, "-" when greedy scored
    0) and the best setting on validation."""
    greedy = rows[0]["bleu"]
    best = max(rows, key=lambda row: row["bleu"])
    recipe = _package().recipes.translation_recipe()
    grid = (
        f"--beam-sizes {' '.join(map(str, args.beam_sizes))} "
        f"--length-penalties {' '.join(f'{p:g}' for p in args.length_penalties)} "
        "--no-repeat-ngram-sizes " + " ".join(map(str, args.no_repeat_ngram_sizes))
    )
    if args.max_repeat_runs != [0]:
        grid += " --max-repeat-runs " + " ".join(map(str, args.max_repeat_runs))
    lines = [
        "## Decoding chosen on validation",
        "",
        f"Command: `python bench/decoding_choice.py --run-dir {args.run_dir} "
        f"--checkpoint {args.checkpoint} {grid}` ({num_validation} validation "
        "sentences; sacreBLEU 13a cased)",
        "",
        "| decoding | length penalty | no repeat n-gram | max repeat run | "
        "validation BLEU | / greedy | chrF | repeats 3+ | empty | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        penalty = "-" if row["length_penalty"] is None else f"{row['length_penalty']:g}"
        ratio = f"{row['bleu'] / greedy:.2f}x" if greedy > 0 else "-"
        lines.append(
            f"| {_setting_name(row)} | {penalty} | "
            f"{row['no_repeat_ngram_size'] or '-'} | "
            f"{row.get('max_repeat_run') or '-'} | {row['bleu']:.2f} | {ratio} | "
            f"{row['chrf']:.1f} | {row['repetitive']} | {row['empty']} | "
            f"{row['seconds']:.0f} |"
        )
    best_name = _setting_name(best)
    if best["method"] != "greedy":
        best_name += (
            f", length penalty {best['length_penalty']:g}, no_repeat_ngram_size "
            f"{best['no_repeat_ngram_size']}, max_repeat_run "
            f"{best.get('max_repeat_run', 0)}"
        )
    lines += [
        "",
        f"Best on validation: {best_name}, {best['bleu']:.2f}. The recipe: beam "
        f"{recipe.beam_size}, length penalty {recipe.length_penalty}, "
        f"max_repeat_run {recipe.max_repeat_run}.",
        "",
    ]
    return "\n".join(lines)


def main():
    args = parse_args()
    # Before TensorFlow loads (seconds): a directory that holds no run.
    if not os.path.isfile(os.path.join(args.run_dir, "translate_config.json")):
        args.error(
            f"--run-dir {args.run_dir} holds no trained translation run (no "
            "translate_config.json): train one first, with `ktb translate train "
            f"--model-dir {args.run_dir}` or the main job (bash scripts/main.sh)."
        )
    ktb = _package()
    try:
        run = ktb.training.TranslationRun(args.run_dir)
        corpus = run.corpus()
        _, source_tokenizer, target_tokenizer, model = run.load(args.checkpoint)
    except (FileNotFoundError, ValueError) as error:
        args.error(f"--run-dir {args.run_dir}: {error}")
    if not corpus.validation:
        args.error(
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
        args.max_repeat_runs,
    )
    text = format_report(rows, args, len(corpus.validation))
    print(text)
    with open(args.output, "w", encoding="utf-8") as file:
        file.write(text)


if __name__ == "__main__":
    main()
