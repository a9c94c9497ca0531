import dataclasses

import keras
import numpy as np
import pytest

from keras_transformer_bit.data import LabeledImages
from keras_transformer_bit.models import BiTClassifier
from keras_transformer_bit.recipes import bit_evaluate, bit_fine_tune, bit_hyperrule
from keras_transformer_bit.recipes.bit_fine_tune import schedule_epochs
from tests.helpers import LearningRates


def test_shortened_and_with_crop_size():
    rule = bit_hyperrule(100, (28, 28))
    assert rule.shortened(0.05).supports == (5, 10, 15, 20, 25)
    assert rule.shortened(0.001).supports == (1, 2, 3, 4, 5)  # kept increasing
    smaller = rule.with_crop_size(32)
    assert (smaller.resize_size, smaller.crop_size) == (40, 32)  # 160/128 ratio
    with pytest.raises(ValueError, match="fraction"):
        rule.shortened(0)
    with pytest.raises(ValueError, match="crop_size"):
        rule.with_crop_size(0)


def test_schedule_epochs_split_the_updates():
    # (epochs, steps per epoch); the last epoch runs what is left.
    assert schedule_epochs(500, 10) == (10, 50)
    assert schedule_epochs(64, 6) == (6, 11)  # 5 x 11 + 9
    assert schedule_epochs(7, 3) == (3, 3)  # 3 + 3 + 1
    assert schedule_epochs(7, 10) == (7, 1)  # never an empty epoch
    assert schedule_epochs(1, 1) == (1, 1)
    with pytest.raises(ValueError, match="num_epochs must be a positive int"):
        schedule_epochs(500, 0)
    with pytest.raises(ValueError, match="num_epochs must be a positive int"):
        schedule_epochs(500, 2.5)


def test_evaluate_counts_every_example_once():
    # Class 0 for white images, 1 for black ones; 2 of 10 labels are wrong.
    images = np.repeat(np.array([255, 0], "uint8"), 5)[:, None, None] * np.ones(
        (1, 4, 4), "uint8"
    )
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 0])
    inputs = keras.Input((4, 4, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled))
    model.layers[-1].set_weights(
        [np.array([[1, -1]] * 3, "float32") / 3, np.array([-127.5, 127.5], "float32")]
    )
    result = bit_evaluate(
        model, LabeledImages(images, labels), crop_size=4, batch_size=4
    )
    assert result["num_examples"] == 10
    assert result["accuracy"] == pytest.approx(0.8)


@pytest.mark.large
def test_fine_tune_runs_the_schedule_with_accumulation():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    data = LabeledImages(rng.integers(0, 255, (8, 12, 12), "uint8"), np.arange(8) % 2)
    rule = dataclasses.replace(
        bit_hyperrule(len(data), data.image_size).with_crop_size(16),
        supports=(1, 2, 3),
        batch_size=8,
    )
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    history = bit_fine_tune(
        classifier,
        data,
        rule,
        micro_batch_size=4,
        seed=0,
        num_epochs=2,
        verbose=0,
        jit_compile=False,
    )
    # 3 updates of 8 = 2 x 4 images, as epochs of 2 and 1 updates.
    assert int(history.model.optimizer.iterations) == 3
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"][-1])
    assert np.any(classifier.head.kernel.numpy() != 0)  # the zero head moved


def _tiny_rule(data, supports, batch_size):
    return dataclasses.replace(
        bit_hyperrule(len(data), data.image_size).with_crop_size(16),
        supports=supports,
        batch_size=batch_size,
    )


