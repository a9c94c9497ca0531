import keras
import numpy as np
import pytest

from keras_transformer_bit.models import BiTBackbone, BiTClassifier
from keras_transformer_bit.models.bit import PRESETS, count_parameters
from tests.helpers import run_model_saving_test

SMALL = {"block_depths": [1, 1], "base_width": 8, "norm_groups": 4}


def _images(shape=(2, 24, 24, 3), seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, 0.5, weight.shape).astype("float32"))
    return model


def test_head_starts_at_zero_and_inputs_are_rescaled():
    classifier = BiTClassifier(BiTBackbone(**SMALL), num_classes=3)
    np.testing.assert_array_equal(np.asarray(classifier.head.kernel), 0.0)
    np.testing.assert_array_equal(np.asarray(classifier(_images())), 0.0)
    rescaled = classifier.get_layer("rescaling")(np.array([0.0, 127.5, 255.0]))
    np.testing.assert_allclose(np.asarray(rescaled), [-1.0, 0.0, 1.0])


def test_any_image_size():
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=4)
    for shape in [(1, 32, 32, 3), (3, 50, 41, 3)]:
        assert tuple(classifier(_images(shape)).shape) == (shape[0], 4)


def test_saving_round_trip():
    classifier = _randomize(BiTClassifier(BiTBackbone(**SMALL), num_classes=3))
    # The helper asserts equal outputs, configs and weights after the reload.
    reloaded = run_model_saving_test(classifier, _images())
    assert isinstance(reloaded, BiTClassifier)
    assert reloaded.num_classes == 3


def test_mixed_precision_logits_are_float32():
    classifier = BiTClassifier(
        BiTBackbone(**SMALL, dtype="mixed_bfloat16"), num_classes=3
    )
    logits = classifier(_images())
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert all(w.dtype == "float32" for w in classifier.weights)


def test_trains():
    classifier = BiTClassifier(BiTBackbone(**SMALL), num_classes=2)
    classifier.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    images, labels = _images((4, 16, 16, 3)), np.array([0, 1, 0, 1])
    # Each loss is the batch's before that step's update (any backend).
    losses = [
        float(classifier.train_on_batch(images, labels, return_dict=True)["loss"])
        for _ in range(3)
    ]
    # The zero head starts every class at the same logit: loss log(2).
    np.testing.assert_allclose(losses[0], np.log(2.0), rtol=1e-5)
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("num_classes", [0, -3, 2.5, True])
def test_num_classes_must_be_positive(num_classes):
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        BiTClassifier(BiTBackbone(**SMALL), num_classes=num_classes)
    with pytest.raises(ValueError, match="num_classes"):
        BiTClassifier.from_preset("bit_tiny", num_classes=num_classes)


def test_wrong_rank_or_channels():
    classifier = BiTClassifier(BiTBackbone(**SMALL), num_classes=3)
    with pytest.raises(ValueError, match="rank 4"):
        classifier(np.zeros((24, 24, 3), "float32"))
    # Keras' own input check may speak first; both name the shapes.
    with pytest.raises(ValueError, match=r"\(1, 24, 24, 4\)"):
        classifier(np.zeros((1, 24, 24, 4), "float32"))


def test_unknown_preset():
    with pytest.raises(ValueError, match="bit_m_r18x1"):
        BiTClassifier.from_preset("bit_m_r18x1")


def test_preset_table():
    official = {
        "r50x1": 25.55,
        "r50x3": 217.32,
        "r101x1": 44.54,
        "r101x3": 387.93,
        "r152x2": 236.34,
        "r152x4": 936.53,
    }
    for upstream, tag, classes in [
        ("s", "imagenet", 1000),
        ("m", "imagenet21k", 21843),
    ]:
        for arch, millions in official.items():
            preset = PRESETS[f"bit_{upstream}_{arch}"]
            count = count_parameters(preset["config"], num_classes=1000)
            assert round(count / 1e6, 2) == millions
            assert preset["parameter_count"] == count
            assert preset["num_classes"] == classes and preset["weights"] == tag
            file_name = f"BiT-{upstream.upper()}-{arch.capitalize()}.npz"
            assert preset["weights_file"] == file_name
            assert preset["weights_url"] == (
                "https://storage.googleapis.com/bit_models/" + file_name
            )
    tiny = PRESETS["bit_tiny"]
    assert tiny["parameter_count"] == count_parameters(tiny["config"], 10)


