"""Multi-worker training with TF_CONFIG: from two processes here to many hosts.

Every worker runs this same program. It trains through the library's run API,
`ktb.training.TranslationRun` (`--model transformer`) and
`ktb.training.BiTRun` (`--model bit`), the runs that `ktb translate train`
and `ktb bit train` make. Under MultiWorkerMirroredStrategy (a TF_CONFIG that
lists several tasks) the run trains with `ktb.distribute.CustomTrainingLoop`
by itself, because Keras 3 `model.fit` does not run under that strategy
(keras-team/keras#20585): each step splits one global batch over all workers,
gradients are all-reduced, and the chief (worker 0) holds the run directory's
lock and writes its checkpoints, its config and the saved `model.keras`.
Writing your own loop instead? Drive `ktb.distribute.CustomTrainingLoop`
yourself (docs/scaling.md, section 3): the runs below do that for you.

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
mid-run, or no step finishes for `--worker-timeout` seconds, the others exit
with status 75; restart all of them with the same command to resume. Run
again once finished, the same command finds the run done and trains nothing
(`--epochs` counts the run's epochs in all: a larger value trains the rest).

Try it on this machine (two local workers on free loopback ports):

    python tutorials/multi_worker.py --launch-local 2 --model bit --epochs 3
    python tutorials/multi_worker.py --launch-local 2 --model transformer

(On 2 CPU cores: the transformer's 20 epochs take 2 minutes and reach a
validation BLEU of about 77; bit's 3 epochs of 250 updates in all take 1
minute and reach a validation accuracy of about 54%.)

The `ktb` commands run the same runs with `--strategy multi_worker` and the
same TF_CONFIG on every host (`ktb bit train ... --strategy multi_worker`,
`ktb translate train ... --strategy multi_worker`; docs/scaling.md, section 3).

Data: `bit` fine-tunes `bit_tiny` on 1,024 Fashion-MNIST training images (the
Debian package dataset-fashion-mnist), held in memory as a
`ktb.data.LabeledImages`, at 32x32; `transformer` learns to reverse sequences
of words, pairs that every worker writes to the same tab-separated file from
the same seed (beside a local `--model-dir`, else in the temporary directory;
`--pairs-file` chooses another path, which must be the same on every host).
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402

# The toy language: sentences of MIN_WORDS to MAX_WORDS of these words.
WORDS = (
    "red green blue black white grey pink gold "
    "cat dog fox owl bee ant cow hen "
    "one two six ten sun moon star rain "
    "big old new hot cold fast slow tall"
).split()
MIN_WORDS = 3
MAX_WORDS = 8

# A model small enough to train on CPUs in a minute. `--epochs` counts all of
# the run's epochs; the rest are the translation recipe's.
TRANSLATION_SETTINGS = {
    "preset": "transformer_tiny",
    "model_overrides": {"max_sequence_length": 2 * MAX_WORDS + 2},
    "vocabulary_size": 80,
    "max_length": MAX_WORDS + 2,
    "warmup_steps": 100,
    "average_checkpoints": 0,
}
# Enough for the transformer to reverse most words (validation BLEU 77 after
# 20 epochs of 15 steps on two local workers, 2 minutes on 2 CPU cores).
DEFAULT_EPOCHS = {"bit": 3, "transformer": 20}
# Fashion-MNIST images that `bit` evaluates on after each epoch.
BIT_EVAL_IMAGES = 512


def reversal_pairs(num_pairs, seed=0):
    """`(source, target)` sentences: random words and the same words reversed.

    Example:
    >>> reversal_pairs(1, seed=0)  # doctest: +SKIP
    [('tall rain cow one', 'one cow rain tall')]
    """
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(num_pairs):
        length = rng.integers(MIN_WORDS, MAX_WORDS + 1)
        words = [WORDS[index] for index in rng.integers(0, len(WORDS), length)]
        pairs.append((" ".join(words), " ".join(words[::-1])))
    return pairs


def write_reversal_pairs(path, num_pairs, seed=0):
    """Writes `reversal_pairs(num_pairs, seed)` to `path` as a TSV; returns it.

    Every worker calls this with the same arguments and writes the same bytes;
    each writes through a temporary file of its own and a rename, so a worker
    reading the file never sees half of it.
    """
    text = "".join(
        f"{source}\t{target}\n" for source, target in reversal_pairs(num_pairs, seed)
    )
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ktb.utils.write_text_atomically(path, text)
    return path


def pairs_path(model_dir, num_pairs, seed):
    """Where the reversal pairs of a run go: beside a local run directory,
    named after the run and the pairs' count and seed (other pairs are
    another path, which the run refuses as other `data` on resume). The
    corpus reader opens local files only, so a run in a bucket (`gs://`)
    gets them in the temporary directory."""
    if "://" in model_dir:
        name = model_dir.split("://", 1)[1].strip("/").replace("/", "_")
        parent = os.path.join(tempfile.gettempdir(), "ktb_multi_worker")
    else:
        absolute = os.path.abspath(model_dir)
        parent, name = os.path.dirname(absolute), os.path.basename(absolute)
    return os.path.join(parent, f"{name}_pairs_{num_pairs}_seed{seed}.tsv")


def form_cluster(args):
    """Forms the cluster of TF_CONFIG with `--register-timeout`.

    The runs call `ktb.distribute.get_strategy(strategy)` with its default
    register timeout (120 s) and no way to pass another; a process joins one
    cluster only, so a strategy formed here first is the one they get.
    """
    tf_config = ktb.distribute.read_tf_config()
    tasks = (
        sum(len(tf_config["cluster"].get(job, [])) for job in ("chief", "worker"))
        if tf_config
        else 0
    )
    if args.strategy == "multi_worker" or (args.strategy == "auto" and tasks > 1):
        ktb.distribute.get_strategy(
            args.strategy, cluster_register_timeout_seconds=args.register_timeout
        )


def train_transformer(args):
    """A `TranslationRun` on the reversal pairs, trained to `--epochs`."""
    data = args.pairs_file or pairs_path(args.model_dir, args.examples, args.seed)
    write_reversal_pairs(data, args.examples, args.seed)
    held_out = max(1, args.examples // 16)  # pairs each for validation and test
    run = ktb.training.TranslationRun(
        args.model_dir,
        strategy=args.strategy,
        data=data,
        tokens_per_batch=args.tokens_per_batch,
        seed=args.seed,
        validation_size=held_out,
        test_size=held_out,
        **TRANSLATION_SETTINGS,
    )
    run.resolve_config()  # a saved run with other settings is refused here
    history = run.history()
    done = history[-1]["epoch"] if history else 0
    if done >= args.epochs:
        print(
            f"{args.model_dir} holds a run of {done} epochs (--epochs "
            f"{args.epochs}): nothing to train. Pass a larger --epochs to "
            "train more."
        )
        return
    form_cluster(args)
    # Epochs a killed job finished count: the run resumes at its checkpoint.
    history = run.train(
        epochs=args.epochs - done,
        budget_minutes=None,
        bleu_every=1,
        bleu_examples=held_out,
        worker_timeout=args.worker_timeout,
    )
    last = history[-1]
    if "val_bleu" in last:  # scored on the chief only
        print(f"Epoch {last['epoch']}: validation BLEU {last['val_bleu']:.1f}")


def train_bit(args):
    """A `BiTRun` on Fashion-MNIST images held in memory, to its schedule's end."""
    run = ktb.training.BiTRun(
        args.model_dir,
        strategy=args.strategy,
        data=ktb.data.load_fashion_mnist("train").select(range(args.examples)),
        eval_data=ktb.data.load_fashion_mnist("test").select(range(BIT_EVAL_IMAGES)),
        preset="bit_tiny",
        crop_size=32,
        batch_size=args.batch_size,
        schedule_scale=args.schedule_scale,
        num_epochs=args.epochs,
        seed=args.seed,
    )
    if not run.check_rerun():  # a finished run needs no cluster
        form_cluster(args)
    run.train(worker_timeout=args.worker_timeout)


