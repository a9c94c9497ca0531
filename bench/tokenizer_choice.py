"""Which tokenizer for the tutorial? Validation BLEU after the same training budget.

Three arms train the Ding German→English recipe of `tutorials/translate.py`
(`ktb.recipes.translation_recipe()`: the same model, schedule, length-bucketed
pipeline and beam search) for the same wall-clock budget each, in one process:

- `wordpiece`: the shared WordPiece vocabulary (`SubwordTokenizer`);
- `sentencepiece`: a shared unigram SentencePiece model of the same size
  (`SentencePieceTokenizer`), which gives every sentence back exactly;
- `sentencepiece_sampling`: the same model, with subword regularisation on the
  training split (`--alpha`, Kudo 2018): a new segmentation every epoch.
  Alpha is an inverse temperature over all segmentations (`nbest_size=-1`):
  the smaller, the finer the pieces. On Ding with 6,000 pieces a sentence has
  13.1 pieces unsampled, 25.1 with alpha 0.1 (4.9% then exceed the recipe's
  48 and are skipped that epoch), 18.9 with 0.2 (0.85%), 16.0 with 0.3 and
  14.0 with 0.5; so compare a few alphas (`--alpha 0.2`, ...).

Each arm is scored by sacreBLEU (13a, cased) on the validation split, decoded
with the recipe's beam search, and compared with WordPiece as a ratio. The
tutorial's default should be the arm with the best validation BLEU (the test
split stays untouched for the final number). Building a tokenizer is not part
of the budget. Run it on a quiet machine: the arms share the CPU with nothing
else, one after the other.

Run:
    python bench/tokenizer_choice.py --minutes 20           # ~70 min in all
    python bench/tokenizer_choice.py --quick                # a smoke run

Writes a Markdown table (--output, default bench_tokenizer_choice.md) and the
same numbers as JSON beside it (.json).
"""

import argparse
import dataclasses
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402
from keras_transformer_bit.data import (  # noqa: E402
    SentencePieceTokenizer,
    SubwordTokenizer,
    load_ding_de_en,
)
from keras_transformer_bit.recipes import TrainingBudget, corpus_bleu  # noqa: E402

# arm → (tokenizer kind, samples the training split)
ARMS = {
    "wordpiece": ("wordpiece", False),
    "sentencepiece": ("sentencepiece", False),
    "sentencepiece_sampling": ("sentencepiece", True),
}


def build_tokenizer(arm, texts, vocabulary_size):
    """The shared tokenizer of `arm`, built from `texts`."""
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {list(ARMS)}. Received: arm={arm!r}")
    if ARMS[arm][0] == "wordpiece":
        return SubwordTokenizer.build(texts, vocabulary_size=vocabulary_size)
    return SentencePieceTokenizer.build(texts, vocabulary_size=vocabulary_size)


def run_arm(arm, corpus, tokenizer, minutes, alpha, seed, recipe):
    """Trains the recipe for `minutes` and scores validation BLEU."""
    sampling_alpha = alpha if ARMS[arm][1] else None
    keras.utils.set_random_seed(seed)
    model = recipe.compile(
        recipe.build_model(vocabulary_size=tokenizer.vocabulary_size), metrics=False
    )
    train, _ = recipe.datasets(
        corpus, tokenizer, tokenizer, seed=seed, subword_sampling_alpha=sampling_alpha
    )
    budget = TrainingBudget(minutes)
    history = model.fit(
        train, epochs=1000, callbacks=[budget], verbose=2, shuffle=False
    )
    translator = recipe.translator(model, tokenizer, tokenizer)
    started = time.perf_counter()
    hypotheses = translator([source for source, _ in corpus.validation])
    decode_seconds = time.perf_counter() - started
    return {
        "arm": arm,
        "validation_bleu": corpus_bleu(
            hypotheses, [target for _, target in corpus.validation]
        ),
        "epochs": len(history.epoch),
        "train_minutes": budget.elapsed_seconds / 60,
        "vocabulary_size": tokenizer.vocabulary_size,
        "subword_sampling_alpha": sampling_alpha,
        "decode_seconds": decode_seconds,
        "samples": hypotheses[:3],
    }


