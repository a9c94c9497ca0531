"""A BiT trial trains through `bit_fine_tune`, the code `BiTRun` runs."""

import keras
import keras_tuner
import numpy as np
import pytest
from keras_tuner.src.engine import tuner_utils

from keras_transformer_bit.data import LabeledImages
from keras_transformer_bit.models import BiTClassifier
from keras_transformer_bit.recipes import bit_fine_tune
from keras_transformer_bit.tuning import BiTHyperModel, bit_hypermodel, make_tuner
from tests.helpers import LearningRates

# 8 images of 12 x 12, 2 classes: the rule at 0.002 of its schedule makes 5
# updates of 4 at crop 16 (an eighth of its 128).
SEARCH_SPACE = {"resolution_multiplier": [0.125], "steps_multiplier": [1.0]}


def _images(num_examples, seed):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (num_examples, 12, 12), "uint8")
    return LabeledImages(pixels, np.arange(num_examples) % 2, ["cat", "dog"])


def _hypermodel(**kwargs):
    return BiTHyperModel(
        num_classes=2, dataset_size=8, image_size=(12, 12), batch_size=4,
        steps_fraction=0.002, search_space=SEARCH_SPACE, seed=3, **kwargs,
    )  # fmt: skip


class _WeightsAtEpochEnd(keras.callbacks.Callback):
    """Keeps the model's weights after each epoch (in the class: KerasTuner
    runs a copy of the callbacks it is given)."""

    weights = []

    def on_epoch_end(self, epoch, logs=None):
        _WeightsAtEpochEnd.weights.append(self.model.get_weights())


def _assert_same_weights(got, want):
    for got_weight, want_weight in zip(got, want, strict=True):
        np.testing.assert_allclose(got_weight, want_weight, rtol=1e-5, atol=1e-6)


@pytest.mark.large
@pytest.mark.parametrize("micro_batch_size", [None, 2])
def test_a_trial_trains_as_bit_fine_tune_does(micro_batch_size):
    train, validation = _images(8, seed=0), _images(4, seed=1)
    hypermodel = _hypermodel(micro_batch_size=micro_batch_size)
    hp = keras_tuner.HyperParameters()
    rule = hypermodel.rule(hp)
    keras.utils.set_random_seed(0)
    trial_model = hypermodel.build(hp)
    initial = trial_model.get_weights()
    trial = hypermodel.fit(
        hp, trial_model, train, validation_data=validation, epochs=2, verbose=0
    )
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    classifier.set_weights(initial)
    run = bit_fine_tune(
        classifier, train, rule, seed=3, num_epochs=2,
        validation_images=validation, micro_batch_size=micro_batch_size,
        verbose=0,
    )  # fmt: skip
    assert trial.epoch == run.epoch == [0, 1]
    assert trial.history["val_accuracy"] == run.history["val_accuracy"]
    _assert_same_weights(trial_model.get_weights(), classifier.get_weights())
    # The trial's model is the one a run leaves: class names and resolution
    # travel with it to bit_evaluate and export.
    assert trial_model.class_names == ["cat", "dog"]
    assert trial_model.image_size == (rule.crop_size, rule.crop_size)