def test_fine_tune_evaluates_every_eval_every_updates():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    train = LabeledImages(rng.integers(0, 255, (8, 12, 12), "uint8"), np.arange(8) % 2)
    test = LabeledImages(rng.integers(0, 255, (5, 12, 12), "uint8"), [0, 1, 0, 1, 1])
    rule = _tiny_rule(train, (1, 2, 3, 4, 5), batch_size=4)
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    history = bit_fine_tune(
        classifier,
        train,
        rule,
        validation_images=test,
        eval_every=2,
        seed=0,
        verbose=0,
        jit_compile=False,
    )
    # 5 updates, an evaluation after updates 2, 4 and 5 (the end), as the
    # official trainer's --eval_every.
    assert int(history.model.optimizer.iterations) == 5
    assert len(history.history["val_accuracy"]) == 3
    accuracy = bit_evaluate(classifier, test, crop_size=16)["accuracy"]
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy)


def test_fine_tune_refuses_bad_evaluation_arguments():
    data = LabeledImages(np.zeros((4, 12, 12), "uint8"), [0, 1, 0, 1])
    rule = _tiny_rule(data, (1, 2, 3), batch_size=4)
    classifier = keras.Sequential([keras.layers.Dense(2)])
    classifier.num_classes = 2
    with pytest.raises(ValueError, match="eval_every needs validation_images"):
        bit_fine_tune(classifier, data, rule, eval_every=1)
    with pytest.raises(ValueError, match="eval_every must be a positive int"):
        bit_fine_tune(classifier, data, rule, validation_images=data, eval_every=0)
    with pytest.raises(ValueError, match="either num_epochs or eval_every"):
        bit_fine_tune(
            classifier, data, rule, validation_images=data, eval_every=1, num_epochs=2
        )


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5])
def test_a_seed_out_of_range_is_refused(seed):
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    data = LabeledImages(np.zeros((4, 8, 8), "uint8"), [0, 1, 0, 1])
    rule = dataclasses.replace(  # a few steps, were the seed not refused
        bit_hyperrule(len(data), data.image_size).with_crop_size(8),
        supports=(1, 2, 3),
        batch_size=4,
    )
    with pytest.raises(
        ValueError, match=r"seed must be an int in \[0, 2\*\*32 - 1\] \(a random seed\)"
    ):
        bit_fine_tune(classifier, data, rule, seed=seed)


