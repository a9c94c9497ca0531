"""BiT training input pipeline: peak memory and class balance per batch.

Two arms read the same generated image folder (JPEGs, files sorted by class,
as `load_image_folder` returns them), each in its own process so that its
peak resident memory (`ru_maxrss`) is its own:

- straightforward: what `bit_fine_tune` did before: decode every file, cache
  the decoded float32 images at full resolution (`Dataset.cache()` after the
  decode), then a fixed-size shuffle buffer over the cached, class-sorted
  stream, then the same augmentation and batching.
- ktb: `ktb.data.image_classification_pipeline` as `bit_fine_tune` calls it
  now: the encoded files read once into memory (up to 512 MiB), the whole
  list shuffled (a buffer the size of the dataset over the encoded bytes),
  decoding after the shuffle.

The issue this answers saw 10,000-element buffers over 30,000 class-sorted
files. Generating 30,000 full-size JPEGs takes too long for a benchmark, so
the straightforward arm's buffer keeps that ratio: a third of the files
(`--baseline-buffer` to change it).

Reported per arm: peak RSS and RSS added by the pipeline (peak minus the RSS
after importing TensorFlow and listing the folder, before the pipeline is
built), and over the first
`--batches` batches the mean number of distinct classes per batch and the
fraction of batches missing at least one class; images/s for information.

Usage:
    python bench/bit_pipeline.py                  # 1,000 JPEGs of 500x400
    python bench/bit_pipeline.py --images 2000    # more (about 2.3 MiB each
                                                  # for the straightforward arm)
    python bench/bit_pipeline.py --smoke          # seconds: tiny images
"""

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ARMS = ("straightforward", "ktb")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="files in all")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--height", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=30, help="batches read per arm")
    parser.add_argument(
        "--crop-size",
        type=int,
        default=128,
        help="the HyperRule's small-image crop (resize 160); the caches hold "
        "full-resolution images whatever the crop",
    )
    parser.add_argument(
        "--baseline-buffer",
        type=int,
        default=None,
        help="the straightforward arm's shuffle buffer (default: a third of "
        "the files, the ratio of 10,000 to 30,000)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="tiny, for tests")
    parser.add_argument("--json", default=None, help="also write results here")
    # Internal: run one arm in this process and print its JSON.
    parser.add_argument("--arm", choices=ARMS, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.images, args.classes, args.width, args.height = 48, 4, 50, 40
        args.batch_size, args.batches, args.crop_size = 16, 6, 16
    for name in ("images", "classes", "batch_size", "batches", "crop_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.baseline_buffer is None:
        args.baseline_buffer = max(1, args.images // 3)
    return args


def write_folder(root, args):
    """`args.images` JPEGs in `args.classes` folders; returns their bytes."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(args.seed)
    total = 0
    per_class = args.images // args.classes
    for label in range(args.classes):
        os.makedirs(os.path.join(root, f"class_{label:02d}"))
        for index in range(per_class):
            # Smooth colour fields plus noise: JPEG sizes like photos'.
            low = rng.uniform(0, 255, (args.height // 50 + 2, args.width // 50 + 2, 3))
            image = tf.image.resize(low[None], (args.height, args.width))[0]
            image += rng.normal(0, 12, image.shape)
            pixels = np.clip(image.numpy(), 0, 255).astype("uint8")
            encoded = tf.io.encode_jpeg(pixels, quality=90).numpy()
            path = os.path.join(root, f"class_{label:02d}", f"{index:05d}.jpg")
            with open(path, "wb") as file:
                file.write(encoded)
            total += len(encoded)
    return total


def straightforward_pipeline(images, args):
    """The pre-change `bit_fine_tune` pipeline: decoded float32 cache, buffer."""
    import tensorflow as tf

    from keras_transformer_bit.data.image_preprocessing import (
        decode_image,
        preprocess_for_training,
    )

    resize_size = round(args.crop_size * 160 / 128)
    dataset = images.as_dataset().map(
        lambda image, label: (decode_image(image), label),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.cache()
    dataset = dataset.shuffle(
        args.baseline_buffer, seed=args.seed, reshuffle_each_iteration=True
    ).repeat()
    seeds = tf.data.Dataset.random(seed=args.seed, rerandomize_each_iteration=True)
    dataset = tf.data.Dataset.zip((dataset, seeds)).map(
        lambda example, seed: (
            preprocess_for_training(example[0], seed, resize_size, args.crop_size),
            tf.one_hot(tf.cast(example[1], tf.int32), images.num_classes),
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return dataset.batch(args.batch_size, drop_remainder=True).prefetch(
        tf.data.AUTOTUNE
    )


def ktb_pipeline(images, args):
    from keras_transformer_bit.data import image_classification_pipeline

    return image_classification_pipeline(
        images,
        images.num_classes,
        training=True,
        batch_size=args.batch_size,
        crop_size=args.crop_size,
        resize_size=round(args.crop_size * 160 / 128),
        seed=args.seed,
    )


def peak_rss_mib():
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib():
    with open("/proc/self/statm") as file:
        pages = int(file.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_arm(args):
    """One arm in this process: prints one JSON line."""
    import warnings

    import numpy as np

    from keras_transformer_bit.data import load_image_folder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        images = load_image_folder(args.folder)
    import tensorflow as tf

    tf.constant(0)  # the runtime's own memory counts before, not as added
    before = current_rss_mib()
    build = straightforward_pipeline if args.arm == "straightforward" else ktb_pipeline
    dataset = build(images, args)
    distinct, missing = [], 0
    start = time.perf_counter()
    for _, labels in dataset.take(args.batches):
        classes = np.unique(np.argmax(labels.numpy(), -1))
        distinct.append(len(classes))
        missing += len(classes) < images.num_classes
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    print(
        json.dumps(
            {
                "arm": args.arm,
                "peak_rss_mib": round(peak, 1),
                "rss_before_mib": round(before, 1),
                "added_rss_mib": round(peak - before, 1),
                "mean_distinct_classes": round(float(np.mean(distinct)), 2),
                "fraction_missing_a_class": round(missing / len(distinct), 3),
                "distinct_classes_first_batches": distinct[:10],
                "images_per_second": round(args.batches * args.batch_size / seconds, 1),
            }
        )
    )


def child_command(args, arm, folder):
    command = [sys.executable, os.path.abspath(__file__), "--arm", arm]
    command += ["--folder", folder, "--seed", str(args.seed)]
    command += ["--batch-size", str(args.batch_size), "--batches", str(args.batches)]
    command += ["--crop-size", str(args.crop_size)]
    command += ["--baseline-buffer", str(args.baseline_buffer)]
    return command


def main(argv=None):
    args = parse_args(argv)
    if args.arm:
        run_arm(args)
        return 0
    root = tempfile.mkdtemp(prefix="bit_pipeline_")
    try:
        start = time.perf_counter()
        encoded_bytes = write_folder(root, args)
        written = args.images // args.classes * args.classes
        print(
            f"{written} JPEGs of {args.width}x{args.height} in {args.classes} "
            f"class folders: {encoded_bytes / 2**20:.1f} MiB encoded, "
            f"{written * args.width * args.height * 3 * 4 / 2**20:.0f} MiB as "
            f"decoded float32 (written in {time.perf_counter() - start:.0f} s)",
            flush=True,
        )
        root_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {**os.environ, "PYTHONPATH": root_dir}
        results = []
        for arm in ARMS:
            output = subprocess.run(
                child_command(args, arm, root),
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if output.returncode:
                sys.stderr.write(output.stdout + output.stderr)
                raise SystemExit(f"the {arm} arm failed (exit {output.returncode})")
            results.append(json.loads(output.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"\nbatch {args.batch_size}, crop {args.crop_size}, first {args.batches} "
        f"batches; straightforward shuffle buffer {args.baseline_buffer}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs\n"
    )
    print(
        "| pipeline | peak RSS (MiB) | added by the pipeline (MiB) | "
        "distinct classes per batch (mean) | batches missing a class | img/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for result in results:
        print(
            f"| {result['arm']} | {result['peak_rss_mib']:.0f} | "
            f"{result['added_rss_mib']:.0f} | "
            f"{result['mean_distinct_classes']:.2f} of {args.classes} | "
            f"{result['fraction_missing_a_class']:.0%} | "
            f"{result['images_per_second']:.0f} |"
        )
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"arguments": vars(args), "results": results}, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
