"""The served translator against the in-process one: throughput and latency.

TF Serving loads the exported SavedModel in a process of its own and runs it
without XLA unless told otherwise. This benchmark measures that the way the
server would see it, and beam search on real sentences:

- served: the SavedModel (`ktb.export.export_translator`) loaded in a fresh
  Python process that imports only TensorFlow and tensorflow-text, as TF
  Serving does; once the default export (no XLA), once the XLA export
  (`jit_compile=True`, what `--xla_cpu_compilation_enabled` serves);
- in-process: `ktb.Translator` with `jit_compile=True`, and without.

Each runs beam search (the recipe's beam 4 and length penalty) and greedy
decoding, with the end token on, over the 1,000 Ding test sentences:

- throughput: sentences per second over all of them, sent in batches of 64 in
  corpus order (the same batches for every contender);
- latency: one sentence per call, over the first `--latency-sentences`; p50
  and p95 in milliseconds.

Also reported: beam / greedy time on the real sentences (beam search stops
once every hypothesis of every sentence has finished), and what the
`Translator`'s length sorting gives: the whole list in one call (sorted into
batches of similar length) against batches in corpus order.

Every contender first translates everything it is timed on once (tracing,
and with XLA compiling once per input shape), then is timed. The numbers are
ratios within one run; run it on an otherwise idle machine.

Run:
    python bench/serving.py --model-dir runs/tutorial_translate   # a trained run
    python bench/serving.py --quick                               # a smoke run
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402
from keras_transformer_bit.data import (  # noqa: E402
    SubwordTokenizer,
    load_ding_de_en,
    load_tokenizer,
)

BATCH_SIZE = 64
TARGETS = {"served_vs_jit": 0.9, "beam_vs_greedy": 2.5}

# The served side: a fresh process with TensorFlow and tensorflow-text only.
SERVED = """
import json, statistics, sys, time
import tensorflow as tf
import tensorflow_text  # noqa: F401  (the tokenizer ops, as TF Serving links them)
path, batch_size, latency_count = sys.argv[1], int(sys.argv[3]), int(sys.argv[4])
with open(sys.argv[2], encoding="utf-8") as file:
    sentences = json.load(file)
serve = tf.saved_model.load(path).signatures["serving_default"]
batches = [sentences[i:i + batch_size] for i in range(0, len(sentences), batch_size)]
# Warm-up: every batch and sentence once (an XLA function compiles per shape).
for batch in batches + [[s] for s in sentences[:latency_count]]:
    serve(text=tf.constant(batch))
started = time.perf_counter()
for batch in batches:
    serve(text=tf.constant(batch))["translation"].numpy()
throughput = len(sentences) / (time.perf_counter() - started)
latencies = []
for sentence in sentences[:latency_count]:
    started = time.perf_counter()
    serve(text=tf.constant([sentence]))["translation"].numpy()
    latencies.append(time.perf_counter() - started)
print("RESULT " + json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("keras_transformer_bit")),
    "throughput": throughput,
    "latencies": latencies,
}))
"""


def served(path, sentences, latency_count):
    """Throughput and latencies of the SavedModel at `path`, in a fresh process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    # A file, not an argument: 1,000 sentences exceed what one argument holds.
    sentences_path = os.path.join(os.path.dirname(path), "sentences.json")
    with open(sentences_path, "w", encoding="utf-8") as file:
        json.dump(sentences, file, ensure_ascii=False)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            SERVED,
            path,
            sentences_path,
            str(BATCH_SIZE),
            str(latency_count),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the served process failed:\n{result.stderr[-3000:]}")
    line = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")][-1]
    measured = json.loads(line[len("RESULT ") :])
    assert measured["modules"] == [], measured["modules"]  # TF and TF Text only
    return measured