def train(args):
    if args.model_dir is None:
        args.model_dir = os.path.join(
            tempfile.gettempdir(), "ktb_multi_worker", args.model
        )
    try:
        if args.model == "transformer":
            train_transformer(args)
        else:
            train_bit(args)
    except ktb.distribute.ClusterError as error:
        print(f"ERROR: {error}", file=sys.stderr, flush=True)
        # TensorFlow's servers can block a normal interpreter exit after a
        # cluster failure; leave at once with the "try again" status.
        os._exit(ktb.distribute.WORKER_FAILURE_EXIT_CODE)


def positive(kind):
    """An argparse type: a number of `kind` above 0, else an error naming it."""

    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0. Received: {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its errors
    return parse


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
    parser.add_argument(
        "--model",
        choices=["bit", "transformer"],
        default="bit",
        help="the run: a BiTRun or a TranslationRun (default: %(default)s)",
    )
    parser.add_argument(
        "--model-dir",
        help="the run directory, on storage every worker sees (default: "
        "ktb_multi_worker/MODEL in the temporary directory)",
    )
    parser.add_argument(
        "--strategy",
        default="auto",
        choices=ktb.distribute.STRATEGY_NAMES,
        help="auto: multi_worker when TF_CONFIG lists several tasks "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--epochs",
        type=positive(int),
        help="the run's epochs in all (bit: the schedule's epochs; default: "
        + ", ".join(f"{n} for {model}" for model, n in DEFAULT_EPOCHS.items())
        + ")",
    )
    parser.add_argument(
        "--examples",
        type=positive(int),
        default=1024,
        help="training images or pairs (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive(int),
        default=64,
        help="bit: images per global batch (default: %(default)s)",
    )
    parser.add_argument(
        "--schedule-scale",
        type=positive(float),
        default=0.5,
        help="bit: the fraction of the HyperRule's steps to train "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--tokens-per-batch",
        type=positive(int),
        default=512,
        help="transformer: tokens per global batch (default: %(default)s)",
    )
    parser.add_argument(
        "--pairs-file",
        help="transformer: where every worker writes the pairs, the same path "
        "on every host (default: beside a local --model-dir)",
    )
    parser.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    parser.add_argument(
        "--register-timeout",
        type=positive(float),
        default=120,
        help="seconds a worker waits for the others to join (default: %(default)s)",
    )
    parser.add_argument(
        "--worker-timeout",
        "--step-timeout",
        type=positive(float),
        default=600,
        help="seconds without a finished step before a worker exits with 75 "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--launch-local",
        type=int,
        default=0,
        metavar="N",
        help="start N workers on this machine, on loopback ports",
    )
    parser.add_argument(
        "--launch-timeout",
        type=positive(float),
        default=1800,
        help="seconds --launch-local waits for its workers (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS[args.model]
    if args.launch_local:
        return launch_local(args, argv)
    train(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
