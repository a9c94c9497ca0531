"""Fine-tune and evaluate a BiT classifier with the BiT-HyperRule."""

import contextlib
import math
import time

import keras
import numpy as np

from keras_transformer_bit.recipes.match_classifier_classes import (
    classifier_num_classes,
    match_classifier_classes,
)
from keras_transformer_bit.utils import (
    check_non_negative_int,
    check_positive_int,
    check_seed,
)

# Epochs the HyperRule schedule is split into: a backup after each, so a crash
# costs at most a tenth of the run.
DEFAULT_NUM_EPOCHS = 10


def _data():
    # tf.data lives in keras_transformer_bit.data; import it on use, so that
    # importing the recipes (with the package) does not import TensorFlow.
    from keras_transformer_bit import data

    return data


def _gradient_accumulation(classifier, num_splits):
    # A TensorFlow training step (distribute/); imported on use, as `_data`.
    from keras_transformer_bit.distribute import GradientAccumulation

    return GradientAccumulation(classifier, num_splits)


@contextlib.contextmanager
def _naming_undecodable_files(*collections):
    """Turns a decoder's error, which names no file, into one naming the files."""
    try:
        yield
    except Exception as error:
        from keras_transformer_bit.data.labeled_images import name_undecodable_files

        # A tf.data.Dataset has no files to name.
        collections = [c for c in collections if hasattr(c, "undecodable_files")]
        named = name_undecodable_files(error, *collections)
        if named is None:
            raise
        raise named from error


def compile_for_hyperrule(
    classifier, rule, gradient_accumulation_steps=1, jit_compile="auto"
):
    """Compiles with the rule's SGD, a from-logits cross-entropy and accuracy.

    Labels are one-hot (MixUp mixes them), so the loss is categorical.
    """
    classifier.compile(
        optimizer=rule.optimizer(gradient_accumulation_steps),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
    )
    return classifier


def schedule_epochs(total_steps, num_epochs):
    """Splits `total_steps` updates into at most `num_epochs` epochs.

    Returns `(epochs, steps_per_epoch)` with `steps_per_epoch =
    ceil(total_steps / num_epochs)`; the last epoch runs the remaining
    `total_steps - (epochs - 1) * steps_per_epoch` steps.

    Example:
    >>> schedule_epochs(500, 10), schedule_epochs(7, 3), schedule_epochs(7, 10)
    ((10, 50), (3, 3), (7, 1))
    """
    total_steps = check_positive_int("total_steps", total_steps)
    num_epochs = check_positive_int("num_epochs", num_epochs)
    steps_per_epoch = math.ceil(total_steps / num_epochs)
    return math.ceil(total_steps / steps_per_epoch), steps_per_epoch


def describe_epochs(total_steps, epochs, steps_per_epoch):
    """Says how `total_steps` updates fall into epochs, e.g. for a log line.

    Example:
    >>> describe_epochs(7, 3, 3), describe_epochs(500, 10, 50)
    ('7 updates in 3 epochs of 3, 3 and 1', '500 updates in 10 epochs of 50')
    >>> describe_epochs(25, 9, 3)
    '25 updates in 9 epochs of 3 (the last one 1)'
    """
    last = total_steps - (epochs - 1) * steps_per_epoch
    text = f"{total_steps} updates in {epochs} epoch{'s' * (epochs > 1)} of "
    if last == steps_per_epoch:
        return text + str(steps_per_epoch)
    if epochs <= 4:
        return text + ", ".join([str(steps_per_epoch)] * (epochs - 1)) + f" and {last}"
    return text + f"{steps_per_epoch} (the last one {last})"