def in_process(translator, sentences, latency_count):
    """The same measurements for a `Translator` in this process."""
    batches = [
        sentences[i : i + BATCH_SIZE] for i in range(0, len(sentences), BATCH_SIZE)
    ]
    # Warm-up: every batch and sentence once (XLA compiles per shape).
    for batch in batches + [[s] for s in sentences[:latency_count]]:
        translator(batch)
    translator(sentences)
    started = time.perf_counter()
    for batch in batches:
        translator(batch)
    throughput = len(sentences) / (time.perf_counter() - started)
    latencies = []
    for sentence in sentences[:latency_count]:
        started = time.perf_counter()
        translator([sentence])
        latencies.append(time.perf_counter() - started)
    started = time.perf_counter()
    translator(sentences)  # one call: the Translator sorts by length
    sorted_throughput = len(sentences) / (time.perf_counter() - started)
    return {
        "throughput": throughput,
        "latencies": latencies,
        "sorted_throughput": sorted_throughput,
    }


def decoder_rows_floor(translator, sentences, copies):
    """Sentences per second of `translator` (greedy) decoding each batch of
    `BATCH_SIZE` sentences with every sentence repeated `copies` times: the
    decoder rows of beam `copies` without the search. What beam search costs
    over this is the search itself (candidates, top-k, reordering)."""
    batches = [
        [s for s in sentences[i : i + BATCH_SIZE] for _ in range(copies)]
        for i in range(0, len(sentences), BATCH_SIZE)
    ]
    for batch in batches:  # warm-up (XLA compiles per shape)
        translator(batch)
    started = time.perf_counter()
    for batch in batches:
        translator(batch)
    return len(sentences) / (time.perf_counter() - started)


def load_model_and_tokenizer(model_dir):
    """A trained run: `model.keras` and `tokenizer/` (the tutorial's layout) or
    a `ktb translate train` directory."""
    if os.path.isdir(os.path.join(model_dir, "tokenizer")):
        tokenizer = load_tokenizer(os.path.join(model_dir, "tokenizer"))
        model = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
        return model, tokenizer, tokenizer
    from keras_transformer_bit.training import translation_run

    _, source, target, model = translation_run.load_run(model_dir, "last")
    return model, source, target


def quick_model(sentences):
    """An untrained small model and a small vocabulary: for smoke runs only."""
    texts = [s for pair in sentences for s in pair]
    tokenizer = SubwordTokenizer.build(texts, vocabulary_size=300)
    keras.utils.set_random_seed(0)
    model = ktb.models.Transformer.from_preset(
        "transformer_tiny", vocabulary_size=tokenizer.vocabulary_size
    )
    return model, tokenizer, tokenizer


def percentile_ms(values, q):
    return float(np.percentile(values, q) * 1000)


def markdown(results, args, num_sentences):
    lines = [
        f"Command: `python bench/serving.py "
        f"{'--quick' if args.quick else f'--model-dir {args.model_dir}'}` "
        f"({num_sentences} Ding test sentences, batches of {BATCH_SIZE}; latency "
        f"over {args.latency_sentences} single sentences)",
        "",
        "| decoding | contender | sentences / s | / in-process jit | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for method in ("beam", "greedy"):
        reference = results[method]["in-process jit"]["throughput"]
        for name, r in results[method].items():
            lines.append(
                f"| {method} | {name} | {r['throughput']:.1f} | "
                f"{r['throughput'] / reference:.2f}x | "
                f"{percentile_ms(r['latencies'], 50):.0f} | "
                f"{percentile_ms(r['latencies'], 95):.0f} |"
            )
    lines += ["", "| ratio | value | target |", "|---|---|---|"]
    for method in ("beam", "greedy"):
        best_served = max(
            results[method][name]["throughput"]
            for name in ("served", "served, XLA export")
        )
        ratio = best_served / results[method]["in-process jit"]["throughput"]
        lines.append(
            f"| {method}: best served / in-process jit | {ratio:.2f}x | "
            f">= {TARGETS['served_vs_jit']}x |"
        )
    for name in ("in-process jit", "in-process, no XLA", "served"):
        ratio = (
            results["greedy"][name]["throughput"] / results["beam"][name]["throughput"]
        )
        lines.append(
            f"| beam {args.beam_size} time / greedy time ({name}) | {ratio:.2f}x | "
            f"<= {TARGETS['beam_vs_greedy']}x |"
        )
    for name, floor in results.get("floor", {}).items():
        greedy = results["greedy"][name]["throughput"]
        ratio, beam = greedy / floor, greedy / results["beam"][name]["throughput"]
        lines.append(
            f"| greedy on {args.beam_size} copies of each sentence (beam's decoder "
            f"rows, no search) time / greedy time ({name}) | {ratio:.2f}x; beam "
            f"{beam:.2f}x | - |"
        )
    for method in ("beam", "greedy"):
        r = results[method]["in-process, no XLA"]
        lines.append(
            f"| {method}: Translator, one call sorted by length / batches in "
            f"corpus order | {r['sorted_throughput'] / r['throughput']:.2f}x | - |"
        )
    return "\n".join(lines)


def parse_arguments():
    recipe = ktb.recipes.translation_recipe()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", default="runs/tutorial_translate")
    parser.add_argument("--latency-sentences", type=int, default=None)
    parser.add_argument("--beam-size", type=int, default=recipe.beam_size)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default="bench_serving.json")
    args = parser.parse_args()
    if args.latency_sentences is None:
        args.latency_sentences = 5 if args.quick else 100
    if args.latency_sentences < 1:
        parser.error(
            f"--latency-sentences must be >= 1. Received: {args.latency_sentences}"
        )
    if not args.quick and not os.path.isdir(args.model_dir):
        parser.error(
            f"--model-dir {args.model_dir} does not exist: train one first "
            "(python tutorials/translate.py), or pass --quick."
        )
    return args


