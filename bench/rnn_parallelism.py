"""Why the Transformer trains no faster than the recurrent baseline on 2 cores.

The Transformer paper's speed claim rests on parallelism: a recurrent layer
needs one sequential step per position, a self-attention layer a constant
number. Whether that shows depends on whether the hardware has work to spare
for the positions it could run side by side. This probe measures the training
step of the two models of bench/transformer_vs_rnn.py (the translation
recipe's `transformer_small` and bench/recurrent_baseline.py, matched in
parameters) on batches of about 2,048 target tokens at several sentence
lengths, once with 1 CPU thread and once with 2 (TensorFlow's intra- and
inter-op thread pools; each setting in a fresh process, as TensorFlow fixes
them at start-up). Batches are random token ids with no padding, so every
token is real.

Reported: real target tokens per second of each model at each length and
thread count, the Transformer / recurrent ratio, and what the second thread
gives each model (2 threads / 1 thread).

Run (on an otherwise idle machine):
    python bench/rnn_parallelism.py
    python bench/rnn_parallelism.py --quick     # a smoke run
"""

import argparse
import json
import os
import subprocess
import sys
import time

TOKENS_PER_BATCH = 2048
LENGTHS = (8, 24, 48)
MODELS = ("transformer", "recurrent")


def measure(model_name, threads, lengths, steps, vocabulary_size, seed):
    """Median seconds per training step at each length (in this process)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras
    import numpy as np
    from transformer_vs_rnn import build_recurrent, build_transformer

    import keras_transformer_bit as ktb
    from keras_transformer_bit.recipes import LabelSmoothedCrossEntropy

    recipe = ktb.recipes.translation_recipe()
    keras.utils.set_random_seed(seed)
    build = build_transformer if model_name == "transformer" else build_recurrent
    model, optimizer, _ = build(recipe, vocabulary_size)
    model.compile(
        optimizer=optimizer,
        loss=LabelSmoothedCrossEntropy(label_smoothing=recipe.label_smoothing),
        jit_compile=False,
    )
    rng = np.random.default_rng(seed)
    results = {}
    for length in lengths:
        batch = max(1, TOKENS_PER_BATCH // length)
        ids = rng.integers(4, vocabulary_size, (batch, length + 1)).astype("int32")
        x = {"encoder_inputs": ids[:, 1:], "decoder_inputs": ids[:, :-1]}
        y = ids[:, 1:]
        for _ in range(3):  # traces the step for this shape
            model.train_on_batch(x, y)
        seconds = []
        for _ in range(steps):
            started = time.perf_counter()
            model.train_on_batch(x, y)
            seconds.append(time.perf_counter() - started)
        results[length] = {
            "batch": batch,
            "tokens": batch * length,
            "seconds_per_step": float(np.median(seconds)),
        }
    return results


def run_child(model_name, threads, args):
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--child",
        model_name,
        str(threads),
        "--steps",
        str(args.steps),
        "--lengths",
        ",".join(str(n) for n in args.lengths),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{model_name} x{threads} failed:\n{done.stderr[-3000:]}")
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT ")][-1]
    return {int(k): v for k, v in json.loads(line[len("RESULT ") :]).items()}


def markdown(speed, lengths):
    lines = [
        "| length | batch | transformer tok/s (1 thread) | recurrent tok/s "
        "(1 thread) | transformer tok/s (2) | recurrent tok/s (2) | transformer / "
        "recurrent (2) | 2nd thread: transformer | 2nd thread: recurrent |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in lengths:
        t1, r1 = speed["transformer"][1][n], speed["recurrent"][1][n]
        t2, r2 = speed["transformer"][2][n], speed["recurrent"][2][n]
        lines.append(
            f"| {n} | {TOKENS_PER_BATCH // n} | {t1:,.0f} | {r1:,.0f} | {t2:,.0f} | "
            f"{r2:,.0f} | {t2 / r2:.2f}x | {t2 / t1:.2f}x | {r2 / r1:.2f}x |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--lengths", default=None, help="e.g. 8,24,48")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default="bench_rnn_parallelism.json")
    args = parser.parse_args()
    args.steps = args.steps or (2 if args.quick else 15)
    args.lengths = (
        [int(n) for n in args.lengths.split(",")]
        if args.lengths
        else ([8, 24] if args.quick else list(LENGTHS))
    )
    if args.steps < 1 or min(args.lengths) < 1:
        parser.error("--steps and every --lengths value must be >= 1")
    if args.child:
        model_name, threads = args.child[0], int(args.child[1])
        result = measure(model_name, threads, args.lengths, args.steps, 6000, 1234)
        print("RESULT " + json.dumps(result), flush=True)
        return
    speed = {name: {} for name in MODELS}
    raw = {}
    for threads in (1, 2):
        for name in MODELS:  # interleaved: both models under the same conditions
            result = run_child(name, threads, args)
            raw[f"{name} x{threads}"] = result
            speed[name][threads] = {
                n: r["tokens"] / r["seconds_per_step"] for n, r in result.items()
            }
            print(name, threads, {n: round(v) for n, v in speed[name][threads].items()})
    table = markdown(speed, args.lengths)
    print(table)
    with open(args.output, "w") as file:
        json.dump({"steps": args.steps, "raw": raw, "table": table}, file, indent=2)


if __name__ == "__main__":
    main()