@pytest.mark.large
def test_a_trial_names_an_image_that_fails_to_decode(tmp_path):
    import tensorflow as tf

    from keras_transformer_bit.data import load_image_folder

    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        for i in range(4):
            pixels = rng.integers(0, 255, (12, 12, 3), "uint8")
            jpeg = bytes(tf.io.encode_jpeg(pixels).numpy())
            (tmp_path / name / f"{i}.jpg").write_bytes(jpeg)
    (tmp_path / "dogs" / "1.jpg").write_bytes(jpeg[: len(jpeg) // 2] + b"\xff\xd9")
    hypermodel = _hypermodel()
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    with pytest.raises(ValueError, match=r"cannot be decoded.*dogs/1\.jpg"):
        hypermodel.fit(hp, model, load_image_folder(str(tmp_path)), verbose=0)


@pytest.mark.large
def test_a_search_runs_bit_fine_tune_with_the_tuners_callbacks(tmp_path, monkeypatch):
    # Batches split in two: KerasTuner's callbacks still save the classifier.
    calls = []

    def recording_fine_tune(*args, **kwargs):
        history = bit_fine_tune(*args, **kwargs)
        calls.append((args, kwargs, history))
        return history

    monkeypatch.setattr(bit_hypermodel, "bit_fine_tune", recording_fine_tune)
    hypermodel = _hypermodel(micro_batch_size=2)
    tuner = make_tuner(
        "random_search", hypermodel, objective="val_accuracy", max_trials=1,
        directory=str(tmp_path / "search"),
    )  # fmt: skip
    logs = tmp_path / "logs"
    board = keras.callbacks.TensorBoard(log_dir=str(logs))
    tuner.search(
        _images(8, seed=0), validation_data=_images(4, seed=1), epochs=2,
        verbose=0, callbacks=[board, _WeightsAtEpochEnd()],
    )  # fmt: skip
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "COMPLETED"
    ((model, train, rule), kwargs, fit_history) = calls[0]
    assert len(calls) == 1 and rule == hypermodel.rule(trial.hyperparameters)
    assert kwargs["seed"] == 3 and kwargs["num_epochs"] == 2
    assert kwargs["micro_batch_size"] == 2
    kinds = {type(callback) for callback in kwargs["callbacks"]}
    assert kinds >= {
        keras.callbacks.TensorBoard,  # a copy of ours, pointed at the trial
        tuner_utils.TunerCallback,
        tuner_utils.SaveBestEpoch,
    }
    # The trial is scored by the History's best epoch, TensorBoard wrote
    # under the trial's own directory, SaveBestEpoch left weights a model loads.
    accuracies = fit_history.history["val_accuracy"]
    assert len(accuracies) == 2 and trial.score == max(accuracies)
    (best_epoch,) = trial.metrics.get_history("val_accuracy")
    assert best_epoch.step == int(np.argmax(accuracies))
    assert list(logs.glob(f"{trial.trial_id}/execution0/train/events.*"))
    (best,) = tuner.get_best_models(1)
    assert isinstance(best, BiTClassifier)
    best_weights = _WeightsAtEpochEnd.weights[int(np.argmax(accuracies))]
    _assert_same_weights(best.get_weights(), best_weights)


def test_a_micro_batch_that_does_not_divide_the_batch_is_refused():
    with pytest.raises(
        ValueError, match=r"micro_batch_size=3 does not divide batch_size=4"
    ):
        _hypermodel(micro_batch_size=3)


@pytest.mark.large
def test_a_hyperband_follow_up_continues_the_learning_rate():
    # 5 updates in 3 epochs of 2, 2 and 1: a budget of 1 epoch, then the
    # follow-up from its weights up to 3 epochs.
    train = _images(8, seed=0)
    hypermodel = _hypermodel(schedule_epochs=3)
    hp = keras_tuner.HyperParameters()
    schedule = hypermodel.rule(hp).learning_rate_schedule()
    hp.values.update({"tuner/epochs": 1, "tuner/initial_epoch": 0})
    first, first_rates = hypermodel.build(hp), LearningRates()
    hypermodel.fit(hp, first, train, epochs=1, callbacks=[first_rates], verbose=0)
    follow_up, rest_rates = hypermodel.build(hp), LearningRates()
    follow_up.set_weights(first.get_weights())
    history = hypermodel.fit(
        hp, follow_up, train, epochs=3, initial_epoch=1,
        callbacks=[rest_rates], verbose=0,
    )  # fmt: skip
    assert history.epoch == [1, 2]
    expected = [float(schedule(step)) for step in range(5)]
    assert first_rates.rates + rest_rates.rates == pytest.approx(expected)


def test_fit_refuses_an_argument_it_would_drop():
    hypermodel = _hypermodel()
    hp = keras_tuner.HyperParameters()
    with pytest.raises(TypeError, match=r"unknown argument 'batch_size'"):
        hypermodel.fit(hp, None, _images(8, seed=0), batch_size=2)


@pytest.mark.large
def test_the_best_model_carries_the_trials_classes_and_resolution(tmp_path):
    # KerasTuner rebuilds the best model with `build(hp)` and loads its
    # weights: what a run's model records must come from the hypermodel.
    import warnings

    import tensorflow as tf

    from keras_transformer_bit.export import export_image_classifier

    hypermodel = _hypermodel(micro_batch_size=2)
    tuner = make_tuner(
        "random_search", hypermodel, objective="val_accuracy", max_trials=1,
        directory=str(tmp_path / "search"),
    )  # fmt: skip
    tuner.search(
        _images(8, seed=0), validation_data=_images(4, seed=1), epochs=1, verbose=0
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (best,) = tuner.get_best_models(1)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert best.class_names == ["cat", "dog"]
    assert best.image_size == (16, 16)  # the trial's crop, not the preset's 224
    # It exports as it is, served at the trial's resolution with its names.
    path = export_image_classifier(best, str(tmp_path / "served"))
    served = tf.saved_model.load(path).signatures["serving_default"]
    pixels = np.random.default_rng(2).integers(0, 255, (20, 14, 3), "uint8")
    outputs = served(images=tf.constant([tf.io.encode_png(pixels).numpy()]))
    resized = tf.image.resize(tf.constant(pixels, "float32"), [16, 16])[tf.newaxis]
    expected = keras.ops.convert_to_numpy(best(resized, training=False))
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-4)
    assert outputs["top_class_name"].numpy()[0].decode() in ("cat", "dog")


def test_build_gives_the_class_names_and_the_trials_resolution():
    # A hypermodel made in another process (to reload a tuner) is told them.
    hypermodel = _hypermodel(class_names=["cat", "dog"])
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    crop_size = hypermodel.rule(hp).crop_size
    assert model.class_names == ["cat", "dog"]
    assert model.image_size == (crop_size, crop_size) == (16, 16)
    with pytest.raises(ValueError, match=r"class_names must have one name per"):
        _hypermodel(class_names=["cat"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"batch_scaling": "lin"},
            r"batch_scaling must be one of .*Received: batch_scaling='lin'",
        ),
        ({"image_size": (16,)}, r"image_size must be .*\(height, width\).*=\(16,\)"),
        ({"image_size": "16x16"}, r"image_size must be .*image_size='16x16'"),
        ({"image_size": (0, 16)}, r"image_size must be .*image_size=\(0, 16\)"),
        ({"num_classes": 0}, r"num_classes must be a positive int"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs, message):
    arguments = dict(num_classes=2, dataset_size=8, image_size=(12, 12))
    with pytest.raises(ValueError, match=message):
        BiTHyperModel(**{**arguments, **kwargs})


def test_an_int_image_size_is_a_square_as_bit_hyperrule_takes_it():
    hypermodel = BiTHyperModel(num_classes=2, dataset_size=8, image_size=12)
    assert hypermodel.image_size == (12, 12)


def test_fit_refuses_zero_epochs_instead_of_running_the_default():
    hypermodel = _hypermodel()
    hp = keras_tuner.HyperParameters()
    with pytest.raises(ValueError, match=r"epochs must be a positive int"):
        hypermodel.fit(hp, None, _images(8, seed=0), epochs=0)