def test_a_jpeg_that_fails_to_decode_is_named(tmp_path):
    # Cut short and given an end marker: it passes the checks on the bytes
    # and fails only in the decoder, whose error names no file.
    import tensorflow as tf

    from keras_transformer_bit.data import load_image_folder

    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        for i in range(2):
            pixels = rng.integers(0, 255, (16, 16, 3), "uint8")
            jpeg = bytes(tf.io.encode_jpeg(pixels).numpy())
            (tmp_path / name / f"{i}.jpg").write_bytes(jpeg)
    (tmp_path / "dogs" / "1.jpg").write_bytes(jpeg[: len(jpeg) // 2] + b"\xff\xd9")
    data = load_image_folder(str(tmp_path))
    with pytest.raises(ValueError, match=r"cannot be decoded.*dogs/1\.jpg"):
        data.image_size  # decodes the first images
    rule = dataclasses.replace(
        bit_hyperrule(len(data), (16, 16)).with_crop_size(8),
        supports=(1, 2, 3),
        batch_size=4,
    )
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    with pytest.raises(ValueError, match=r"cannot be decoded.*dogs/1\.jpg"):
        bit_fine_tune(classifier, data, rule, seed=0, verbose=0, jit_compile=False)
    with pytest.raises(ValueError, match=r"dogs/1\.jpg"):
        bit_evaluate(classifier, data, crop_size=8)


def test_part_of_the_schedule_continues_its_learning_rate():
    # 5 updates in 3 epochs of 2, 2 and 1: epoch 1 alone, then epochs 2 to 3
    # (a budget past the schedule's end runs to the end, not beyond).
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    train = LabeledImages(rng.integers(0, 255, (8, 12, 12), "uint8"), np.arange(8) % 2)
    rule = _tiny_rule(train, (1, 2, 3, 4, 5), batch_size=4)
    schedule = rule.learning_rate_schedule()
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    kwargs = dict(seed=0, num_epochs=3, verbose=0, jit_compile=False)
    first_rates, rest_rates = LearningRates(), LearningRates()
    first = bit_fine_tune(
        classifier, train, rule, final_epoch=1, callbacks=[first_rates], **kwargs
    )
    assert first.epoch == [0] and int(first.model.optimizer.iterations) == 2
    rest = bit_fine_tune(
        classifier,
        train,
        rule,
        initial_epoch=1,
        final_epoch=9,
        callbacks=[rest_rates],
        **kwargs,
    )
    assert rest.epoch == [1, 2] and int(rest.model.optimizer.iterations) == 5
    expected = [float(schedule(step)) for step in range(5)]
    assert first_rates.rates + rest_rates.rates == pytest.approx(expected)


def test_bad_epoch_ranges_are_refused():
    data = LabeledImages(np.zeros((4, 12, 12), "uint8"), [0, 1, 0, 1])
    rule = _tiny_rule(data, (1, 2, 3), batch_size=4)  # 3 epochs of 1 update
    classifier = keras.Sequential([keras.layers.Dense(2)])
    classifier.num_classes = 2
    with pytest.raises(ValueError, match="initial_epoch must be an int >= 0"):
        bit_fine_tune(classifier, data, rule, initial_epoch=-1)
    with pytest.raises(
        ValueError, match=r"initial_epoch=3 leaves none of the 3 epochs to run"
    ):
        bit_fine_tune(classifier, data, rule, initial_epoch=3)
    with pytest.raises(
        ValueError, match=r"final_epoch must be > initial_epoch.*final_epoch=1"
    ):
        bit_fine_tune(classifier, data, rule, initial_epoch=1, final_epoch=1)


def test_a_dataset_of_images_and_labels_is_trained_on():
    # As rule.datasets takes: (image, int label) in the head's class order.
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (8, 12, 12, 3), "uint8")
    labels = np.arange(8) % 2
    data = LabeledImages(images, labels)
    rule = _tiny_rule(data, (1, 2), batch_size=4)
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    initial = classifier.get_weights()
    kwargs = dict(seed=0, verbose=0, jit_compile=False)
    bit_fine_tune(classifier, data, rule, **kwargs)
    from_images = classifier.get_weights()
    classifier.set_weights(initial)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    history = bit_fine_tune(
        classifier, dataset, rule, validation_images=dataset, **kwargs
    )
    assert int(history.model.optimizer.iterations) == 2
    assert len(history.history["val_accuracy"]) == 2
    for got, want in zip(classifier.get_weights(), from_images):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


class _StopAfterFirstUpdate(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.model.stop_training = True


def test_callbacks_see_the_classifier_when_batches_are_split(tmp_path):
    # Split batches train a GradientAccumulation wrapper; the caller's
    # callbacks still get the classifier they passed: its weights file loads
    # into a classifier, its optimizer is the one training, a stop it asks
    # for ends training.
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    train = LabeledImages(rng.integers(0, 255, (8, 12, 12), "uint8"), np.arange(8) % 2)
    rule = _tiny_rule(train, (1, 2, 3), batch_size=4)
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    path = str(tmp_path / "best.weights.h5")
    rates = LearningRates()
    callbacks = [
        keras.callbacks.ModelCheckpoint(path, save_weights_only=True),
        rates,
        _StopAfterFirstUpdate(),
    ]
    history = bit_fine_tune(
        classifier, train, rule, micro_batch_size=2, seed=0, num_epochs=1,
        callbacks=callbacks, verbose=0, jit_compile=False,
    )  # fmt: skip
    assert int(history.model.optimizer.iterations) == 1
    assert rates.rates == pytest.approx([float(rule.learning_rate_schedule()(0))])
    assert not hasattr(classifier, "optimizer")  # lent for training only
    reloaded = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    reloaded.load_weights(path)
    for got, want in zip(reloaded.get_weights(), classifier.get_weights()):
        np.testing.assert_array_equal(got, want)
