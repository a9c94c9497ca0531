"""Fine-tune and evaluate a BiT classifier with the BiT-HyperRule."""

import contextlib

import keras
import numpy as np

from keras_transformer_bit.recipes.gradient_accumulation import GradientAccumulation


def _data():
    # tf.data lives in keras_transformer_bit.data; import it on use.
    from keras_transformer_bit import data

    return data


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


def bit_fine_tune(
    classifier,
    train_images,
    rule,
    *,
    micro_batch_size=None,
    seed=None,
    strategy=None,
    jit_compile="auto",
    callbacks=None,
    verbose="auto",
):
    """Trains `classifier` on `train_images` for the rule's full schedule.

    Every optimizer update sees `rule.batch_size` examples: either as one
    batch, or split into `rule.batch_size // micro_batch_size` parts whose
    gradients are summed (`GradientAccumulation`: same update, the activation
    memory of one part, works under every `tf.distribute` strategy). Use
    `rule.scaled_to_batch_size(b)` first to train with a smaller batch and a
    linearly scaled learning rate and schedule instead.

    Args:
        classifier: a `BiTClassifier` (built under `strategy.scope()` when a
            strategy is used).
        train_images: a `LabeledImages`.
        rule: a `BiTHyperRule`.
        micro_batch_size: int or `None` (no accumulation). Must divide
            `rule.batch_size`.
        seed: int or `None`. Seeds shuffling and augmentation.
        strategy: a `tf.distribute.Strategy` or `None`.
        jit_compile: passed to `compile`.
        callbacks: list of Keras callbacks.
        verbose: passed to `fit`.

    Returns:
        The Keras `History`.

    Example:
    >>> train = keras_transformer_bit.data.load_fashion_mnist("train").few_shot(5)
    >>> rule = keras_transformer_bit.recipes.bit_hyperrule(len(train), (28, 28))
    >>> clf = keras_transformer_bit.models.BiTClassifier.from_preset(
    ...     "bit_tiny", num_classes=10)
    >>> bit_fine_tune(clf, train, rule, micro_batch_size=64, seed=0)
    """
    num_splits = (
        1
        if micro_batch_size is None
        else rule.gradient_accumulation_steps_for(micro_batch_size)
    )
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        trained = (
            GradientAccumulation(classifier, num_splits)
            if num_splits > 1
            else classifier
        )
        compile_for_hyperrule(trained, rule, jit_compile=jit_compile)
    dataset = _data().image_classification_pipeline(
        train_images,
        classifier.num_classes,
        training=True,
        batch_size=rule.batch_size,  # split inside the step when accumulating
        crop_size=rule.crop_size,
        resize_size=rule.resize_size,
        mixup_alpha=rule.mixup_alpha,
        seed=seed,
        cache=len(train_images) <= 50_000,
    )
    return trained.fit(
        dataset,
        steps_per_epoch=rule.total_steps,
        epochs=1,
        shuffle=False,  # the pipeline shuffles
        callbacks=callbacks,
        verbose=verbose,
    )


def bit_evaluate(classifier, test_images, crop_size, batch_size=256, verbose=0):
    """Top-1 accuracy over every example of `test_images`, each seen once.

    Args:
        classifier: a Keras classifier taking float RGB `[0, 255]` images.
        test_images: a `LabeledImages`.
        crop_size: int. Evaluation images are resized to this square size.
        batch_size: int.
        verbose: passed to `predict`.

    Returns:
        dict with `accuracy`, `loss` and `num_examples`.
    """
    dataset = _data().image_classification_pipeline(
        test_images,
        test_images.num_classes,
        training=False,
        batch_size=batch_size,
        crop_size=crop_size,
    )
    # predict() keeps the order and the last partial batch, so the logits line
    # up with `test_images.labels` one to one.
    logits = np.asarray(classifier.predict(dataset, verbose=verbose), "float64")
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