class _EpochLog(keras.callbacks.Callback):
    """One line per epoch, as `fit(verbose=2)`, with the steps really run.

    `fit` runs `steps_per_epoch` steps an epoch, and its display says so even
    when `StopAtStep` ends the shorter last epoch early ("3/3" after 1 step);
    this counts them.
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_begin(self, epoch, logs=None):
        print(f"Epoch {epoch + 1}/{self.epochs}", flush=True)
        self._steps, self._start = 0, time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._start
        metrics = " - ".join(f"{k}: {float(v):.4f}" for k, v in (logs or {}).items())
        print(f"{self._steps}/{self._steps} - {seconds:.0f}s - {metrics}", flush=True)


class StopAtStep(keras.callbacks.Callback):
    """Ends `fit` once the optimizer has made `total_steps` updates.

    Keyed on `optimizer.iterations`, which `AtomicBackupAndRestore` restores, so a
    resumed run stops at the same update as an uninterrupted one.
    """

    def __init__(self, total_steps):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_end(self, batch, logs=None):
        # Under a tf.distribute strategy `iterations` wraps a MirroredVariable,
        # which int() refuses; NumPy reads its (replica-identical) value.
        iterations = keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        if int(iterations) >= self.total_steps:
            self.model.stop_training = True


_CALLBACK_HOOKS = tuple(
    f"on_{stage}_{moment}"
    for stage in ("train", "test", "predict", "epoch", "batch")
    for moment in ("begin", "end")
) + tuple(
    f"on_{stage}_batch_{moment}"
    for stage in ("train", "test", "predict")
    for moment in ("begin", "end")
)


class _OnClassifier(keras.callbacks.Callback):
    """Runs a caller's callback on the classifier a `GradientAccumulation`
    trains: what it saves (ModelCheckpoint, KerasTuner's SaveBestEpoch) is
    the classifier's, which loads into a classifier, and a stop it asks for
    (EarlyStopping) ends the wrapper's `fit`."""

    def __init__(self, callback, classifier):
        super().__init__()
        self.callback = callback
        self.classifier = classifier
        self.async_safe = getattr(callback, "async_safe", False)
        callback.set_model(classifier)
        # Only the hooks it has: Keras dispatches batch hooks asynchronously
        # while no callback has one.
        for hook in _CALLBACK_HOOKS:
            method = getattr(getattr(callback, hook), "__func__", None)
            if hook == "on_train_begin" or method is not getattr(
                keras.callbacks.Callback, hook
            ):
                setattr(self, hook, self._forward(hook))

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)

    def _forward(self, hook):
        def forward(*args, **kwargs):
            if hook == "on_train_begin":
                self.classifier.stop_training = False
            getattr(self.callback, hook)(*args, **kwargs)
            if getattr(self.classifier, "stop_training", False):
                self.model.stop_training = True

        return forward


@contextlib.contextmanager
def _lend_optimizer(classifier, optimizer):
    """`classifier.optimizer` is `optimizer` inside, what it was after: a
    classifier saved later does not carry its wrapper's optimizer."""
    missing = object()
    own = getattr(classifier, "optimizer", missing)
    classifier.optimizer = optimizer
    try:
        yield
    finally:
        if own is missing:
            del classifier.optimizer
        else:
            classifier.optimizer = own


def _match_classes(classifier, images, who, record=False):
    """`match_classifier_classes` for a `LabeledImages`; a `tf.data.Dataset`
    of `(image, int label)` has no class names and is taken as labelled in
    the head's order (as `rule.datasets` takes it)."""
    if images is None or not hasattr(images, "with_class_names"):
        return images
    return match_classifier_classes(classifier, images, who, record=record)


def _epoch_range(initial_epoch, final_epoch, epochs):
    """`(initial_epoch, final_epoch)` checked against the `epochs` of the
    schedule; `final_epoch` is `epochs` when None, and never past it."""
    initial_epoch = check_non_negative_int("initial_epoch", initial_epoch)
    if initial_epoch >= epochs:
        raise ValueError(
            f"initial_epoch={initial_epoch} leaves none of the {epochs} epochs "
            f"to run: the schedule is done. Expected an int below {epochs}."
        )
    if final_epoch is None:
        return initial_epoch, epochs
    final_epoch = check_positive_int("final_epoch", final_epoch)
    if final_epoch <= initial_epoch:
        raise ValueError(
            "final_epoch must be > initial_epoch: the epoch to stop after. "
            f"Received: initial_epoch={initial_epoch}, final_epoch={final_epoch}"
        )
    return initial_epoch, min(final_epoch, epochs)


def _start_at_update(trained, update):
    """Sets the optimizer's update count, which keys the learning rate."""
    if not trained.optimizer.built:
        trained.optimizer.build(trained.trainable_variables)
    trained.optimizer.iterations.assign(update)


def _epochs(rule, num_epochs, eval_every, has_validation):
    """`(epochs, steps_per_epoch)`: from `eval_every` or `num_epochs`."""
    if eval_every is None:
        return schedule_epochs(
            rule.total_steps,
            DEFAULT_NUM_EPOCHS if num_epochs is None else num_epochs,
        )
    eval_every = check_positive_int("eval_every", eval_every)
    if not has_validation:
        raise ValueError(
            "eval_every needs validation_images to evaluate. Received: "
            f"eval_every={eval_every}, validation_images=None"
        )
    if num_epochs is not None:
        raise ValueError(
            "Pass either num_epochs or eval_every: both set the length of "
            f"an epoch. Received: num_epochs={num_epochs}, "
            f"eval_every={eval_every}"
        )
    steps_per_epoch = min(eval_every, rule.total_steps)
    return math.ceil(rule.total_steps / steps_per_epoch), steps_per_epoch


