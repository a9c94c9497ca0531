import numpy as np
import pytest

from keras_transformer_bit.data.labeled_images import LabeledImages


def _images(labels, class_names):
    return LabeledImages(np.zeros((len(labels), 4, 4), "uint8"), labels, class_names)


def test_with_class_names_matches_by_name_not_position():
    # A test folder without "bird": by position, "cat" and "dog" would shift.
    test = _images([0, 1, 1], ["cat", "dog"])
    matched = test.with_class_names(["bird", "cat", "dog", "fish"])
    assert matched.class_names == ["bird", "cat", "dog", "fish"]
    np.testing.assert_array_equal(matched.labels, [1, 2, 2])
    assert matched.num_classes == 4
    assert test.with_class_names(["cat", "dog"]).labels.tolist() == [0, 1, 1]


def test_with_class_names_refuses_classes_the_model_lacks():
    test = _images([0, 1, 2], ["cat", "dog", "zebra"])
    with pytest.raises(ValueError) as error:
        test.with_class_names(["cat", "dog"])
    message = str(error.value)
    assert "['zebra']" in message and "['cat', 'dog']" in message


def test_non_finite_and_unit_range_float_pixels_are_refused():
    """A user trial's one NaN image made every weight NaN without an error."""
    images = np.full((2, 4, 4), 100.0, "float32")
    images[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"images\[1, 2, 3\] is nan"):
        LabeledImages(images, [0, 1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        LabeledImages(np.full((2, 4, 4), 0.5, "float32"), [0, 1])
    assert len(LabeledImages(np.full((2, 4, 4), 100.0, "float32"), [0, 1])) == 2


def _files(root, names):
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * len(name))
        paths.append(str(path))
    return paths


def test_fingerprint_tells_other_data_apart_but_not_a_moved_folder(tmp_path):
    names = ["cats/a.png", "cats/b.png", "dogs/c.png"]
    labels, classes = [0, 0, 1], ["cats", "dogs"]
    here = LabeledImages(_files(tmp_path / "here", names), labels, classes)
    moved = LabeledImages(_files(tmp_path / "moved", names), labels, classes)
    other_names = ["cats/a.png", "cats/z.png", "dogs/c.png"]
    other = LabeledImages(_files(tmp_path / "other", other_names), labels, classes)
    fingerprint = here.fingerprint()
    assert fingerprint["num_examples"] == 3
    assert fingerprint["examples_per_class"] == {"cats": 2, "dogs": 1}
    assert moved.fingerprint() == fingerprint
    assert other.fingerprint()["examples_per_class"] == {"cats": 2, "dogs": 1}
    assert other.fingerprint()["sha256"] != fingerprint["sha256"]

    pixels = np.zeros((4, 2, 2), "uint8")
    changed = pixels.copy()
    changed[3, 0, 0] = 1
    a = LabeledImages(pixels, [0, 1, 0, 1]).fingerprint()
    assert a == LabeledImages(pixels.copy(), [0, 1, 0, 1]).fingerprint()
    assert a["sha256"] != LabeledImages(changed, [0, 1, 0, 1]).fingerprint()["sha256"]


def test_hold_out_splits_every_class_disjointly_with_a_seed():
    labels = np.array([0] * 10 + [1] * 5 + [2] * 1)
    images = LabeledImages(
        np.arange(16, dtype="uint8").reshape(16, 1, 1, 1).repeat(4, axis=1),
        labels,
        ["a", "b", "c"],
    )
    rest, held_out = images.hold_out(0.2, seed=3)
    kept = sorted(int(x) for x in rest.images[:, 0, 0, 0])
    out = sorted(int(x) for x in held_out.images[:, 0, 0, 0])
    assert sorted(kept + out) == list(range(16)) and not set(kept) & set(out)
    # A fifth of each class (at least one where the class has two or more);
    # a class of one stays in training.
    assert np.bincount(held_out.labels, minlength=3).tolist() == [2, 1, 0]
    assert held_out.class_names == rest.class_names == ["a", "b", "c"]
    again = images.hold_out(0.2, seed=3)[1]
    assert sorted(int(x) for x in again.images[:, 0, 0, 0]) == out
    other = images.hold_out(0.2, seed=4)[1]
    assert sorted(int(x) for x in other.images[:, 0, 0, 0]) != out


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, "0.2"])
def test_hold_out_refuses_a_fraction_outside_0_1(fraction):
    images = LabeledImages(np.zeros((4, 2, 2, 3), "uint8"), [0, 0, 1, 1])
    with pytest.raises(ValueError, match="fraction must be a float in \\(0, 1\\)"):
        images.hold_out(fraction)
