"""A training loop on `strategy.run` for one device, many devices or many hosts.

Keras 3 `model.fit` fails under `MultiWorkerMirroredStrategy`
(keras-team/keras#20585), so multi-worker training goes through this loop; it
runs unchanged on one device and under `MirroredStrategy`, which is how the
tests compare the three.
"""

import contextlib
import json
import os
import shutil
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from keras_transformer_bit.distribute.atomic_backup_and_restore import (
    AtomicBackupAndRestore,
)
from keras_transformer_bit.distribute.cluster_error import (
    CLUSTER_ERRORS,
    ClusterError,
    failure_details,
)
from keras_transformer_bit.distribute.get_strategy import (
    is_chief_task,
    is_multi_worker,
)
from keras_transformer_bit.distribute.mixed_precision import resolve_jit_compile
from keras_transformer_bit.distribute.model_signature import (
    check_same_model,
    model_signature,
)
from keras_transformer_bit.distribute.save_model_on_chief import save_model_on_chief
from keras_transformer_bit.distribute.step_watchdog import StepWatchdog
from keras_transformer_bit.distribute.tf_config import read_tf_config, unreachable_tasks
from keras_transformer_bit.utils import check_positive_int

CHECKPOINT_DIRNAME = "checkpoints"
# The model_signature of the model the checkpoints belong to.
SIGNATURE_FILENAME = "model_signature.json"
LOGS_DIRNAME = "logs"


def _check_callbacks(callbacks):
    """The callbacks as a list, refusing the backups the loop does itself."""
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, keras.callbacks.Callback):
            raise ValueError(
                "callbacks must be keras.callbacks.Callback instances. "
                f"Received: {callback!r}"
            )
        if isinstance(
            callback, (keras.callbacks.BackupAndRestore, AtomicBackupAndRestore)
        ):
            raise ValueError(
                "CustomTrainingLoop checkpoints model, optimizer and epoch after "
                "every epoch into model_dir/checkpoints and resumes from them, "
                "which is what a backup callback does for model.fit: pass "
                f"model_dir instead. Received: {type(callback).__name__}"
            )
    return callbacks


def _accuracy_for(metric, loss):
    """`"accuracy"` as `compile` reads it: the accuracy that fits the loss."""
    if metric not in ("accuracy", "acc"):
        return metric
    name = loss if isinstance(loss, str) else getattr(loss, "name", "") or ""
    name = name or getattr(loss, "__name__", "")
    if "sparse" in name:
        return "sparse_categorical_accuracy"
    if "categorical" in name:
        return "categorical_accuracy"
    if "binary" in name:
        return "binary_accuracy"
    return metric


def _check_epochs(epochs, steps_per_epoch, total_steps):
    """`epochs` and `total_steps` of `fit` as ints, or an error naming them."""
    epochs = check_positive_int("epochs", epochs)
    if steps_per_epoch is not None:
        check_positive_int("steps_per_epoch", steps_per_epoch)
    if total_steps is None:
        return epochs, None
    total_steps = check_positive_int("total_steps", total_steps)
    if (
        not steps_per_epoch
        or not (epochs - 1) * steps_per_epoch < total_steps
        or total_steps > epochs * steps_per_epoch
    ):
        raise ValueError(
            "total_steps needs steps_per_epoch and must leave the last epoch "
            "between 1 and steps_per_epoch steps: an int in "
            "((epochs - 1) * steps_per_epoch, epochs * steps_per_epoch]. "
            f"Received: total_steps={total_steps}, epochs={epochs}, "
            f"steps_per_epoch={steps_per_epoch}"
        )
    return epochs, total_steps


def _steps_of(epoch, steps_per_epoch, total_steps):
    """The steps epoch `epoch` (from 0) runs: the last may be shorter."""
    if total_steps is None:
        return steps_per_epoch
    return min(steps_per_epoch, total_steps - epoch * steps_per_epoch)