@pytest.mark.large
@pytest.mark.parametrize(
    "name, expected", [("bit_m_r50x1", 25_549_352), ("bit_m_r101x1", 44_541_480)]
)
def test_built_parameter_counts(name, expected):
    classifier = BiTClassifier.from_preset(name, num_classes=1000)
    assert classifier.count_params() == expected
    config = classifier.backbone.get_config()
    assert count_parameters(config, num_classes=1000) == expected


@pytest.mark.parametrize(
    "call",
    [
        lambda: BiTClassifier(BiTBackbone(**SMALL), 3, depht=50),
        lambda: BiTClassifier.from_preset("bit_tiny", depht=50),
        lambda: BiTClassifier.from_preset("bit_tiny", head_initialiser="ones"),
    ],
)
def test_misspelled_arguments_are_refused(call):
    with pytest.raises(TypeError, match=r"unknown argument '(depht|head_initialiser)'"):
        call()
    with pytest.raises(TypeError, match=r"Valid arguments: \[.*'head_initializer'"):
        call()


def test_misspelled_named_parameter_is_matched_to_it():
    with pytest.raises(TypeError, match=r"'num_clases' \(did you mean 'num_classes'"):
        BiTClassifier.from_preset("bit_tiny", num_clases=3)


def test_head_initializer_reaches_the_head():
    classifier = BiTClassifier.from_preset(
        "bit_tiny", num_classes=3, head_initializer="ones"
    )
    np.testing.assert_array_equal(np.asarray(classifier.head.kernel), 1.0)


def test_class_names_and_image_size_travel_with_the_model():
    classifier = BiTClassifier.from_preset("bit_tiny", class_names=["cat", "dog"])
    assert classifier.num_classes == 2
    assert classifier.class_names == ["cat", "dog"]
    # The preset's preprocessing metadata: the resolution the weights expect.
    assert (
        classifier.image_size
        == (PRESETS["bit_tiny"]["preprocessing"]["image_size"],) * 2
    )
    classifier.image_size = 32  # as fine-tuning records it
    assert classifier.image_size == (32, 32)
    reloaded = run_model_saving_test(_randomize(classifier), _images())
    assert reloaded.class_names == ["cat", "dog"]
    assert reloaded.image_size == (32, 32)
    plain = BiTClassifier(BiTBackbone(**SMALL), num_classes=2)
    assert plain.class_names is None and plain.image_size is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 3, "class_names": ["a", "b"]}, "one name per class"),
        ({"num_classes": 2, "class_names": ["a", "a"]}, "distinct"),
        ({"num_classes": 2, "image_size": 0}, "image_size"),
        ({"num_classes": 2, "image_size": True}, "image_size=True"),
        ({"num_classes": 2, "image_size": (32, 32, 3)}, "image_size"),
    ],
)
def test_bad_class_names_and_image_size(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BiTClassifier(BiTBackbone(**SMALL), **kwargs)


def test_feature_extractor_returns_the_pre_logits_embedding():
    classifier = _randomize(BiTClassifier(BiTBackbone(**SMALL), num_classes=3))
    features = classifier.feature_extractor()(_images())
    assert tuple(features.shape) == (2, classifier.backbone.num_features)
    head = classifier.head
    np.testing.assert_allclose(
        np.asarray(features) @ np.asarray(head.kernel) + np.asarray(head.bias),
        np.asarray(classifier(_images())),
        rtol=1e-4,
        atol=1e-4,
    )


def test_an_empty_batch_gives_an_empty_result():
    # As the Transformer: zero images in, zero rows of logits out. (TensorFlow's
    # convolution returns a batch of zero images unchanged, whatever its kernel,
    # so the layers cannot be left to handle it.)
    classifier = BiTClassifier(BiTBackbone(**SMALL), num_classes=3)
    logits = classifier(np.zeros((0, 24, 24, 3), "float32"))
    assert tuple(logits.shape) == (0, 3) and logits.dtype == "float32"
    features = classifier.feature_extractor()(np.zeros((0, 24, 24, 3), "float32"))
    assert tuple(features.shape) == (0, classifier.backbone.num_features)
    embedding = classifier.backbone(np.zeros((0, 24, 24, 3), "float32"))
    one = classifier.backbone(np.zeros((1, 24, 24, 3), "float32"))
    assert tuple(embedding.shape) == (0, *one.shape[1:])


def test_a_string_image_size_is_shown_as_a_string():
    from keras_transformer_bit.models.bit.bit_classifier import check_image_size

    with pytest.raises(ValueError, match=r"Received: image_size='32'"):
        check_image_size("32")