def bit_fine_tune(
    classifier,
    train_images,
    rule,
    *,
    micro_batch_size=None,
    seed=None,
    strategy=None,
    num_epochs=None,
    initial_epoch=0,
    final_epoch=None,
    validation_images=None,
    eval_every=None,
    model_dir=None,
    jit_compile="auto",
    callbacks=None,
    verbose="auto",
    step_timeout_seconds=600,
    shard_files=False,
    keep_backup=False,
):
    """Trains `classifier` on `train_images` for the rule's full schedule.

    Every optimizer update sees `rule.batch_size` examples: either as one
    batch, or split into `rule.batch_size // micro_batch_size` parts whose
    gradients are summed (`ktb.distribute.GradientAccumulation`: same update,
    the activation memory of one part, works under every `tf.distribute`
    strategy). Use
    `rule.with_batch_size(b)` first to train with a smaller batch instead
    (the learning rate and schedule of batch 512, as the official code; or
    `scaling="linear"`).

    The `rule.total_steps` updates are cut into `num_epochs` epochs, or into
    epochs of `eval_every` updates (the last one may be shorter). The
    learning rate follows the optimizer's update count, so the split leaves
    the schedule unchanged; it only sets how often progress is logged,
    `validation_images` evaluated and a backup written (the official
    trainers' `--eval_every`). With `model_dir`, a backup is written
    after every epoch (`ktb.distribute.training_callbacks`: AtomicBackupAndRestore
    and TensorBoard), so the same call after a crash resumes at the last
    finished epoch; the backup is deleted once the schedule is done.

    `initial_epoch` and `final_epoch` run a part of the schedule, as `fit`'s
    `initial_epoch` and `epochs`: the optimizer's update count starts at
    `initial_epoch * steps_per_epoch`, so the learning rate continues where
    the previous part stopped (load that part's weights first). A tuner
    trial gets a budget in epochs this way (`ktb.tuning.BiTHyperModel`
    under Hyperband). Momentum starts again from zero.

    Under `MultiWorkerMirroredStrategy`, which Keras `fit` does not support
    (keras-team/keras#20585), the same model, loss, optimizer, schedule and
    batches go through `ktb.distribute.CustomTrainingLoop`: each global batch
    is split over the workers, and the checkpoints under `model_dir` play the
    role of the backup (the chief writes them; all workers restore them).

    Args:
        classifier: a `BiTClassifier` (built under `strategy.scope()` when a
            strategy is used).
        train_images: a `LabeledImages`, or a `tf.data.Dataset` of `(image,
            int label)` labelled in the head's class order (then classes are
            not matched by name, nor recorded on the classifier).
        rule: a `BiTHyperRule`; `rule.datasets` builds the batches.
        micro_batch_size: int or `None` (no accumulation). Must divide
            `rule.batch_size`. Not available under MultiWorkerMirroredStrategy.
        seed: int in `[0, 2**32 - 1]` or `None`. Seeds shuffling and
            augmentation.
        strategy: a `tf.distribute.Strategy` or `None`.
        num_epochs: int. Epochs the schedule is split into. Defaults to `10`
            (fewer when the schedule has fewer updates). Not with `eval_every`.
        initial_epoch: int. The epoch of that split to start at. Defaults to
            `0`. Not under MultiWorkerMirroredStrategy (its checkpoints set
            where it starts).
        final_epoch: int or None. The epoch to stop after; one past the
            schedule's last runs to its end. Defaults to `None` (the end).
        validation_images: the same kinds, or `None`. Evaluated (loss and
            accuracy, each example once, at the rule's `crop_size`) at the end
            of every epoch; reported as `val_loss` and `val_accuracy`.
        eval_every: int or `None`. Updates between evaluations of
            `validation_images`: epochs of that many updates.
        model_dir: str or `None`. Where backups (or checkpoints) and TensorBoard
            logs go; `None`: neither.
        jit_compile: passed to `compile` (or to `CustomTrainingLoop`).
        callbacks: list of Keras callbacks (run by `fit` and by
            `CustomTrainingLoop` alike). They see `classifier` (with the
            optimizer that trains it) also when batches are split.
        verbose: passed to `fit`.
        step_timeout_seconds: float. Under MultiWorkerMirroredStrategy: seconds
            without a finished step after which a worker exits with status 75
            (see `CustomTrainingLoop`). Defaults to `600`.
        shard_files: bool. Under MultiWorkerMirroredStrategy: each worker
            reads, decodes and augments only its share of the training examples
            (of an image folder, its files) instead of every global batch
            (`image_classification_pipeline(input_context=...)`). Each update
            still averages `rule.batch_size` examples, but not the ones one
            device would draw. Elsewhere there is one input pipeline and it
            changes nothing. Defaults to `False`.
        keep_backup: bool. Keep the backup (or the checkpoints) under
            `model_dir` when the schedule is done, so that a caller saving the
            model afterwards can delete them only once that save is complete:
            a crash during the save then still resumes (at the end). Defaults
            to `False` (deleted when training ends).

    Returns:
        A Keras `History`: `history.history` maps `loss` and `accuracy` (and
        `val_loss`, `val_accuracy` with `validation_images`) to one value per
        epoch run by this call; `history.epoch` lists those epochs (from
        `initial_epoch`).

    Example:
    >>> train = keras_transformer_bit.data.load_fashion_mnist("train").few_shot(5)
    >>> rule = keras_transformer_bit.recipes.bit_hyperrule(len(train), (28, 28))
    >>> clf = keras_transformer_bit.models.BiTClassifier.from_preset(
    ...     "bit_tiny", num_classes=10)
    >>> test = keras_transformer_bit.data.load_fashion_mnist("test")
    >>> bit_fine_tune(clf, train, rule, micro_batch_size=64, seed=0,  # doctest: +SKIP
    ...               validation_images=test, eval_every=100,
    ...               model_dir="runs/fmnist")
    """
    from keras_transformer_bit import distribute

    check_seed(seed)
    # Labels must index the head's outputs (by class name where the classifier
    # has names), checked before any long work; the classifier then carries
    # its class names and the resolution it is fine-tuned at to evaluation and
    # export.
    train_images = _match_classes(
        classifier, train_images, "bit_fine_tune", record=True
    )
    validation_images = _match_classes(
        classifier, validation_images, "bit_fine_tune (validation_images)"
    )
    epochs, steps_per_epoch = _epochs(
        rule, num_epochs, eval_every, validation_images is not None
    )
    initial_epoch, epochs = _epoch_range(initial_epoch, final_epoch, epochs)
    if hasattr(classifier, "image_size"):
        classifier.image_size = rule.crop_size
    num_splits = (
        1
        if micro_batch_size is None
        else rule.gradient_accumulation_steps_for(micro_batch_size)
    )
    # Training batches of rule.batch_size, split inside the step when
    # accumulating; evaluation batches the size of one micro-batch.
    dataset, validation_data = rule.datasets(
        train_images,
        validation_images,
        num_classes=classifier.num_classes,
        seed=seed,
        eval_batch_size=micro_batch_size,
    )
    if (
        shard_files
        and strategy is not None
        and distribute.needs_custom_training_loop(strategy)
    ):

        def dataset(input_context):
            return rule.datasets(
                train_images,
                num_classes=classifier.num_classes,
                seed=seed,
                input_context=input_context,
            )[0]

    if strategy is not None and distribute.needs_custom_training_loop(strategy):
        if num_splits > 1:
            raise ValueError(
                "Under MultiWorkerMirroredStrategy bit_fine_tune trains with "
                "CustomTrainingLoop, which does not split batches: every worker "
                "already holds only its share of each batch. Received: "
                f"micro_batch_size={micro_batch_size}"
            )
        if initial_epoch:
            raise ValueError(
                "Under MultiWorkerMirroredStrategy bit_fine_tune trains with "
                "CustomTrainingLoop, which starts where its checkpoints under "
                "model_dir say. Expected initial_epoch=0. Received: "
                f"initial_epoch={initial_epoch}"
            )
        with _naming_undecodable_files(train_images, validation_images):
            return _fine_tune_with_custom_loop(
                classifier,
                dataset,
                validation_data,
                rule,
                strategy,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                model_dir=model_dir,
                jit_compile=jit_compile,
                verbose=verbose,
                step_timeout_seconds=step_timeout_seconds,
                keep_backup=keep_backup,
                callbacks=callbacks,
            )
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        trained = (
            _gradient_accumulation(classifier, num_splits)
            if num_splits > 1
            else classifier
        )
        compile_for_hyperrule(trained, rule, jit_compile=jit_compile)
        if initial_epoch:
            _start_at_update(trained, initial_epoch * steps_per_epoch)
    callbacks = list(callbacks or [])
    lent_optimizer = contextlib.nullcontext()
    if trained is not classifier and callbacks:
        # The callbacks see the classifier, with the optimizer that trains it.
        callbacks = [_OnClassifier(callback, classifier) for callback in callbacks]
        lent_optimizer = _lend_optimizer(classifier, trained.optimizer)
    if epochs * steps_per_epoch > rule.total_steps:
        callbacks.append(StopAtStep(rule.total_steps))
        if verbose not in (0, "auto"):  # per-epoch lines: say the real steps
            callbacks.append(_EpochLog(epochs))
            verbose = 0
    if model_dir:
        callbacks += distribute.training_callbacks(
            model_dir, delete_backup_when_done=not keep_backup
        )
    with lent_optimizer, _naming_undecodable_files(train_images, validation_images):
        return trained.fit(
            dataset,
            steps_per_epoch=steps_per_epoch,
            epochs=epochs,
            initial_epoch=initial_epoch,
            validation_data=validation_data,
            shuffle=False,  # the pipeline shuffles
            callbacks=callbacks,
            verbose=verbose,
        )


