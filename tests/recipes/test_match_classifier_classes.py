import numpy as np
import pytest

from keras_transformer_bit.data.labeled_images import LabeledImages
from keras_transformer_bit.models import BiTBackbone, BiTClassifier
from keras_transformer_bit.recipes.match_classifier_classes import (
    match_classifier_classes,
)

SMALL = {"block_depths": [1], "base_width": 8, "norm_groups": 4}


def _images(labels, class_names):
    return LabeledImages(np.zeros((len(labels), 8, 8), "uint8"), labels, class_names)


def _classifier(num_classes, class_names=None):
    return BiTClassifier(BiTBackbone(**SMALL), num_classes, class_names=class_names)


def test_named_classifier_matches_by_name():
    names = [f"class{i}" for i in range(10)]
    five = _images([0, 1, 2, 3, 4], ["class2", "class3", "class5", "class7", "class9"])
    matched = match_classifier_classes(_classifier(10, names), five, "evaluate")
    np.testing.assert_array_equal(matched.labels, [2, 3, 5, 7, 9])
    with pytest.raises(ValueError, match=r"\['other'\]"):
        match_classifier_classes(
            _classifier(10, names), _images([0], ["other"]), "evaluate"
        )


def test_unnamed_classifier_needs_equal_counts_and_learns_the_names():
    classifier = _classifier(2)
    images = _images([0, 1], ["cat", "dog"])
    assert match_classifier_classes(classifier, images, "fit") is images
    assert classifier.class_names is None
    match_classifier_classes(classifier, images, "fit", record=True)
    assert classifier.class_names == ["cat", "dog"]
    with pytest.raises(ValueError, match="bit_fine_tune.*3 classes.*head has 2"):
        match_classifier_classes(
            _classifier(2), _images([0, 1, 2], ["a", "b", "c"]), "bit_fine_tune"
        )
    with pytest.raises(ValueError, match="5 classes.*head has 10"):
        match_classifier_classes(
            _classifier(10), _images(list(range(5)), list("abcde")), "evaluate"
        )


def test_fine_tune_and_evaluate_match_classes_before_any_work():
    from keras_transformer_bit.recipes import bit_evaluate, bit_fine_tune, bit_hyperrule

    three = _images([0, 1, 2], ["a", "b", "c"])
    rule = bit_hyperrule(len(three), (8, 8))
    # Two head classes for three labels: one-hot targets of class 2 were zero.
    with pytest.raises(ValueError, match="3 classes.*head has 2"):
        bit_fine_tune(_classifier(2), three, rule)
    # A folder lacking class "a": the others keep their labels.
    classifier = _classifier(3, ["a", "b", "c"])
    head = classifier.head
    head.bias.assign(np.array([0.0, 0.0, 5.0], "float32"))  # always predicts "c"
    only_c = _images([0, 0], ["c"])
    assert bit_evaluate(classifier, only_c, 8)["accuracy"] == 1.0
    with pytest.raises(ValueError, match="head has 3"):
        bit_evaluate(_classifier(3), _images([0, 1], ["a", "b"]), 8)
