"""BiT speed, measured against peers in the same run.

1. Inference: BiT-R50x1 with weight standardization folded into plain
   convolutions (what `export_image_classifier` serves) against
   `keras.applications.ResNet50V2(weights=None)`, same batch and resolution,
   both as compiled (XLA) functions. Target: >= 0.9x. Both are also timed as
   plain tf.functions without XLA, which is how the exported SavedModel runs.
2. Training: our training step (`model.fit`'s compiled step, XLA) against a
   straightforward one: the same model trained eagerly with a GradientTape, no
   tf.function and no XLA, standardizing every kernel at every step. Target:
   >= 1.2x.
3. Efficiency: achieved GFLOP/s of folded inference as a fraction of the
   measured float32 matmul rate of this machine.

Rounds of the peers are interleaved and the median is reported, because the
machine is shared. Prints a markdown section for docs/benchmarks.md.

Usage:
    python bench/bit.py                          # CPU defaults (batch 8, 128 px)
    python bench/bit.py --batch-size 64 --image-size 224 --rounds 7   # GPU
"""

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402
from keras_transformer_bit.models.bit import fold_weight_standardization  # noqa: E402
from keras_transformer_bit.recipes.bit_fine_tune import (  # noqa: E402
    compile_for_hyperrule,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="bit_m_r50x1")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--train-batch-size", type=int, default=8)
    parser.add_argument("--train-image-size", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="calls per round")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--num-classes", type=int, default=1000)
    return parser.parse_args(argv)


def timed(fn, steps):
    start = time.perf_counter()
    for _ in range(steps):
        result = fn()
    _ = np.asarray(keras.tree.flatten(result)[0])  # wait for the device
    return (time.perf_counter() - start) / steps


def interleaved_rounds(fns, rounds, steps):
    """Seconds per call of each function in every round, rounds interleaved."""
    for fn in fns.values():  # warm-up: tracing and compilation
        timed(fn, 1)
    seconds = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            seconds[name].append(timed(fn, steps))
    return seconds


def interleaved(fns, rounds, steps):
    """Median seconds per call of each function, rounds interleaved."""
    seconds = interleaved_rounds(fns, rounds, steps)
    return {name: float(np.median(values)) for name, values in seconds.items()}


def round_ratios(seconds, name, reference):
    """(min, max) over rounds of `reference`'s time over `name`'s (speed ratio)."""
    ratios = [r / s for s, r in zip(seconds[name], seconds[reference])]
    return min(ratios), max(ratios)


def forward_flops(model, batch_size, image_size):
    """Float operations of one forward pass, counted by TF's graph profiler."""
    function = tf.function(lambda x: model(x, training=False))
    concrete = function.get_concrete_function(
        tf.TensorSpec([batch_size, image_size, image_size, 3], tf.float32)
    )
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(
        graph=concrete.graph,
        run_meta=tf.compat.v1.RunMetadata(),
        cmd="op",
        options=options,
    )
    return profile.total_float_ops


def matmul_rate(size, rounds):
    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    matmul = tf.function(lambda: tf.matmul(a, b), jit_compile=True)
    seconds = interleaved({"matmul": matmul}, rounds, 3)["matmul"]
    return 2 * size**3 / seconds


def bench_inference(args):
    images = tf.random.uniform(
        [args.batch_size, args.image_size, args.image_size, 3], 0, 255
    )
    bit = ktb.models.BiTClassifier.from_preset(
        args.preset, num_classes=args.num_classes
    )
    folded = fold_weight_standardization(bit)
    reference = keras.applications.ResNet50V2(
        weights=None,
        input_shape=(args.image_size, args.image_size, 3),
        classes=args.num_classes,
        classifier_activation=None,
    )
    bit_call = tf.function(lambda: folded(images, training=False), jit_compile=True)
    unfolded_call = tf.function(lambda: bit(images, training=False), jit_compile=True)
    reference_call = tf.function(
        lambda: reference(images, training=False), jit_compile=True
    )
    # Without XLA: the graph the exported SavedModel serves.
    bit_graph_call = tf.function(lambda: folded(images, training=False))
    reference_graph_call = tf.function(lambda: reference(images, training=False))
    rounds = interleaved_rounds(
        {
            "bit_folded": bit_call,
            "bit_unfolded": unfolded_call,
            "resnet50v2": reference_call,
            "bit_folded_graph": bit_graph_call,
            "resnet50v2_graph": reference_graph_call,
        },
        args.rounds,
        args.steps,
    )
    seconds = {name: float(np.median(values)) for name, values in rounds.items()}
    spread = {
        "xla": round_ratios(rounds, "bit_folded", "resnet50v2"),
        "graph": round_ratios(rounds, "bit_folded_graph", "resnet50v2_graph"),
    }
    flops = forward_flops(folded, args.batch_size, args.image_size)
    reference_flops = forward_flops(reference, args.batch_size, args.image_size)
    return (
        seconds,
        spread,
        (flops, reference_flops),
        bit.count_params(),
        reference.count_params(),
    )


