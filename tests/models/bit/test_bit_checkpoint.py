import hashlib
import os

import numpy as np
import pytest

from keras_transformer_bit.models import BiTBackbone, BiTClassifier
from keras_transformer_bit.models.bit import (
    download_weights,
    load_bit_checkpoint,
    read_bit_checkpoint,
    save_bit_checkpoint,
)
from keras_transformer_bit.models.bit.bit_checkpoint import resolve_weights
from tests.models.bit import numpy_bit_reference as reference

SMALL = {"block_depths": [2, 1], "base_width": 8, "norm_groups": 4}


def _images(seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (2, 24, 24, 3)).astype("float32")


def _classifier(num_classes=5, **overrides):
    return BiTClassifier(BiTBackbone(**{**SMALL, **overrides}), num_classes=num_classes)


@pytest.fixture
def checkpoint_path(tmp_path):
    arrays = reference.random_checkpoint([2, 1], 1, 8, num_classes=5, seed=0)
    path = str(tmp_path / "BiT-tiny.npz")
    np.savez(path, **arrays)
    return path


def test_every_official_key_is_used(checkpoint_path):
    classifier = load_bit_checkpoint(_classifier(), checkpoint_path)
    arrays = read_bit_checkpoint(checkpoint_path)
    assert set(arrays) == set(reference.official_keys([2, 1], 1, 8, 5))
    np.testing.assert_array_equal(
        np.asarray(classifier.head.kernel), arrays["resnet/head/conv2d/kernel"][0, 0]
    )
    root = classifier.backbone.get_layer("root_conv").kernel
    np.testing.assert_array_equal(
        np.asarray(root), arrays["resnet/root_block/standardized_conv2d/kernel"]
    )


def test_write_load_round_trip(checkpoint_path, tmp_path):
    classifier = load_bit_checkpoint(_classifier(), checkpoint_path)
    written = str(tmp_path / "written.npz")
    save_bit_checkpoint(classifier, written)
    original, again = read_bit_checkpoint(checkpoint_path), read_bit_checkpoint(written)
    assert set(original) == set(again)
    for key in original:
        np.testing.assert_array_equal(original[key], again[key], err_msg=key)
    reloaded = load_bit_checkpoint(_classifier(), written)
    np.testing.assert_array_equal(
        np.asarray(reloaded(_images())), np.asarray(classifier(_images()))
    )


def test_head_kept_replaced_or_dropped(checkpoint_path):
    kept = BiTClassifier.from_preset("bit_tiny", weights=checkpoint_path, **SMALL)
    assert kept.num_classes == 5
    assert np.abs(np.asarray(kept.head.kernel)).max() > 0

    replaced = BiTClassifier.from_preset(
        "bit_tiny", num_classes=3, weights=checkpoint_path, **SMALL
    )
    assert replaced.num_classes == 3
    np.testing.assert_array_equal(np.asarray(replaced.head.kernel), 0.0)
    np.testing.assert_array_equal(
        np.asarray(replaced.backbone.get_layer("post_norm").gamma),
        read_bit_checkpoint(checkpoint_path)["resnet/group_norm/gamma"],
    )

    same_count = BiTClassifier.from_preset(
        "bit_tiny", num_classes=5, weights=checkpoint_path, head="replace", **SMALL
    )
    np.testing.assert_array_equal(np.asarray(same_count.head.bias), 0.0)

    backbone = BiTBackbone.from_preset("bit_tiny", weights=checkpoint_path, **SMALL)
    features = kept.backbone(_images() / 127.5 - 1.0)
    np.testing.assert_allclose(
        np.asarray(backbone(_images() / 127.5 - 1.0)), np.asarray(features), atol=1e-6
    )
    # A backbone writes no head.
    assert not any("head" in key for key in _saved_keys(backbone))


def _saved_keys(model):
    from keras_transformer_bit.models.bit.bit_checkpoint import checkpoint_arrays

    return checkpoint_arrays(model)


def test_checkpoint_of_another_architecture(checkpoint_path):
    deeper = _classifier(block_depths=[2, 2])
    with pytest.raises(ValueError) as error:
        load_bit_checkpoint(deeper, checkpoint_path)
    message = str(error.value)
    assert "Missing keys (9)" in message
    assert (
        "The checkpoint holds units per block (2, 1), root width 8; "
        "the model is units per block (2, 2), root width 8." in message
    )
    assert (
        "resnet/block2/unit02/b/standardized_conv2d/kernel: (3, 3, 16, 16)" in message
    )

    wider = _classifier(width_factor=2)
    with pytest.raises(ValueError) as error:
        load_bit_checkpoint(wider, checkpoint_path)
    message = str(error.value)
    assert "Mismatched shapes" in message
    assert (
        "resnet/root_block/standardized_conv2d/kernel: checkpoint (7, 7, 3, 8), "
        "model (7, 7, 3, 16)" in message
    )
    with pytest.raises(ValueError, match="head='replace'"):
        load_bit_checkpoint(_classifier(num_classes=4), checkpoint_path)

    arrays = read_bit_checkpoint(checkpoint_path)
    arrays["resnet/block9/extra"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"Unexpected keys \(1\):\n  resnet/block9"):
        load_bit_checkpoint(_classifier(), arrays)


def test_nothing_assigned_on_error(checkpoint_path):
    classifier = _classifier(width_factor=2)
    before = [np.asarray(w).copy() for w in classifier.weights]
    with pytest.raises(ValueError):
        load_bit_checkpoint(classifier, checkpoint_path)
    for old, weight in zip(before, classifier.weights):
        np.testing.assert_array_equal(old, np.asarray(weight))