def _print_epoch(epoch, epochs, steps, logs, seconds):
    text = " - ".join(
        f"{k} {v:.4f}" if isinstance(v, (int, float, np.number)) else f"{k} {v}"
        for k, v in logs.items()
    )
    print(
        f"epoch {epoch + 1}/{epochs} - {steps} steps - {text} - {seconds:.1f} s",
        flush=True,
    )


def _shard_by_data(dataset):
    """`dataset` of global batches, each worker keeping its slice of every one.

    Every worker builds the same batches and keeps its share of each
    (`AutoShardPolicy.DATA`), so a step matches one device on the whole batch.
    The default, AUTO, would hand whole input files to workers where the
    dataset reads files. A policy the caller set explicitly is kept.
    """
    policy = dataset.options().experimental_distribute.auto_shard_policy
    if policy != tf.data.experimental.AutoShardPolicy.AUTO:
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


class CustomTrainingLoop:
    """Trains a Keras model with `strategy.run`, checkpoints and resumes.

    Each replica computes the loss of its slice of the global batch, sums it
    and divides by the size of the *global* batch (an all-reduced count: the
    number of examples, or of real tokens for losses with a `pad_token_id`
    such as `ktb.recipes.LabelSmoothedCrossEntropy`); the optimizer sums the
    gradients over replicas. One step therefore equals one step of a single
    device on the whole global batch, whatever the number of replicas.

    Around the steps the loop:
    - distributes the dataset (`tf.data.Dataset` of global batches: split and
      sharded by `tf.distribute`; or a function `input_context -> dataset of
      per-replica batches` that shards itself);
    - saves a checkpoint (model, optimizer, epoch) at the end of every epoch
      into `model_dir/checkpoints` on the chief; the other workers write to a
      private scratch directory they delete (all workers must take part in
      saving);
      `export` saves the model the same way (chief: the path; others: scratch);
    - restores the latest checkpoint when `fit` starts, continuing at the next
      epoch, so rerunning a killed command loses at most one epoch;
    - writes TensorBoard scalars under `model_dir/logs` (chief);
    - with several workers, turns a dead peer into a `ClusterError` and, when
      TensorFlow blocks instead of failing, ends the process after
      `step_timeout_seconds` without progress, with a message, so no worker hangs.

    Build the model (and the optimizer) under `strategy.scope()`.

    Args:
        model: a `keras.Model` created under `strategy.scope()`.
        optimizer: a `keras.optimizers.Optimizer`. Wrapped in a
            `LossScaleOptimizer` when the dtype policy is `mixed_float16`.
        loss: a `keras.losses.Loss`, a loss name, or a function
            `(y_true, y_pred) -> per-example losses`.
        metrics: list of `keras.metrics.Metric` (or names). Defaults to none.
        strategy: the `tf.distribute.Strategy` the model was built under.
            Defaults to the current one.
        model_dir: str or None. Where checkpoints and logs go; None: neither.
        max_checkpoints: int. Checkpoints kept. Defaults to `2`.
        step_timeout_seconds: float or None. Multi-worker only: seconds without
            a finished step (tracing included) after which the process exits
            with status 75. Time spent in epoch-end callbacks (e.g. BLEU on
            the chief) and waiting for the other workers to finish theirs does not
            count: the peers are probed instead, and a peer whose process is
            gone ends the run within about 10 s. None: no limit. Defaults to
            `600`.
        jit_compile: bool or `"auto"`. XLA for the replica step; refused with a
            strategy on CPU (see `resolve_jit_compile`). Defaults to `False`.

    Example:
    >>> strategy = ktb.distribute.get_strategy("auto")
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    ...     optimizer = keras.optimizers.SGD(0.1)
    >>> loop = ktb.distribute.CustomTrainingLoop(
    ...     model, optimizer, "sparse_categorical_crossentropy", strategy=strategy)
    >>> dataset = tf.data.Dataset.from_tensor_slices(
    ...     (np.ones((8, 4)), np.arange(8) % 3)).batch(4)  # global batches
    >>> history = loop.fit(dataset, epochs=2)
    epoch 1/2 - 2 steps - loss ...
    epoch 2/2 - 2 steps - loss ...
    """

    def __init__(
        self,
        model,
        optimizer,
        loss,
        metrics=None,
        strategy=None,
        model_dir=None,
        max_checkpoints=2,
        step_timeout_seconds=600,
        jit_compile=False,
    ):
        self.strategy = strategy or tf.distribute.get_strategy()
        self.model = model
        self.model_dir = model_dir
        self.max_checkpoints = max_checkpoints
        self.step_timeout_seconds = step_timeout_seconds
        self.jit_compile = resolve_jit_compile(jit_compile, self.strategy)
        self._check_model_in_scope()
        self.loss = keras.losses.get(loss) if isinstance(loss, str) else loss
        if not callable(self.loss):
            raise ValueError(
                "loss must be a keras.losses.Loss, a loss name or a function "
                f"(y_true, y_pred) -> per-example losses. Received: loss={loss!r}"
            )
        self._summed_loss = self._make_summed_loss(self.loss)
        self._pad_token_id = getattr(self.loss, "pad_token_id", None)
        with self.strategy.scope():
            if keras.config.dtype_policy().name == "mixed_float16" and not isinstance(
                optimizer, keras.optimizers.LossScaleOptimizer
            ):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            if not self.optimizer.built:  # a reloaded model's keeps its state
                self.optimizer.build(model.trainable_variables)
            self.metrics = [
                keras.metrics.get(_accuracy_for(m, self.loss)) for m in (metrics or [])
            ]
            self.metrics = [
                m if isinstance(m, keras.metrics.Metric) else keras.metrics.Mean(m)
                for m in self.metrics
            ]
            self._loss_tracker = keras.metrics.Mean(name="loss")
        self.is_chief = is_chief_task(self.strategy)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self._checkpoint = tf.train.Checkpoint(
            model=model, optimizer=self.optimizer, epoch=self.epoch
        )
        self._manager = None
        self._scratch_dir = None
        self._all_reduced_sum = None
        self._step_functions = {}
        self._activity = "start-up"

    # ---------------------------------------------------------------- set-up
    def _check_model_in_scope(self):
        variables = self.model.trainable_variables
        if not variables:
            raise ValueError(
                "The model has no trainable variables; build it (call it once or "
                "give it an Input) under strategy.scope() before creating the loop."
            )
        value = getattr(variables[0], "value", variables[0])
        if not self.strategy.extended.variable_created_in_scope(value):
            raise ValueError(
                "The model's variables were not created under the strategy's "
                "scope. Build model and optimizer inside `with strategy.scope():`. "
                f"Received: strategy={type(self.strategy).__name__}"
            )

    @staticmethod
    def _make_summed_loss(loss):
        if isinstance(loss, keras.losses.Loss):
            config = {**loss.get_config(), "reduction": "sum"}
            return type(loss).from_config(config)

        def summed(y_true, y_pred, sample_weight=None):
            values = tf.cast(loss(y_true, y_pred), tf.float32)
            if sample_weight is not None:
                values = values * tf.cast(sample_weight, tf.float32)
            return tf.reduce_sum(values)

        return summed

    def _checkpoint_dir(self):
        if self.is_chief:
            return os.path.join(self.model_dir, CHECKPOINT_DIRNAME)
        # The other workers save too (saving may need every worker), into a
        # private scratch directory that they delete right after.
        if self._scratch_dir is None:
            self._scratch_dir = tempfile.mkdtemp(prefix="ktb_worker_checkpoint_")
        return self._scratch_dir

    # ---------------------------------------------------------------- steps
    def _loss_and_count(self, y, y_pred, sample_weight):
        if self._pad_token_id is not None:
            weights = tf.cast(tf.not_equal(y, self._pad_token_id), tf.float32)
            if sample_weight is not None:
                sample_weight = tf.cast(sample_weight, tf.float32)
                if sample_weight.shape.rank == 1:
                    sample_weight = sample_weight[:, None]
                weights = weights * sample_weight
            count = tf.reduce_sum(weights)
        else:
            count = tf.cast(tf.shape(tf.nest.flatten(y_pred)[0])[0], tf.float32)
        loss_sum = self._summed_loss(y, y_pred, sample_weight=sample_weight)
        return tf.cast(loss_sum, tf.float32), count

    def _replica_loss(self, data, training):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self.model(x, training=training)
        loss_sum, count = self._loss_and_count(y, y_pred, sample_weight)
        # The denominator is global: all-reduce the count over replicas.
        context = tf.distribute.get_replica_context()
        global_count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
        loss = loss_sum / tf.maximum(global_count, 1.0)
        return x, y, sample_weight, y_pred, loss, count, global_count

    def _update_metrics(self, y, y_pred, sample_weight, loss, global_count):
        # loss * global_count / num_replicas summed over replicas is the loss sum.
        self._loss_tracker.update_state(
            loss * self.strategy.num_replicas_in_sync,
            sample_weight=global_count / self.strategy.num_replicas_in_sync,
        )
        for metric in self.metrics:
            metric.update_state(y, y_pred, sample_weight=sample_weight)

    def _replica_train_step(self, data):
        with tf.GradientTape() as tape:
            _, y, sample_weight, y_pred, loss, _, global_count = self._replica_loss(
                data, training=True
            )
            total = loss
            if self.model.losses:
                total = total + tf.nn.scale_regularization_loss(
                    tf.add_n([tf.cast(v, tf.float32) for v in self.model.losses])
                )
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                total = self.optimizer.scale_loss(total)
        variables = self.model.trainable_variables
        gradients = tape.gradient(total, variables)
        # Embedding gradients arrive as IndexedSlices whose sizes differ between
        # replicas (different tokens per batch); batched all-reduce needs dense
        # tensors of equal shapes on every replica.
        gradients = [
            tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
            for g in gradients
        ]
        self.optimizer.apply(gradients, variables)
        self._update_metrics(y, y_pred, sample_weight, loss, global_count)
        return loss

    def _replica_eval_step(self, data):
        _, y, sample_weight, y_pred, loss, _, global_count = self._replica_loss(
            data, training=False
        )
        self._update_metrics(y, y_pred, sample_weight, loss, global_count)
        return loss

    def _step_function(self, replica_step, element_spec):
        """The traced step for batches of `element_spec`, made once per spec.

        The signature is the distributed dataset's element spec, whose unknown
        dimensions stay unknown: batches of varying shape (the Transformer's
        length buckets, uneven splits of a batch) reuse one trace. Each worker
        then traces the same functions in the same order, which collectives
        across workers require; retracing on shapes that only some workers see
        would make their collectives disagree.
        """
        key = (replica_step.__name__, str(element_spec))
        if key not in self._step_functions:
            if self.jit_compile:
                replica_step = tf.function(replica_step, jit_compile=True)

            @tf.function(input_signature=[element_spec])
            def distributed_step(data):
                per_replica = self.strategy.run(replica_step, args=(data,))
                return self.strategy.reduce(
                    tf.distribute.ReduceOp.SUM, per_replica, None
                )

            self._step_functions[key] = distributed_step
        return self._step_functions[key]

    # ---------------------------------------------------------------- data
    def distribute_dataset(self, dataset):
        """Distributes a dataset of global batches, or a per-replica dataset fn."""
        if isinstance(dataset, tf.distribute.DistributedDataset):
            return dataset
        if callable(dataset) and not isinstance(dataset, tf.data.Dataset):
            return self.strategy.distribute_datasets_from_function(dataset)
        if not isinstance(dataset, tf.data.Dataset):
            raise ValueError(
                "dataset must be a tf.data.Dataset of global batches or a function "
                f"input_context -> tf.data.Dataset. Received: dataset={dataset!r}"
            )
        return self.strategy.experimental_distribute_dataset(_shard_by_data(dataset))

    # ---------------------------------------------------------------- checkpoints
    def restore(self):
        """Restores the latest checkpoint of `model_dir`; returns its epoch."""
        if not self.model_dir:
            return 0
        chief_dir = os.path.join(self.model_dir, CHECKPOINT_DIRNAME)
        latest = tf.train.latest_checkpoint(chief_dir)
        if latest:
            # Before any weight is touched: checkpoints of another model would
            # fail with a raw shape error, or resume the wrong run.
            signature_path = os.path.join(chief_dir, SIGNATURE_FILENAME)
            if tf.io.gfile.exists(signature_path):
                with tf.io.gfile.GFile(signature_path, "r") as file:
                    saved = json.loads(file.read())
                check_same_model(saved, self.model, chief_dir)
            self._checkpoint.restore(latest).expect_partial()
        epoch = int(self.epoch.numpy())
        if is_multi_worker(self.strategy):
            self._check_workers_agree(epoch)
        return epoch

    def _sum_over_replicas(self, value):
        """All-reduces a Python number that every replica contributes once."""
        if self._all_reduced_sum is None:

            @tf.function
            def all_reduced_sum(value):
                per_replica = self.strategy.run(tf.identity, args=(value,))
                return self.strategy.reduce(
                    tf.distribute.ReduceOp.SUM, per_replica, None
                )

            self._all_reduced_sum = all_reduced_sum
        return float(self._all_reduced_sum(tf.constant(float(value))))

    def _any_worker(self, flag):
        """Whether `flag` is true on any worker (the same answer on all)."""
        if not is_multi_worker(self.strategy):
            return bool(flag)
        return self._sum_over_replicas(1.0 if flag else 0.0) > 0.5

    def _check_workers_agree(self, epoch):
        # Workers that see different checkpoints would run different loops and
        # deadlock; all-reduce the epoch and compare.
        total = self._sum_over_replicas(epoch)
        expected = epoch * self.strategy.num_replicas_in_sync
        if abs(total - expected) > 0.5:
            raise ClusterError(
                "Workers restored different checkpoints (this worker: epoch "
                f"{epoch}). model_dir must be storage every worker sees (a shared "
                f"file system or a bucket). Received: model_dir={self.model_dir!r}"
            )

    def save_checkpoint(self):
        """Saves model, optimizer and epoch (chief: `model_dir/checkpoints`)."""
        if not self.model_dir:
            return None
        if self._manager is None:
            self._manager = tf.train.CheckpointManager(
                self._checkpoint,
                self._checkpoint_dir(),
                max_to_keep=self.max_checkpoints,
            )
        path = self._manager.save()
        if self.is_chief:
            signature_path = os.path.join(self._checkpoint_dir(), SIGNATURE_FILENAME)
            if not tf.io.gfile.exists(signature_path):
                # Whole or absent after a kill: written aside, then renamed.
                with tf.io.gfile.GFile(signature_path + ".tmp", "w") as file:
                    file.write(json.dumps(model_signature(self.model)))
                tf.io.gfile.rename(signature_path + ".tmp", signature_path, True)
        if not self.is_chief:
            shutil.rmtree(self._scratch_dir, ignore_errors=True)
            self._scratch_dir = None
            self._manager = None
            return None
        return path

    def delete_checkpoints(self):
        """Removes `model_dir/checkpoints` (chief), e.g. once a run is exported.

        A later `fit` then starts from the model as it is, not from a
        checkpoint: use it when the checkpoints only guard one run against
        crashes, as `BackupAndRestore` does for `model.fit`.
        """
        self._manager = None
        directory = self.model_dir and os.path.join(self.model_dir, CHECKPOINT_DIRNAME)
        if directory and self.is_chief and tf.io.gfile.exists(directory):
            tf.io.gfile.rmtree(directory)  # local, gs://, s3://, hdfs://, ram://

    def export(self, path):
        """Saves the model (`.keras`, or `.weights.h5` for weights).

        Every worker must call it (see `save_model_on_chief`): the chief
        writes `path`, the others a scratch copy that they delete.

        Returns:
            The path on the chief, None on the other workers.
        """
        return save_model_on_chief(self.model, path, self.strategy)

    # ---------------------------------------------------------------- loops
    def _results(self):
        results = {"loss": float(self._loss_tracker.result())}
        for metric in self.metrics:
            value = metric.result()
            if isinstance(value, dict):
                results.update({k: float(v) for k, v in value.items()})
            else:
                results[metric.name] = float(value)
        return results

    def _reset_metrics(self):
        self._loss_tracker.reset_state()
        for metric in self.metrics:
            metric.reset_state()

    def _run(self, body):
        multi_worker = is_multi_worker(self.strategy)
        tf_config = read_tf_config() if multi_worker else None
        try:
            if multi_worker and self.step_timeout_seconds:
                with StepWatchdog(
                    self.step_timeout_seconds,
                    lambda: self._activity,
                    tf_config=tf_config,
                ) as dog:
                    return body(dog)
            return body(None)
        except CLUSTER_ERRORS as error:
            if not multi_worker:
                raise
            dead = unreachable_tasks(tf_config)
            named = f" No answer from {', '.join(dead)}." if dead else ""
            raise ClusterError(
                f"Lost contact with the cluster during {self._activity}: "
                f"{failure_details(error)}.{named} A worker probably died or the "
                "network failed. Restart every worker with the same command; "
                "training resumes from the last checkpoint in "
                f"{self.model_dir!r}."
            ) from error

    def fit(
        self,
        dataset,
        epochs=1,
        steps_per_epoch=None,
        validation_data=None,
        verbose=1,
        callbacks=None,
        total_steps=None,
    ):
        """Trains for `epochs` epochs, resuming from the latest checkpoint.

        Keras callbacks run as under `model.fit`: `on_train_begin`, then per
        epoch `on_epoch_begin`, `on_train_batch_begin/end` around each step
        and `on_epoch_end(epoch, logs)` (epochs count from 0, `logs` holds the
        loss, the metrics and the `val_*` values, and what a callback adds
        there reaches the history and TensorBoard), then `on_train_end`. So
        `TrainingBudget`, `BleuCallback`, `EarlyStopping` or a `TensorBoard`
        of your own work unchanged. The loop's own checkpoints do what
        `BackupAndRestore` does for `fit`; it is refused here.

        A callback that sets `model.stop_training` ends training after the
        current step on one machine (as in `fit`), and at the end of the
        current epoch with several workers: they must stop together, so they
        agree there (if any worker's callbacks asked to stop, all stop).
        Epoch-end callbacks may run on some workers only (e.g. BLEU on the
        chief): give each worker its own list.

        Args:
            dataset: `tf.data.Dataset` of global batches `(x, y)` or
                `(x, y, sample_weight)`, or a function `input_context ->
                tf.data.Dataset` of per-replica batches.
            epochs: int. The epoch to stop after (counting restored ones).
            steps_per_epoch: int or None. With an int the dataset is iterated
                continuously (it should repeat); None: one pass per epoch.
            validation_data: optional dataset evaluated after each epoch.
            verbose: int. 0 silent, 1 one line per epoch on the chief.
            callbacks: list of `keras.callbacks.Callback`.
            total_steps: int or None. With `steps_per_epoch`: the steps of the
                whole run, so the last epoch may be shorter (epoch `e` runs
                `min(steps_per_epoch, total_steps - e * steps_per_epoch)`
                steps); a schedule keyed on steps then ends where it should.

        Returns:
            A `keras.callbacks.History`, as `model.fit` returns: `epoch` lists
            the epochs this call ran (from 0), `history` each logged value
            per epoch.
        """
        epochs, total_steps = _check_epochs(epochs, steps_per_epoch, total_steps)
        history = keras.callbacks.History()
        callback_list = keras.callbacks.CallbackList(
            [*_check_callbacks(callbacks), history],
            model=self.model,
            epochs=epochs,
            steps=steps_per_epoch,
            verbose=0,
        )
        distributed = self.distribute_dataset(dataset)
        train_function = self._step_function(
            self._replica_train_step, distributed.element_spec
        )
        writer = None
        if self.model_dir and self.is_chief:
            writer = tf.summary.create_file_writer(
                os.path.join(self.model_dir, LOGS_DIRNAME, "train")
            )
        multi_worker = is_multi_worker(self.strategy)

        def run_epoch(epoch, iterator, watchdog):
            """The epoch's train steps; returns how many ran."""
            batches = (
                distributed
                if iterator is None
                else range(_steps_of(epoch, steps_per_epoch, total_steps))
            )
            steps = 0
            for data in batches:
                callback_list.on_train_batch_begin(steps)
                train_function(data if iterator is None else next(iterator))
                steps += 1
                watchdog and watchdog.beat()
                callback_list.on_train_batch_end(steps - 1)
                # One machine stops mid-epoch as fit does; several workers
                # stop together at the epoch's end.
                if self.model.stop_training and not multi_worker:
                    break
            return steps

        def body(watchdog):
            self._activity = "restoring the checkpoint"
            initial_epoch = self.restore()
            if verbose and self.is_chief and initial_epoch:
                print(f"Resuming after epoch {initial_epoch} from {self.model_dir}")
            self.model.stop_training = False
            callback_list.on_train_begin()
            iterator = iter(distributed) if steps_per_epoch else None
            for epoch in range(initial_epoch, epochs):
                start = time.perf_counter()
                self._reset_metrics()
                callback_list.on_epoch_begin(epoch)
                self._activity = f"epoch {epoch + 1} (training)"
                steps = run_epoch(epoch, iterator, watchdog)
                logs = self._results()
                if validation_data is not None:
                    self._activity = f"epoch {epoch + 1} (validation)"
                    val = self.evaluate(validation_data, _watchdog=watchdog)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                self.epoch.assign(epoch + 1)
                self._activity = f"epoch {epoch + 1} (checkpoint)"
                self.save_checkpoint()
                watchdog and watchdog.beat()
                seconds = time.perf_counter() - start
                # Epoch-end work may run on the chief alone (BLEU) while the
                # others wait in `_any_worker`: not a hang (see `StepWatchdog`).
                pause = watchdog.paused() if watchdog else contextlib.nullcontext()
                with pause:
                    self._activity = f"epoch {epoch + 1} (callbacks)"
                    callback_list.on_epoch_end(epoch, logs)
                    self._write_summaries(writer, epoch, logs)
                    if verbose and self.is_chief:
                        _print_epoch(epoch, epochs, steps, logs, seconds)
                    self._activity = f"epoch {epoch + 1} (waiting for every worker)"
                    stop = self._any_worker(self.model.stop_training)
                if stop:
                    break
            callback_list.on_train_end()
            return history

        with self._optimizer_seen_by_callbacks():
            return self._run(body)

    @contextlib.contextmanager
    def _optimizer_seen_by_callbacks(self):
        """`model.optimizer` is the loop's while it trains, as after `compile`.

        Callbacks read it (TensorBoard logs the learning rate and counts steps
        with it). An uncompiled model gets it for the call only, untracked,
        so that saving the model afterwards does not save the optimizer.
        """
        if getattr(self.model, "optimizer", None) is not None:
            yield
            return
        self.model.__dict__["optimizer"] = self.optimizer
        try:
            yield
        finally:
            self.model.__dict__.pop("optimizer", None)

    @staticmethod
    def _write_summaries(writer, epoch, logs):
        if writer is None:
            return
        with writer.as_default(step=epoch + 1):
            for name, value in logs.items():
                if isinstance(value, (int, float, np.number)):
                    tf.summary.scalar(name, value)
        writer.flush()

    def evaluate(self, dataset, steps=None, _watchdog=None):
        """Returns the loss and metrics over a dataset of global batches."""
        distributed = self.distribute_dataset(dataset)
        eval_function = self._step_function(
            self._replica_eval_step, distributed.element_spec
        )
        self._reset_metrics()

        def body(watchdog):
            iterator = iter(distributed)
            done = 0
            while steps is None or done < steps:
                optional = iterator.get_next_as_optional()
                if not optional.has_value():
                    break
                eval_function(optional.get_value())
                done += 1
                watchdog and watchdog.beat()
            return self._results()

        if _watchdog is not None:
            return body(_watchdog)
        return self._run(body)

    def weights(self):
        """The model's weights as NumPy arrays (handy for comparisons)."""
        return [np.asarray(w) for w in self.model.get_weights()]
