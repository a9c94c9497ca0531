import dataclasses

import keras
import numpy as np
import pytest

from keras_transformer_bit.recipes import BiTSchedule, bit_hyperrule
from keras_transformer_bit.recipes.bit_hyperrule import (
    bit_mixup_alpha,
    bit_resolution,
    bit_schedule_supports,
)

SMALL = (100, 200, 300, 400, 500)
MEDIUM = (500, 3000, 6000, 9000, 10_000)
LARGE = (500, 6000, 12_000, 18_000, 20_000)


@pytest.mark.parametrize(
    "image_size, expected",
    [
        ((28, 28), (160, 128)),
        ((32, 32), (160, 128)),
        ((95, 96), (160, 128)),  # area 9120 < 9216
        ((96, 96), (512, 480)),  # area 9216: not smaller
        ((48, 200), (512, 480)),  # area, not side, decides
        ((224, 224), (512, 480)),
    ],
)
def test_resolution_table(image_size, expected):
    assert bit_resolution(image_size) == expected


@pytest.mark.parametrize(
    "dataset_size, supports, alpha",
    [
        (1, SMALL, 0.0),
        (5000, SMALL, 0.0),
        (19_999, SMALL, 0.0),
        (20_000, MEDIUM, 0.1),
        (499_999, MEDIUM, 0.1),
        (500_000, LARGE, 0.1),
        (1_281_167, LARGE, 0.1),
    ],
)
def test_schedule_and_mixup_table(dataset_size, supports, alpha):
    assert bit_schedule_supports(dataset_size) == supports
    assert bit_mixup_alpha(dataset_size) == alpha
    rule = bit_hyperrule(dataset_size, (32, 32))
    assert rule.supports == supports
    assert rule.mixup_alpha == alpha
    assert rule.total_steps == supports[-1]
    assert (rule.base_learning_rate, rule.momentum) == (0.003, 0.9)
    assert (rule.weight_decay, rule.batch_size) == (0.0, 512)


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 0.0),
        (25, 0.003 * 25 / 100),
        (99, 0.003 * 99 / 100),
        (100, 0.003),
        (200, 0.003),  # a support is passed only strictly after it
        (201, 0.0003),
        (300, 0.0003),
        (301, 0.00003),
        (401, 0.000003),
        (500, 0.000003),
    ],
)
def test_schedule_official_semantics(step, expected):
    schedule = BiTSchedule(0.003, SMALL)
    np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-6)


def _official_lr(step, supports, base_lr):
    # The released rule, written as a plain loop for comparison.
    if step < supports[0]:
        return base_lr * step / supports[0]
    for support in supports[1:]:
        if support < step:
            base_lr /= 10
    return base_lr


def test_schedule_matches_loop_everywhere():
    schedule = BiTSchedule(0.003, MEDIUM)
    steps = np.arange(0, 10_000, 7)
    actual = np.array([float(x) for x in keras.ops.convert_to_numpy(schedule(steps))])
    expected = [_official_lr(int(s), MEDIUM, 0.003) for s in steps]
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-12)


def test_schedule_serialization_and_accumulation_steps():
    schedule = BiTSchedule(0.01, (4, 8, 12), gradient_accumulation_steps=4)
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule)
    )
    assert isinstance(revived, BiTSchedule)
    assert revived.get_config() == schedule.get_config()
    # Micro-steps 16..19 are update 4: the end of the warm-up.
    np.testing.assert_allclose(float(revived(15)), 0.01 * 3 / 4, rtol=1e-6)
    np.testing.assert_allclose(float(revived(16)), 0.01, rtol=1e-6)