def test_truncated_and_foreign_files(checkpoint_path, tmp_path):
    data = open(checkpoint_path, "rb").read()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated"):
        read_bit_checkpoint(truncated)
    text = tmp_path / "weights.npz"
    text.write_text("not weights")
    with pytest.raises(ValueError, match=r"not an \.npz checkpoint"):
        load_bit_checkpoint(_classifier(), text)
    single = tmp_path / "array.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single array"):
        read_bit_checkpoint(single)
    with pytest.raises(FileNotFoundError):
        read_bit_checkpoint(tmp_path / "absent.npz")


def test_download_cache_and_checksum(checkpoint_path, tmp_path):
    url = "file://" + os.path.abspath(checkpoint_path)
    digest = hashlib.sha256(open(checkpoint_path, "rb").read()).hexdigest()
    cache = str(tmp_path / "cache")
    path = download_weights(url, cache_dir=cache, sha256=digest, progress=False)
    assert path == os.path.join(cache, "sha256-" + digest[:16], "BiT-tiny.npz")
    assert open(path, "rb").read() == open(checkpoint_path, "rb").read()
    # A cached file with the right digest is used without a download.
    missing_url = "file://" + str(tmp_path / "gone" / "BiT-tiny.npz")
    assert download_weights(missing_url, cache_dir=cache, sha256=digest) == path
    # A corrupted cached file is fetched again.
    with open(path, "r+b") as handle:
        handle.write(b"garbage")
    download_weights(url, cache_dir=cache, sha256=digest, progress=False)
    assert open(path, "rb").read() == open(checkpoint_path, "rb").read()
    # A wrong digest fails and leaves nothing behind.
    other_cache = str(tmp_path / "other")
    with pytest.raises(ValueError, match="Checksum mismatch"):
        download_weights(url, cache_dir=other_cache, sha256="0" * 64, progress=False)
    assert os.listdir(other_cache) == []


def test_cache_tells_apart_two_files_of_one_name(checkpoint_path, tmp_path):
    """Two runs' model.npz: the second URL must not get the first's weights
    (a user trial loaded the same weights for both)."""
    first, second = tmp_path / "a" / "model.npz", tmp_path / "b" / "model.npz"
    for path, content in ((first, b"first"), (second, b"second")):
        path.parent.mkdir()
        path.write_bytes(content)
    cache = str(tmp_path / "cache")
    got = [
        open(download_weights("file://" + str(path), cache_dir=cache), "rb").read()
        for path in (first, second)
    ]
    assert got == [b"first", b"second"]


def test_resolve_weights(checkpoint_path):
    assert resolve_weights("bit_m_r50x1", checkpoint_path) == checkpoint_path
    with pytest.raises(ValueError, match="imagenet21k"):
        resolve_weights("bit_m_r50x1", "imagenet")
    with pytest.raises(ValueError, match="bit_tiny"):
        resolve_weights("bit_tiny", "imagenet21k")


def test_checkpoint_module_imports_no_model_class():
    # One-way structure: models load checkpoints, the checkpoint code maps the
    # keys of whatever backbone it is given.
    import ast
    import inspect

    from keras_transformer_bit.models.bit import bit_checkpoint

    tree = ast.parse(inspect.getsource(bit_checkpoint))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    model_modules = {
        "keras_transformer_bit.models.bit.bit_backbone",
        "keras_transformer_bit.models.bit.bit_classifier",
    }
    assert not imported & model_modules
    assert "isinstance(model" not in inspect.getsource(bit_checkpoint)


def test_from_preset_looks_the_name_up_once(checkpoint_path, monkeypatch):
    from keras_transformer_bit.models.bit import bit_presets

    calls = []
    lookup = bit_presets.get_preset
    monkeypatch.setattr(
        bit_presets, "get_preset", lambda name: calls.append(name) or lookup(name)
    )
    BiTClassifier.from_preset("bit_tiny", weights=checkpoint_path, **SMALL)
    assert calls == ["bit_tiny"]
    calls.clear()
    BiTBackbone.from_preset("bit_tiny", weights=checkpoint_path, **SMALL)
    assert calls == ["bit_tiny"]


def test_a_checkpoint_saved_without_npz_is_found_by_the_same_name(tmp_path):
    # np.savez appends ".npz": save_bit_checkpoint("ckpt") writes ckpt.npz, and
    # the name the user gave it loads it back.
    classifier = _classifier(num_classes=3)
    name = str(tmp_path / "ckpt")
    assert save_bit_checkpoint(classifier, name) == name + ".npz"
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert resolve_weights("bit_tiny", name) == name + ".npz"
    assert set(read_bit_checkpoint(name)) == set(read_bit_checkpoint(name + ".npz"))
    reloaded = load_bit_checkpoint(_classifier(num_classes=3), name)
    np.testing.assert_array_equal(
        np.asarray(reloaded(_images())), np.asarray(classifier(_images()))
    )
    with pytest.raises(FileNotFoundError, match="other"):
        read_bit_checkpoint(str(tmp_path / "other"))


def test_a_text_file_named_npz_is_said_not_to_be_a_checkpoint(tmp_path):
    path = tmp_path / "x.npz"
    path.write_text("this is not a checkpoint\n")
    with pytest.raises(ValueError, match=r"not an \.npz checkpoint") as caught:
        load_bit_checkpoint(BiTBackbone.from_preset("bit_tiny"), str(path))
    assert "allow_pickle" not in str(caught.value)
