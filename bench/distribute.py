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
Steps/s: the median of `--rounds` timed epochs of `--steps` steps each, after
a warm-up epoch; one device and mirrored alternate round by round.
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
import time

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
    # CustomTrainingLoop gives each worker its slice of every global batch.
    return data.batch(global_batch, drop_remainder=True).prefetch(2)


def make_loop(strategy, args):
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
    return ktb.distribute.CustomTrainingLoop(model, optimizer, loss, strategy=strategy)


def time_rounds(loops, args):
    """Steps/s of each loop per round; rounds of the loops are interleaved.

    The first epoch of each loop traces and warms up and is not timed. The
    machine is shared, so every setup is measured several times, alternating,
    and the median is reported.
    """
    data = dataset(args.model, args.global_batch)
    for loop in loops.values():
        loop.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
    rates = {name: [] for name in loops}
    cpu = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, loop in loops.items():
            start, wall = time.process_time(), time.perf_counter()
            loop.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
            wall = time.perf_counter() - wall
            cpu[name].append((time.process_time() - start) / args.steps)
            rates[name].append(args.steps / wall)
    return rates, cpu


def worker_main(args):
    strategy = ktb.distribute.get_strategy("multi_worker")
    rates, cpu = time_rounds({"workers": make_loop(strategy, args)}, args)
    task_index = ktb.distribute.read_tf_config()["task"]["index"]
    with open(args.json_out.format(task_index), "w") as out:
        json.dump({"steps_per_second": rates["workers"], "cpu": cpu["workers"]}, out)
    print(f"WORKER_DONE {rates}", flush=True)


def run_workers(args):
    json_out = os.path.join(tempfile.mkdtemp(prefix="ktb_bench_"), "worker_{}.json")
    command = [sys.executable, os.path.abspath(__file__), "--worker"]
    command += ["--model", args.model, "--global-batch", str(args.global_batch)]
    command += ["--steps", str(args.steps), "--rounds", str(args.rounds)]
    command += ["--json-out", json_out]
    with ktb.distribute.LocalCluster(command, num_workers=2) as cluster:
        codes = cluster.wait(timeout_seconds=args.timeout)
        if codes != [0, 0]:
            raise RuntimeError(
                f"workers failed ({codes}):\n{cluster.output(0)}\n{cluster.output(1)}"
            )
    reports = []
    for index in range(2):
        with open(json_out.format(index)) as data:
            reports.append(json.load(data))
    # Wall time: the chief's view. CPU: both processes together.
    cpu = [a + b for a, b in zip(reports[0]["cpu"], reports[1]["cpu"])]
    return reports[0]["steps_per_second"], cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", choices=["transformer", "bit"], default="transformer"
    )
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args)

    loops = {
        "one device": make_loop(ktb.distribute.get_strategy("one_device"), args),
        "2 mirrored logical CPUs": make_loop(
            ktb.distribute.get_strategy("mirrored"), args
        ),
    }
    results, cpu = time_rounds(loops, args)
    name = "2 local workers (loopback gRPC)"
    results[name], cpu[name] = run_workers(args)

    medians = {name: float(np.median(rates)) for name, rates in results.items()}
    cpu_medians = {name: float(np.median(values)) for name, values in cpu.items()}
    base = medians["one device"]
    cpu_base = cpu_medians["one device"]
    command = "python bench/distribute.py"
    if args.model != "transformer" or args.global_batch != 32:
        command += f" --model {args.model} --global-batch {args.global_batch}"
    lines = [
        "## Distributed training overhead (bench/distribute.py)",
        "",
        f"`{command}` on {platform.machine()} with {os.cpu_count()} CPU cores, "
        f"TF {tf.__version__}: `{args.model}` (tiny preset), global batch "
        f"{args.global_batch}, `CustomTrainingLoop` in every row; median of "
        f"{args.rounds} rounds of {args.steps} steps after a warm-up epoch "
        "(one device and mirrored interleaved in one process, the workers in "
        "their own run). All replicas share the same CPU cores, so this is the "
        "cost of distributing, not a speed-up. On a shared machine two processes "
        "also get a larger share of the cores than one, so wall-clock steps/s "
        "can favour the workers; CPU seconds per step (all processes) is the "
        "column that shows what distribution costs.",
        "",
        "| setup | steps/s (median) | range | vs one device | CPU s/step | "
        "CPU overhead |",
        "|---|---|---|---|---|---|",
    ]
    for name, rates in results.items():
        value = medians[name]
        cpu_step = cpu_medians[name]
        lines.append(
            f"| {name} | {value:.2f} | {min(rates):.2f}-{max(rates):.2f} | "
            f"{value / base:.2f}x | {cpu_step:.3f} | "
            f"{(cpu_step / cpu_base - 1.0) * 100:+.0f}% |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