def _fine_tune_with_custom_loop(
    classifier,
    dataset,
    validation_data,
    rule,
    strategy,
    *,
    epochs,
    steps_per_epoch,
    model_dir,
    jit_compile,
    verbose,
    step_timeout_seconds,
    keep_backup,
    callbacks,
):
    from keras_transformer_bit import distribute

    with strategy.scope():
        optimizer = rule.optimizer()
    loop = distribute.CustomTrainingLoop(
        classifier,
        optimizer,
        keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        strategy=strategy,
        model_dir=model_dir,
        jit_compile=jit_compile,
        step_timeout_seconds=step_timeout_seconds,
    )
    # Every worker runs the whole (seeded, hence identical) pipeline and the
    # loop keeps its slice of each global batch: the batches of one device.
    history = loop.fit(
        dataset,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        total_steps=rule.total_steps,
        validation_data=validation_data,
        verbose=0 if verbose == 0 else 1,
        callbacks=callbacks,
    )
    if not keep_backup:
        loop.delete_checkpoints()  # like BackupAndRestore once training is done
    return history


def bit_evaluate(classifier, test_images, crop_size=None, batch_size=256, verbose=0):
    """Top-1 accuracy over every example of `test_images`, each seen once.

    Classes are matched by name when the classifier has `class_names`
    (`match_classifier_classes`): a test set missing a class, or holding a
    subset of the classes, is scored against the classifier's own labels.

    Args:
        classifier: a `BiTClassifier` (or a Keras classifier with
            `num_classes`) taking float RGB `[0, 255]` images.
        test_images: a `LabeledImages`.
        crop_size: int or None. Evaluation images are resized to this square
            size. None: the classifier's `image_size` (the resolution it was
            fine-tuned at).
        batch_size: int.
        verbose: passed to `predict`.

    Returns:
        dict with `accuracy`, `loss` and `num_examples`.
    """
    test_images = match_classifier_classes(classifier, test_images, "bit_evaluate")
    if crop_size is None:
        image_size = getattr(classifier, "image_size", None)
        if image_size is None or image_size[0] != image_size[1]:
            raise ValueError(
                "bit_evaluate needs crop_size: the classifier records no square "
                f"image_size. Received: image_size={image_size}"
            )
        crop_size = image_size[0]
    dataset = _data().image_classification_pipeline(
        test_images,
        classifier_num_classes(classifier),
        training=False,
        batch_size=batch_size,
        crop_size=crop_size,
    )
    # predict() keeps the order and the last partial batch, so the logits line
    # up with `test_images.labels` one to one.
    with _naming_undecodable_files(test_images):
        logits = classifier.predict(dataset, verbose=verbose)
    logits = np.asarray(logits, "float64")
    labels = test_images.labels
    if len(logits) != len(labels):
        raise RuntimeError(f"evaluated {len(logits)} examples, expected {len(labels)}")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return {
        "accuracy": float(np.mean(logits.argmax(-1) == labels)),
        "loss": float(-np.mean(log_probabilities[np.arange(len(labels)), labels])),
        "num_examples": len(labels),
    }