def test_batch_size_official_by_default_linear_on_request():
    rule = bit_hyperrule(5000, (28, 28))
    # bit_tf2/train.py (google-research/big_transfer) trains any --batch with
    # the batch-512 supports and --base_lr: the scaling is commented out there.
    official = rule.with_batch_size(64)
    assert official.batch_size == 64
    assert official.supports == SMALL
    assert official.base_learning_rate == 0.003
    assert rule.with_batch_size(64, scaling="official") == official
    linear = rule.with_batch_size(64, scaling="linear")
    assert linear == rule.scaled_to_batch_size(64)
    assert linear.supports == (800, 1600, 2400, 3200, 4000)
    np.testing.assert_allclose(linear.base_learning_rate, 0.003 * 64 / 512)
    with pytest.raises(ValueError, match="scaling must be one of"):
        rule.with_batch_size(64, scaling="sqrt")
    with pytest.raises(ValueError, match="batch_size"):
        rule.with_batch_size(0)


def test_batch_size_scaling():
    rule = bit_hyperrule(5000, (28, 28)).scaled_to_batch_size(64)
    assert rule.batch_size == 64
    assert rule.supports == (800, 1600, 2400, 3200, 4000)
    np.testing.assert_allclose(rule.base_learning_rate, 0.003 * 64 / 512)
    back = rule.scaled_to_batch_size(512)
    assert back.supports == SMALL
    np.testing.assert_allclose(back.base_learning_rate, 0.003)
    # Rounds up so the run never sees fewer examples.
    assert bit_hyperrule(5000, (28, 28)).scaled_to_batch_size(48).supports[0] == 1067


def test_gradient_accumulation_equals_big_batch():
    """k micro-batches with accumulation give the same weights as batch k*b."""
    rule = dataclasses.replace(
        bit_hyperrule(100, (8, 8)),
        supports=(2, 3, 4, 6),
        base_learning_rate=0.5,
        batch_size=8,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 5)).astype("float32")
    y = rng.normal(size=(48, 3)).astype("float32")

    def train(batch_size, accumulation, optimizer=None):
        keras.utils.set_random_seed(1)
        model = keras.Sequential(
            [keras.Input((5,)), keras.layers.Dense(4, "tanh"), keras.layers.Dense(3)]
        )
        model.compile(optimizer=optimizer or rule.optimizer(accumulation), loss="mse")
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        return model

    big = train(8, 1)
    accumulated = train(2, rule.gradient_accumulation_steps_for(2))
    assert int(big.optimizer.iterations) == 6
    assert int(accumulated.optimizer.iterations) == 6
    for a, b in zip(big.get_weights(), accumulated.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # Without telling the schedule, the learning rate would run 4x too fast.
    unaware_schedule = keras.optimizers.SGD(
        rule.learning_rate_schedule(1), momentum=0.9, gradient_accumulation_steps=4
    )
    wrong = train(2, 4, optimizer=unaware_schedule)
    assert not np.allclose(wrong.get_weights()[0], big.get_weights()[0], atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dataset_size": 0, "image_size": (32, 32)}, "dataset_size"),
        ({"dataset_size": 10.5, "image_size": (32, 32)}, "dataset_size"),
        ({"dataset_size": 100, "image_size": (32,)}, "image_size"),
        ({"dataset_size": 100, "image_size": (0, 32)}, "image_size"),
        ({"dataset_size": 100, "image_size": None}, "image_size"),
    ],
)
def test_bad_rule_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bit_hyperrule(**kwargs)


def test_bad_schedule_and_scaling_input():
    with pytest.raises(ValueError, match="supports"):
        BiTSchedule(0.003, (100, 100, 200))
    with pytest.raises(ValueError, match="base_learning_rate"):
        BiTSchedule(0.0, SMALL)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        BiTSchedule(0.003, SMALL, gradient_accumulation_steps=0)
    rule = bit_hyperrule(100, (32, 32))
    with pytest.raises(ValueError, match="batch_size"):
        rule.scaled_to_batch_size(0)
    with pytest.raises(ValueError, match="strictly increasing"):
        rule.scaled_to_batch_size(512 * 200)
    with pytest.raises(ValueError, match="micro_batch_size"):
        rule.gradient_accumulation_steps_for(100)


