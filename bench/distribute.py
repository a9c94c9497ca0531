"""Data-parallel training speed: one device vs 2 mirrored replicas vs 2 workers.

All three run the same `CustomTrainingLoop` step on the same model and the same
global batch, so the comparison isolates what distribution costs:

- one device: `OneDeviceStrategy` on the CPU;
- 2 mirrored logical CPUs: `MirroredStrategy` over the CPU split in two logical
  devices (one process; gradients summed in memory);
- 2 local workers: `MultiWorkerMirroredStrategy`, two processes on loopback
  ports (gradients all-reduced over gRPC), as across hosts.

On one CPU the replicas share the same cores, so no speed-up is possible here:
the ratios measure the *overhead* of each form of distribution (splitting the
batch, all-reducing gradients, the extra process), which is what one pays on
real multi-GPU or multi-host hardware before the extra devices pay it back.
Steps/s are timed over `--steps` steps after a warm-up epoch of as many steps.
Prints a markdown section for docs/benchmarks.md.

Usage:
    python bench/distribute.py                      # Transformer (tiny preset)
    python bench/distribute.py --model bit --global-batch 32
"""

import argparse
import json
import os
import platform
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

if "TF_CONFIG" not in os.environ:
    # The parent process splits the CPU for the mirrored run; it must happen
    # before TensorFlow initialises its devices.
    _cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402

VOCABULARY_SIZE = 1000
SEQUENCE_LENGTH = 24


def dataset(model_name, global_batch):
    rng = np.random.default_rng(0)
    n = global_batch * 8
    if model_name == "transformer":
        ids = rng.integers(4, VOCABULARY_SIZE, (n, SEQUENCE_LENGTH + 1)).astype("int32")
        x = {"encoder_inputs": ids[:, 1:], "decoder_inputs": ids[:, :-1]}
        y = ids[:, 1:]
    else:
        x = rng.uniform(0, 255, (n, 32, 32, 3)).astype("float32")
        y = rng.integers(0, 10, (n,)).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).repeat()
    data = data.batch(global_batch, drop_remainder=True).prefetch(2)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return data.with_options(options)


def measure(strategy, args):
    """Steps per second of the training step after a warm-up epoch."""
    with strategy.scope():
        keras.utils.set_random_seed(0)
        if args.model == "transformer":
            model = ktb.models.Transformer.from_preset(
                "transformer_tiny", vocabulary_size=VOCABULARY_SIZE
            )
            loss = ktb.recipes.LabelSmoothedCrossEntropy()
        else:
            model = ktb.models.BiTClassifier.from_preset("bit_tiny", num_classes=10)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = keras.optimizers.Adam(1e-4)
    loop = ktb.distribute.CustomTrainingLoop(model, optimizer, loss, strategy=strategy)
    data = dataset(args.model, args.global_batch)
    # Epoch 1 traces and warms up; epoch 2 is timed.
    history = loop.fit(data, epochs=2, steps_per_epoch=args.steps, verbose=0)
    return args.steps / history["seconds"][-1]


def worker_main(args):
    strategy = ktb.distribute.get_strategy("multi_worker")
    steps_per_second = measure(strategy, args)
    if ktb.distribute.is_chief(ktb.distribute.read_tf_config()):
        with open(args.json_out, "w") as out:
            json.dump({"steps_per_second": steps_per_second}, out)
    print(f"WORKER_DONE {steps_per_second:.3f}", flush=True)


def run_workers(args):
    json_out = os.path.join(tempfile.mkdtemp(prefix="ktb_bench_"), "workers.json")
    command = [sys.executable, os.path.abspath(__file__), "--worker"]
    command += ["--model", args.model, "--global-batch", str(args.global_batch)]
    command += ["--steps", str(args.steps)]
    command += ["--json-out", json_out]
    with ktb.distribute.LocalCluster(command, num_workers=2) as cluster:
        codes = cluster.wait(timeout_seconds=args.timeout)
        if codes != [0, 0]:
            raise RuntimeError(
                f"workers failed ({codes}):\n{cluster.output(0)}\n{cluster.output(1)}"
            )
    with open(json_out) as data:
        return json.load(data)["steps_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", choices=["transformer", "bit"], default="transformer"
    )
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args)

    results = {}
    results["one device"] = measure(ktb.distribute.get_strategy("one_device"), args)
    mirrored = ktb.distribute.get_strategy("mirrored")
    results["2 mirrored logical CPUs"] = measure(mirrored, args)
    results["2 local workers (loopback gRPC)"] = run_workers(args)

    base = results["one device"]
    command = "python bench/distribute.py"
    if args.model != "transformer" or args.global_batch != 32 or args.steps != 20:
        command += f" --model {args.model} --global-batch {args.global_batch}"
        command += f" --steps {args.steps}"
    lines = [
        "## Distributed training overhead (bench/distribute.py)",
        "",
        f"`{command}` on {platform.machine()} with {os.cpu_count()} CPU cores, "
        f"TF {tf.__version__}: `{args.model}` (tiny preset), global batch "
        f"{args.global_batch}, {args.steps} timed steps after as many warm-up "
        "steps, `CustomTrainingLoop` in every "
        "column. All replicas share the same CPU cores, so the ratio is the cost "
        "of distributing (no extra compute is available to pay it back).",
        "",
        "| setup | steps/s | vs one device | overhead per step |",
        "|---|---|---|---|",
    ]
    for name, value in results.items():
        overhead = base / value - 1.0
        lines.append(
            f"| {name} | {value:.2f} | {value / base:.2f}x | {overhead * 100:+.0f}% |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