def main():
    args = parse_arguments()
    recipe = ktb.recipes.translation_recipe()
    corpus = load_ding_de_en(test_size=1000, validation_size=1000, seed=1234)
    pairs = corpus.test[: 3 * BATCH_SIZE // 2] if args.quick else corpus.test
    sentences = [source for source, _ in pairs]
    if args.quick:
        model, source_tokenizer, target_tokenizer = quick_model(corpus.train[:500])
    else:
        model, source_tokenizer, target_tokenizer = load_model_and_tokenizer(
            args.model_dir
        )
    methods = {
        "beam": dict(
            method="beam",
            beam_size=args.beam_size,
            length_penalty=recipe.length_penalty,
        ),
        "greedy": dict(method="greedy"),
    }
    options = dict(max_length=recipe.max_length, max_source_length=recipe.max_length)
    results = {}
    with tempfile.TemporaryDirectory(prefix="ktb_serving_") as directory:
        for method, decoding in methods.items():
            translator = ktb.Translator(
                model, source_tokenizer, target_tokenizer, **options, **decoding
            )
            jit = ktb.Translator(
                model,
                source_tokenizer,
                target_tokenizer,
                jit_compile=True,
                **options,
                **decoding,
            )
            plain_path = ktb.export.export_translator(
                translator, os.path.join(directory, method, "1")
            )
            xla_path = ktb.export.export_translator(
                translator,
                os.path.join(directory, f"{method}_xla", "1"),
                jit_compile=True,
            )
            count = args.latency_sentences
            results[method] = {
                "in-process jit": in_process(jit, sentences, count),
                "in-process, no XLA": in_process(translator, sentences, count),
                "served": served(plain_path, sentences, count),
                "served, XLA export": served(xla_path, sentences, count),
            }
            print(
                method,
                json.dumps({k: v["throughput"] for k, v in results[method].items()}),
            )
            if method == "greedy":
                # Batches of BATCH_SIZE sentences, each beam_size times.
                rows = dict(options, batch_size=BATCH_SIZE * args.beam_size)
                results["floor"] = {
                    name: decoder_rows_floor(
                        ktb.Translator(
                            model,
                            source_tokenizer,
                            target_tokenizer,
                            jit_compile=jit_compile,
                            **rows,
                            **decoding,
                        ),
                        sentences,
                        args.beam_size,
                    )
                    for name, jit_compile in (
                        ("in-process jit", True),
                        ("in-process, no XLA", False),
                    )
                }
                print("floor", json.dumps(results["floor"]))
    text = markdown(results, args, len(sentences))
    print("\n" + text)
    with open(args.output, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=2)
    with open(os.path.splitext(args.output)[0] + ".md", "w", encoding="utf-8") as file:
        file.write(text + "\n")


if __name__ == "__main__":
    main()
