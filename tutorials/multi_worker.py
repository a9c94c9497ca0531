"""Multi-worker training with TF_CONFIG: from two processes here to many hosts.

Keras 3 `model.fit` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585), so this script trains with
`ktb.distribute.CustomTrainingLoop`: every worker runs the same program, each
step splits one global batch over all workers, gradients are all-reduced, the
chief (worker 0) writes checkpoints and the exported model, and a restarted
job resumes from the last checkpoint.

The TF_CONFIG recipe. Every process gets the same "cluster" and its own
"task"; the first worker is the chief:

    # host A
    export TF_CONFIG='{"cluster": {"worker": ["hostA:2222", "hostB:2222"]},
                       "task": {"type": "worker", "index": 0}}'
    python tutorials/multi_worker.py --model bit --model-dir /shared/runs/mw
    # host B: the same, with "index": 1

`--model-dir` must be storage all workers see (NFS, a bucket), because every
worker restores the chief's checkpoint when the job (re)starts. Ports must be
open between the hosts. A worker that cannot reach the others fails with a
clear `ClusterError` after `--register-timeout` seconds; if a worker dies
mid-run the others exit with status 75 within seconds; restart all of them
with the same command to resume.

Try it on this machine (two local workers on free loopback ports):

    python tutorials/multi_worker.py --launch-local 2 --model bit --epochs 3
    python tutorials/multi_worker.py --launch-local 2 --model transformer

The `ktb` commands do the same with `--strategy multi_worker` and the same
TF_CONFIG on every host (`ktb bit train ... --strategy multi_worker`,
`ktb translate train ... --strategy multi_worker`; docs/scaling.md, section 3):
this script shows the loop they use, in a page.

Data: `bit` fine-tunes `bit_tiny` on 1,024 Fashion-MNIST images (the Debian
package dataset-fashion-mnist) at 32x32; `transformer` learns to reverse
random token sequences (no files needed).
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402

VOCABULARY_SIZE = 64
SEQUENCE_LENGTH = 10


def reversal_dataset(num_examples, global_batch_size, seed):
    """Source: random tokens; target: the same tokens reversed."""
    rng = np.random.default_rng(seed)
    source = rng.integers(4, VOCABULARY_SIZE, (num_examples, SEQUENCE_LENGTH))
    target = np.concatenate(
        [np.full((num_examples, 1), 2), source[:, ::-1], np.full((num_examples, 1), 3)],
        axis=1,
    )
    inputs = {
        "encoder_inputs": source.astype("int32"),
        "decoder_inputs": target[:, :-1].astype("int32"),
    }
    dataset = tf.data.Dataset.from_tensor_slices(
        (inputs, target[:, 1:].astype("int32"))
    )
    return dataset.shuffle(num_examples, seed=seed).batch(
        global_batch_size, drop_remainder=True
    )


def fashion_mnist_dataset(num_examples, global_batch_size, split, seed):
    images = ktb.data.load_fashion_mnist(split)
    images = images.select(list(range(num_examples)))
    dataset = ktb.data.image_classification_pipeline(
        images,
        images.num_classes,
        training=split == "train",
        batch_size=global_batch_size,
        crop_size=32,
        resize_size=36 if split == "train" else None,
        seed=seed,
    )
    if split == "train":
        dataset = dataset.take(num_examples // global_batch_size)
    return dataset


def build(model_name):
    if model_name == "transformer":
        model = ktb.models.Transformer.from_preset(
            "transformer_tiny", vocabulary_size=VOCABULARY_SIZE, max_sequence_length=32
        )
        schedule = ktb.recipes.NoamSchedule(64, warmup_steps=100)
        optimizer = keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98)
        loss = ktb.recipes.LabelSmoothedCrossEntropy(label_smoothing=0.1)
        metrics = [ktb.recipes.MaskedTokenAccuracy()]
    else:
        model = ktb.models.BiTClassifier.from_preset("bit_tiny", num_classes=10)
        optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    return model, optimizer, loss, metrics


def train(args):
    strategy = ktb.distribute.get_strategy(
        args.strategy, cluster_register_timeout_seconds=args.register_timeout
    )
    chief = ktb.distribute.is_chief(ktb.distribute.read_tf_config())
    if chief:
        print(f"Strategy: {ktb.distribute.describe_strategy(strategy)}", flush=True)
    # The recipe is tuned for a global batch; each replica gets its share.
    per_replica = ktb.distribute.per_replica_batch_size(args.global_batch, strategy)
    if chief:
        print(f"global batch {args.global_batch} = {per_replica} per replica")
    with strategy.scope():
        model, optimizer, loss, metrics = build(args.model)
    loop = ktb.distribute.CustomTrainingLoop(
        model,
        optimizer,
        loss,
        metrics=metrics,
        strategy=strategy,
        model_dir=args.model_dir,
        step_timeout_seconds=args.step_timeout,
    )
    if args.model == "transformer":
        train_data = reversal_dataset(args.examples, args.global_batch, seed=0)
        validation = reversal_dataset(256, args.global_batch, seed=1)
    else:
        train_data = fashion_mnist_dataset(args.examples, args.global_batch, "train", 0)
        validation = fashion_mnist_dataset(512, args.global_batch, "test", 0)
    try:
        loop.fit(train_data, epochs=args.epochs, validation_data=validation, verbose=1)
        path = loop.export(os.path.join(args.model_dir, "export", "model.keras"))
    except ktb.distribute.ClusterError as error:
        print(f"ERROR: {error}", file=sys.stderr, flush=True)
        # TensorFlow's servers can block a normal interpreter exit after a
        # cluster failure; leave at once with the "try again" status.
        os._exit(ktb.distribute.WORKER_FAILURE_EXIT_CODE)
    if path:
        print(f"Exported {path}")


def launch_local(args, argv):
    """Runs this script as `--launch-local N` workers on loopback ports."""
    command = [sys.executable, os.path.abspath(__file__)]
    skip = False
    for item in argv:  # forward every flag except --launch-local N
        if skip:
            skip = False
            continue
        if item == "--launch-local":
            skip = True
            continue
        if item.startswith("--launch-local="):
            continue
        command.append(item)
    if "--model-dir" not in " ".join(command):
        command += ["--model-dir", args.model_dir]
    with ktb.distribute.LocalCluster(command, num_workers=args.launch_local) as cluster:
        print(f"Workers on {cluster.addresses}; logs in {cluster.log_dir}")
        codes = cluster.wait(timeout_seconds=args.launch_timeout)
        for index in range(cluster.num_workers):
            print(f"--- worker {index} (exit status {codes[index]}) ---")
            print(cluster.output(index).strip())
    return max(codes)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["bit", "transformer"], default="bit")
    parser.add_argument(
        "--model-dir", default=os.path.join(tempfile.gettempdir(), "ktb_multi_worker")
    )
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--register-timeout", type=float, default=120)
    parser.add_argument("--step-timeout", type=float, default=600)
    parser.add_argument("--launch-local", type=int, default=0, metavar="N")
    parser.add_argument("--launch-timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    if args.launch_local:
        return launch_local(args, argv)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