def add_ratios(results):
    """Adds each arm's validation BLEU over WordPiece's (`None` without it)."""
    baseline = next(
        (r["validation_bleu"] for r in results if r["arm"] == "wordpiece"), None
    )
    for result in results:
        result["ratio_to_wordpiece"] = (
            round(result["validation_bleu"] / baseline, 4) if baseline else None
        )
    return results


def markdown_table(results):
    lines = [
        "| arm | validation BLEU | / WordPiece | epochs | vocabulary | alpha |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        ratio = r["ratio_to_wordpiece"]
        lines.append(
            f"| {r['arm']} | {r['validation_bleu']:.2f} | "
            f"{'-' if ratio is None else f'{ratio:.2f}'} | {r.get('epochs', '-')} | "
            f"{r.get('vocabulary_size', '-')} | "
            f"{r.get('subword_sampling_alpha') or '-'} |"
        )
    return "\n".join(lines)


def run(
    corpus,
    minutes,
    vocabulary_sizes,
    alpha,
    seed,
    output,
    recipe_changes=None,
    arms=tuple(ARMS),
):
    """Runs `arms` one after the other; writes `output` (JSON) and its `.md`."""
    recipe = ktb.recipes.translation_recipe(**(recipe_changes or {}))
    texts = [sentence for pair in corpus.train for sentence in pair]
    tokenizers = {}
    results = []
    for arm in arms:
        kind = ARMS[arm][0]
        started = time.perf_counter()
        if kind not in tokenizers:  # the sampling arm reuses the model
            tokenizers[kind] = build_tokenizer(arm, texts, vocabulary_sizes[kind])
        build_seconds = time.perf_counter() - started
        keras.utils.clear_session(free_memory=True)
        result = run_arm(arm, corpus, tokenizers[kind], minutes, alpha, seed, recipe)
        result["tokenizer_build_seconds"] = build_seconds
        results.append(result)
        # As we go: a crash late in a long run should not lose the rest.
        print("RESULT", json.dumps(result, ensure_ascii=False), flush=True)
    add_ratios(results)
    table = markdown_table(results)
    header = (
        f"Validation BLEU after {minutes:g} min of training per arm (Ding de→en, "
        f"{len(corpus.train)} training pairs, {len(corpus.validation)} validation "
        f"sentences, sacreBLEU 13a cased, beam {recipe.beam_size}; "
        f"seed {seed})"
    )
    print(f"\n{header}\n\n{table}")
    with open(output, "w", encoding="utf-8") as file:
        json.dump(
            {"minutes": minutes, "seed": seed, "alpha": alpha, "results": results},
            file,
            indent=2,
            ensure_ascii=False,
        )
    with open(os.path.splitext(output)[0] + ".md", "w", encoding="utf-8") as file:
        file.write(f"{header}\n\n{table}\n")
    return results


def main():
    recipe = ktb.recipes.translation_recipe()
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--minutes", type=float, default=20.0, help="training budget per arm"
    )
    parser.add_argument(
        "--alpha", type=float, default=0.1, help="sampling arm's subword alpha"
    )
    parser.add_argument("--vocabulary-size", type=int, default=recipe.vocabulary_size)
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--output", default="bench_tokenizer_choice.json")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 1,500 training pairs, 100 validation sentences, "
        "vocabularies of 1,000, and --minutes 0.3 unless given",
    )
    args = parser.parse_args()
    if args.quick and args.minutes == parser.get_default("minutes"):
        args.minutes = 0.3
    if not args.minutes > 0:
        parser.error(f"--minutes must be > 0. Received: {args.minutes}")
    if not 0 < args.alpha <= 1:
        parser.error(f"--alpha must be in (0, 1]. Received: {args.alpha}")
    corpus = load_ding_de_en(seed=args.seed)
    vocabulary_size = args.vocabulary_size
    if args.quick:
        corpus = dataclasses.replace(
            corpus,
            train=corpus.train[:1500],
            validation=corpus.validation[:100],
            test=corpus.test[:100],
        )
        vocabulary_size = min(vocabulary_size, 1000)
    run(
        corpus,
        minutes=args.minutes,
        vocabulary_sizes={
            "wordpiece": vocabulary_size,
            "sentencepiece": vocabulary_size,
        },
        alpha=args.alpha,
        seed=args.seed,
        output=args.output,
        arms=args.arms,
    )


if __name__ == "__main__":
    main()
