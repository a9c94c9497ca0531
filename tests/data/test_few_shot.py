import numpy as np
import pytest

from keras_transformer_bit.data import LabeledImages, few_shot_indices


def test_k_per_class_seeded_and_stratified():
    labels = np.array([0] * 10 + [1] * 4 + [2] * 7)
    for shots in (1, 3, 4):
        indices = few_shot_indices(labels, shots, seed=3)
        assert len(indices) == 3 * shots
        assert len(np.unique(indices)) == len(indices)
        np.testing.assert_array_equal(np.bincount(labels[indices]), [shots] * 3)
    np.testing.assert_array_equal(
        few_shot_indices(labels, 3, seed=5), few_shot_indices(labels, 3, seed=5)
    )
    draws = {tuple(few_shot_indices(labels, 2, seed=s)) for s in range(10)}
    assert len(draws) > 5


def test_k_larger_than_smallest_class():
    labels = np.array([0] * 10 + [1] * 4 + [2] * 7)
    with pytest.raises(ValueError, match=r"shots=5 exceeds .* class 1 has 4"):
        few_shot_indices(labels, 5)
    with pytest.raises(ValueError, match="class 3 has 0"):
        few_shot_indices(labels, 1, num_classes=4)
    with pytest.raises(ValueError, match="shots must be a positive int"):
        few_shot_indices(labels, 0)
    with pytest.raises(ValueError, match="num_classes"):
        few_shot_indices(labels, 1, num_classes=0)


def test_labeled_images_few_shot_and_select_classes():
    images = np.arange(30, dtype="uint8").reshape(30, 1, 1) * np.ones(
        (1, 2, 2), "uint8"
    )
    data = LabeledImages(images, np.arange(30) % 5, list("abcde"))
    subset = data.select_classes([3, 1])
    assert subset.class_names == ["d", "b"]
    assert len(subset) == 12
    # Relabelled 0..1, pixels still those of the original classes.
    np.testing.assert_array_equal(
        subset.images[:, 0, 0] % 5, np.where(subset.labels == 0, 3, 1)
    )
    shots = subset.few_shot(2, seed=0)
    np.testing.assert_array_equal(np.bincount(shots.labels), [2, 2])
    with pytest.raises(ValueError, match="exceeds the smallest class"):
        subset.few_shot(7)
    with pytest.raises(ValueError, match="classes must be distinct"):
        data.select_classes([5])


def test_labeled_images_bad_input():
    with pytest.raises(ValueError, match=r"images.shape=\(4, 2, 2, 5\)"):
        LabeledImages(np.zeros((4, 2, 2, 5), "uint8"), [0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"images.shape=\(4, 2\)"):
        LabeledImages(np.zeros((4, 2), "uint8"), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="same length"):
        LabeledImages(np.zeros((4, 2, 2), "uint8"), [0, 1, 0])


def test_too_few_examples_names_the_class():
    data = LabeledImages(np.zeros((3, 4, 4), "uint8"), [0, 0, 1], ["shoes", "clothes"])
    with pytest.raises(ValueError, match=r"class 1 \('clothes'\) has 1 example"):
        data.few_shot(2)
