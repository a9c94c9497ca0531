"""A training process for the multi-process tests (run as a script).

`--mode loop` trains with `CustomTrainingLoop` under `--strategy` (one process,
or one worker of a `LocalCluster`); `--mode fit` trains with `model.fit` and the
package's `training_callbacks` (AtomicBackupAndRestore + TensorBoard). Prints one line
per finished epoch: `EPOCH_END <epoch> <sum of weights>`.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402
from tests.distribute import toy_tasks  # noqa: E402


def _weights_sum(model):
    return float(sum(np.sum(w, dtype="float64") for w in model.get_weights()))


class _Report(keras.callbacks.Callback):
    def __init__(self, args):
        super().__init__()
        self.args = args

    def on_epoch_begin(self, epoch, logs=None):
        # After the backup is restored: the weights this epoch starts from.
        print(f"EPOCH_BEGIN {epoch} {_weights_sum(self.model):.10f}", flush=True)

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.args.sleep_per_step)

    def on_epoch_end(self, epoch, logs=None):
        print(f"EPOCH_END {epoch + 1} {_weights_sum(self.model):.10f}", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["loop", "fit"], default="loop")
    parser.add_argument("--task", choices=toy_tasks.TASKS, default="dense")
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2, help="steps per epoch")
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--weights-out", default=None)
    parser.add_argument("--step-timeout", type=float, default=60)
    parser.add_argument("--heartbeat-timeout", type=float, default=10)
    parser.add_argument("--sleep-per-step", type=float, default=0.0)
    args = parser.parse_args()

    strategy = ktb.distribute.get_strategy(
        args.strategy,
        cluster_register_timeout_seconds=60,
        heartbeat_timeout_seconds=args.heartbeat_timeout,
    )
    dataset = toy_tasks.make_dataset(
        args.task, args.global_batch, num_examples=args.global_batch * args.steps
    )
    with strategy.scope():
        model = toy_tasks.make_model(args.task)
        optimizer = toy_tasks.make_optimizer(args.task)
    if args.mode == "fit":
        model.compile(optimizer, toy_tasks.make_loss(args.task))
        callbacks = ktb.distribute.training_callbacks(args.model_dir)
        model.fit(
            dataset,
            epochs=args.epochs,
            verbose=0,
            callbacks=callbacks + [_Report(args)],
        )
    else:
        loop = ktb.distribute.CustomTrainingLoop(
            model,
            optimizer,
            toy_tasks.make_loss(args.task),
            strategy=strategy,
            model_dir=args.model_dir,
            step_timeout_seconds=args.step_timeout,
        )
        try:

            def report(epoch, logs):
                print(f"EPOCH_END {epoch + 1} {_weights_sum(model):.10f}", flush=True)
                time.sleep(args.sleep_per_step)

            loop.fit(
                dataset,
                epochs=args.epochs,
                steps_per_epoch=None,
                verbose=0,
                callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=report)],
            )
            if args.model_dir:
                loop.export(os.path.join(args.model_dir, "export", "model.keras"))
        except ktb.distribute.ClusterError as error:
            print(f"CLUSTER_ERROR {error}", flush=True)
            sys.stdout.flush()
            os._exit(ktb.distribute.WORKER_FAILURE_EXIT_CODE)
    if args.weights_out:
        config = ktb.distribute.read_tf_config()
        task_index = config["task"]["index"] if config else 0
        path = args.weights_out.format(task_index=task_index)
        np.savez(path, *model.get_weights())
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