def test_datasets_builds_the_training_and_evaluation_batches():
    from keras_transformer_bit.data import LabeledImages, image_classification_pipeline

    rule = dataclasses.replace(
        bit_hyperrule(12, (8, 8)).with_crop_size(8), batch_size=4, mixup_alpha=0.5
    )
    assert (rule.resize_size, rule.crop_size) == (10, 8)
    rng = np.random.default_rng(0)
    train_images = LabeledImages(
        rng.integers(0, 255, (12, 8, 8), "uint8"), np.arange(12) % 3
    )
    eval_images = LabeledImages(
        rng.integers(0, 255, (5, 8, 8), "uint8"), [2, 1, 0, 2, 1]
    )
    train, evaluation = rule.datasets(train_images, eval_images, seed=0)
    # Training: the rule's batch, crop, resize and MixUp, as the pipeline.
    expected = image_classification_pipeline(
        train_images,
        3,
        training=True,
        batch_size=4,
        crop_size=8,
        resize_size=10,
        mixup_alpha=0.5,
        seed=0,
    )
    for (images, labels), (want_images, want_labels) in zip(
        train.take(3), expected.take(3)
    ):
        assert images.shape == (4, 8, 8, 3) and labels.shape == (4, 3)
        np.testing.assert_array_equal(images.numpy(), want_images.numpy())
        np.testing.assert_array_equal(labels.numpy(), want_labels.numpy())
    # Evaluation: every example once, in order, resized to the crop size.
    batches = list(evaluation)
    assert [len(images) for images, _ in batches] == [4, 1]
    assert batches[0][0].shape == (4, 8, 8, 3)
    labels = np.concatenate([np.argmax(y, -1) for _, y in batches])
    np.testing.assert_array_equal(labels, [2, 1, 0, 2, 1])
    # No evaluation set: None; a wider head: longer one-hot labels.
    train, evaluation = rule.datasets(
        train_images, num_classes=5, eval_batch_size=2, seed=0
    )
    assert evaluation is None
    assert next(iter(train))[1].shape == (4, 5)
    _, evaluation = rule.datasets(train_images, eval_images, eval_batch_size=2)
    assert [len(images) for images, _ in evaluation] == [2, 2, 1]


def test_datasets_match_evaluation_classes_by_name():
    """A test folder missing a class keeps the others' labels (found by a
    user trial: labels were numbered by position, 0.25 instead of 0.625)."""
    from keras_transformer_bit.data import LabeledImages

    rule = dataclasses.replace(bit_hyperrule(8, (8, 8)).with_crop_size(8), batch_size=4)
    pixels = np.zeros((8, 8, 8), "uint8")
    names = ["apple", "banana", "grape", "kiwi"]
    train_images = LabeledImages(pixels, np.arange(8) % 4, names)
    # The test folder has no "banana": its own numbering is 0, 1, 2.
    eval_images = LabeledImages(
        pixels[:6], [0, 0, 1, 1, 2, 2], ["apple", "grape", "kiwi"]
    )
    _, evaluation = rule.datasets(train_images, eval_images)
    labels = np.concatenate([np.argmax(y, -1) for _, y in evaluation])
    np.testing.assert_array_equal(labels, [0, 0, 2, 2, 3, 3])
    stranger = LabeledImages(pixels[:2], [0, 1], ["apple", "cherry"])
    with pytest.raises(ValueError, match="cherry"):
        rule.datasets(train_images, stranger)


def test_datasets_needs_num_classes_for_plain_datasets():
    import tensorflow as tf

    rule = bit_hyperrule(4, (8, 8))
    plain = tf.data.Dataset.from_tensor_slices((np.zeros((4, 8, 8), "uint8"), [0] * 4))
    with pytest.raises(ValueError, match="num_classes"):
        rule.datasets(plain)
    with pytest.raises(ValueError, match="eval_batch_size"):
        rule.datasets(plain, num_classes=2, eval_batch_size=0)


def test_an_int_image_size_is_a_square():
    assert bit_hyperrule(10, 32) == bit_hyperrule(10, (32, 32))
