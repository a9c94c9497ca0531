import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.cli.main import main


def _image_folder(root, per_class=3):
    rng = np.random.default_rng(0)
    for label, name in enumerate(["circles", "squares"]):
        os.makedirs(root / name)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (12, 10, 3), "uint8") // (label + 1)
            (root / name / f"{i}.png").write_bytes(
                bytes(tf.io.encode_png(pixels).numpy())
            )
    return root


@pytest.mark.large
def test_train_evaluate_export(tmp_path, capsys):
    data = str(_image_folder(tmp_path / "images"))
    model_dir = str(tmp_path / "run")
    common = [
        "--data",
        f"folder:{data}",
        "--model-dir",
        model_dir,
        "--strategy",
        "auto",
    ]
    assert (
        main(
            [
                "bit",
                "train",
                *common,
                "--preset",
                "bit_tiny",
                "--shots",
                "2",
                "--batch-size",
                "4",
                "--crop-size",
                "16",
                "--schedule-scale",
                "0.0001",
            ]
        )
        == 0
    )
    config = json.load(open(os.path.join(model_dir, "bit_config.json")))
    assert config["crop_size"] == 16
    # [100, ..., 500] at batch 512 -> x128 at batch 4 -> x0.0001, rounded up.
    assert config["rule"]["supports"] == [2, 3, 4, 6, 7]
    assert config["class_names"] == ["circles", "squares"]

    assert main(["bit", "evaluate", *common, "--split", "test"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["num_examples"] == 6 and 0 <= result["accuracy"] <= 1

    assert main(["bit", "export", "--model-dir", model_dir]) == 0
    served = tf.saved_model.load(os.path.join(model_dir, "export"))
    image = open(os.path.join(data, "circles", "0.png"), "rb").read()
    outputs = served.signatures["serving_default"](images=tf.constant([image]))
    assert outputs["probabilities"].shape == (1, 2)


def test_bad_data_and_missing_run(tmp_path):
    with pytest.raises(ValueError, match="--data must be"):
        main(
            [
                "bit",
                "train",
                "--data",
                "nonsense",
                "--model-dir",
                str(tmp_path),
                "--preset",
                "bit_tiny",
            ]
        )
    with pytest.raises(FileNotFoundError, match="ktb bit train"):
        main(["bit", "export", "--model-dir", str(tmp_path)])
