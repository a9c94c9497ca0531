"""`ktb bit evaluate` matches classes by name, with the names the run carries."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.cli.main import main
from keras_transformer_bit.models import BiTBackbone, BiTClassifier

NAMES = ["circles", "squares", "triangles"]


def _run(tmp_path, class_names):
    """A run directory as `ktb bit train` writes it, of a model that always
    answers "squares"."""
    model_dir = tmp_path / "run"
    os.makedirs(model_dir)
    backbone = BiTBackbone(block_depths=[1], base_width=8, norm_groups=4)
    classifier = BiTClassifier(backbone, 3, class_names=class_names, image_size=16)
    classifier.head.bias.assign(np.array([0.0, 5.0, 0.0], "float32"))
    classifier.save(model_dir / "model.keras")
    config = {"crop_size": 16, "class_names": NAMES}
    (model_dir / "bit_config.json").write_text(json.dumps(config))
    return str(model_dir)


def _folder(root, classes):
    for name in classes:
        os.makedirs(root / name)
        pixels = np.zeros((12, 12, 3), "uint8")
        (root / name / "0.png").write_bytes(bytes(tf.io.encode_png(pixels).numpy()))
    return str(root)


@pytest.mark.parametrize("class_names", [NAMES, None])  # None: an older run
def test_a_class_missing_from_the_test_folder_shifts_no_label(
    tmp_path, capsys, class_names
):
    model_dir = _run(tmp_path, class_names)
    # Only "squares": numbered by position it would be label 0 ("circles").
    data = _folder(tmp_path / "test", ["squares"])
    args = ["bit", "evaluate", "--data", data, "--model-dir", model_dir]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result == {**result, "accuracy": 1.0, "num_examples": 1}

    other = _folder(tmp_path / "other", ["squares", "hexagons"])
    with pytest.raises(ValueError, match=r"\['hexagons'\]"):
        main(["bit", "evaluate", "--data", other, "--model-dir", model_dir])