def bench_training(args):
    size, batch = args.train_image_size, args.train_batch_size
    images = tf.random.uniform([batch, size, size, 3], 0, 255)
    labels = tf.one_hot(tf.range(batch) % args.num_classes, args.num_classes)
    rule = ktb.recipes.bit_hyperrule(1000, (size, size))

    def build():
        keras.utils.set_random_seed(0)
        return ktb.models.BiTClassifier.from_preset(
            args.preset, num_classes=args.num_classes
        )

    ours = build()
    compile_for_hyperrule(ours, rule, jit_compile=True)
    # bit_fine_tune's default: jit_compile="auto", which Keras resolves to a
    # tf.function without XLA for this model.
    ours_graph = build()
    compile_for_hyperrule(ours_graph, rule, jit_compile=False)

    naive = build()
    optimizer = rule.optimizer()
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)

    def naive_step():
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, naive(images, training=True))
        gradients = tape.gradient(loss, naive.trainable_variables)
        optimizer.apply_gradients(zip(gradients, naive.trainable_variables))
        return loss

    seconds = interleaved(
        {
            "ours": lambda: ours.train_on_batch(images, labels),
            "ours_graph": lambda: ours_graph.train_on_batch(images, labels),
            "naive": naive_step,
        },
        args.rounds,
        max(1, args.steps // 2),
    )
    return seconds


def main(argv=None):
    args = parse_args(argv)
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}"
    )
    rate = matmul_rate(args.matmul_size, args.rounds)
    (
        inference,
        spread,
        (flops, reference_flops),
        bit_params,
        reference_params,
    ) = bench_inference(args)
    training = bench_training(args)

    per_second = {k: args.batch_size / v for k, v in inference.items()}
    train_per_second = {k: args.train_batch_size / v for k, v in training.items()}
    achieved = flops / inference["bit_folded"]
    gflop = flops / args.batch_size / 1e9
    ratio_inference = per_second["bit_folded"] / per_second["resnet50v2"]
    ratio_training = train_per_second["ours"] / train_per_second["naive"]
    device = (
        "GPU"
        if tf.config.list_physical_devices("GPU")
        else (f"CPU ({os.cpu_count()} cores, {platform.machine()})")
    )
    command = "python bench/bit.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [
        "### BiT (bench/bit.py)",
        "",
        f"Command: `{command.strip()}` on {device}, shared machine; medians of "
        f"{args.rounds} interleaved rounds.",
        "",
        f"Inference, batch {args.batch_size}, {args.image_size}x{args.image_size}, "
        f"{args.num_classes} classes, XLA:",
        "",
        "| model | parameters | GFLOP/img | img/s | vs ResNet50V2 | per FLOP |",
        "|---|---:|---:|---:|---:|---:|",
        f"| {args.preset}, folded (served) | {bit_params:,} | {gflop:.2f} | "
        f"{per_second['bit_folded']:.1f} | {ratio_inference:.2f}x (target >= 0.9x) "
        f"| {ratio_inference * flops / reference_flops:.2f}x |",
        f"| {args.preset}, standardizing every call | {bit_params:,} | {gflop:.2f} | "
        f"{per_second['bit_unfolded']:.1f} | "
        f"{per_second['bit_unfolded'] / per_second['resnet50v2']:.2f}x | |",
        f"| keras.applications.ResNet50V2 (weights=None) | {reference_params:,} | "
        f"{reference_flops / args.batch_size / 1e9:.2f} | "
        f"{per_second['resnet50v2']:.1f} | 1.00x | 1.00x |",
        "",
        f"Folded vs ResNet50V2 in single rounds: {spread['xla'][0]:.2f}x-"
        f"{spread['xla'][1]:.2f}x with XLA, {spread['graph'][0]:.2f}x-"
        f"{spread['graph'][1]:.2f}x without.",
        "",
        "Without XLA (plain tf.function, as the exported SavedModel runs):",
        "",
        "| model | img/s | vs ResNet50V2 without XLA | vs itself with XLA |",
        "|---|---:|---:|---:|",
        f"| {args.preset}, folded (served) | {per_second['bit_folded_graph']:.1f} | "
        f"{per_second['bit_folded_graph'] / per_second['resnet50v2_graph']:.2f}x | "
        f"{per_second['bit_folded_graph'] / per_second['bit_folded']:.2f}x |",
        f"| keras.applications.ResNet50V2 (weights=None) | "
        f"{per_second['resnet50v2_graph']:.1f} | 1.00x | "
        f"{per_second['resnet50v2_graph'] / per_second['resnet50v2']:.2f}x |",
        "",
        f"Training, batch {args.train_batch_size}, "
        f"{args.train_image_size}x{args.train_image_size}, SGD momentum:",
        "",
        "| training step | img/s | speed-up |",
        "|---|---:|---:|",
        f"| ours: compiled `fit` step (XLA) | {train_per_second['ours']:.1f} | "
        f"{ratio_training:.2f}x (target >= 1.2x) |",
        f"| ours without XLA (tf.function; `bit_fine_tune` default) | "
        f"{train_per_second['ours_graph']:.1f} | "
        f"{train_per_second['ours_graph'] / train_per_second['naive']:.2f}x |",
        f"| straightforward: eager GradientTape, no compilation | "
        f"{train_per_second['naive']:.1f} | 1.00x |",
        "",
        f"Efficiency: folded forward pass = {flops / args.batch_size / 1e9:.2f} "
        f"GFLOP/image (TF profiler); achieved {achieved / 1e9:.1f} GFLOP/s vs "
        f"float32 matmul ({args.matmul_size}^2, XLA) {rate / 1e9:.1f} GFLOP/s = "
        f"{achieved / rate * 100:.0f}% of the matmul rate.",
    ]
    print("\n".join(lines))
    return {
        "inference_ratio": ratio_inference,
        "inference_ratio_without_xla": per_second["bit_folded_graph"]
        / per_second["resnet50v2_graph"],
        "training_ratio": ratio_training,
        "fraction_of_matmul": achieved / rate,
    }


if __name__ == "__main__":
    main()
