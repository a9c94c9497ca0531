"""Tiny models and synthetic data shared by the distribute tests and worker script.

Everything is deterministic (fixed seeds, no dropout) so that runs on one
device, on two mirrored replicas and on two worker processes can be compared
weight by weight.
"""

import keras
import numpy as np
import tensorflow as tf

import keras_transformer_bit as ktb

TASKS = ("dense", "transformer", "bit")
VOCABULARY_SIZE = 40
SEQUENCE_LENGTH = 6
IMAGE_SIZE = 16


def make_model(task):
    keras.utils.set_random_seed(1)
    if task == "dense":
        return keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(8, "tanh"), keras.layers.Dense(3)]
        )
    if task == "transformer":
        return ktb.models.Transformer.from_preset(
            "transformer_tiny",
            vocabulary_size=VOCABULARY_SIZE,
            num_layers=1,
            hidden_dim=16,
            intermediate_dim=32,
            num_heads=2,
            dropout=0.0,
            max_sequence_length=16,
        )
    if task == "bit":
        return ktb.models.BiTClassifier.from_preset("bit_tiny", num_classes=3)
    raise ValueError(f"task must be one of {TASKS}. Received: task={task!r}")


def make_loss(task):
    if task == "transformer":
        return ktb.recipes.LabelSmoothedCrossEntropy(label_smoothing=0.1)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def make_optimizer(task):
    return keras.optimizers.SGD(0.05 if task == "bit" else 0.1, momentum=0.9)


def make_arrays(task, num_examples=32):
    rng = np.random.default_rng(7)
    if task == "dense":
        x = rng.normal(size=(num_examples, 6)).astype("float32")
        y = rng.integers(0, 3, size=(num_examples,)).astype("int32")
        return x, y
    if task == "transformer":
        source = rng.integers(4, VOCABULARY_SIZE, (num_examples, SEQUENCE_LENGTH))
        target = rng.integers(4, VOCABULARY_SIZE, (num_examples, SEQUENCE_LENGTH + 1))
        lengths = rng.integers(3, SEQUENCE_LENGTH + 1, (num_examples,))
        for i, n in enumerate(lengths):  # right padding of varying length
            source[i, n:] = 0
            target[i, n + 1 :] = 0
        x = {
            "encoder_inputs": source.astype("int32"),
            "decoder_inputs": target[:, :-1].astype("int32"),
        }
        return x, target[:, 1:].astype("int32")
    x = rng.uniform(0, 255, size=(num_examples, IMAGE_SIZE, IMAGE_SIZE, 3))
    y = rng.integers(0, 3, size=(num_examples,)).astype("int32")
    return x.astype("float32"), y


def make_dataset(task, global_batch_size, num_examples=32):
    x, y = make_arrays(task, num_examples)
    # Global batches; CustomTrainingLoop gives each worker its slice of each.
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(
        global_batch_size, drop_remainder=True
    )
