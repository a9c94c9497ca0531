"""`ktb bit train --strategy multi_worker --shard-files`: each worker its files."""

import os

import keras
import pytest

import keras_transformer_bit as ktb
from tests.cli.test_bit_cli import KTB_BIT_TRAIN, _image_folder


@pytest.mark.large
@pytest.mark.timeout(300)
def test_two_workers_each_read_their_share_of_the_files(tmp_path):
    data = _image_folder(tmp_path / "images", per_class=4)
    model_dir = tmp_path / "run"
    command = KTB_BIT_TRAIN + ["--data", f"folder:{data}", "--preset", "bit_tiny"]
    command += ["--batch-size", "4", "--crop-size", "16", "--schedule-scale", "0.0001"]
    command += ["--num-epochs", "3", "--strategy", "multi_worker", "--shard-files"]
    command += ["--model-dir", str(model_dir)]
    with ktb.distribute.LocalCluster(command) as cluster:
        codes = cluster.wait(timeout_seconds=240)
        outputs = [cluster.output(index) for index in range(2)]
    assert codes == [0, 0], outputs
    assert "each worker reads 1/2 of the image files" in outputs[0]
    assert sorted(os.listdir(model_dir)) == ["bit_config.json", "logs", "model.keras"]
    assert "Saved" in outputs[0]
    model = keras.saving.load_model(model_dir / "model.keras", compile=False)
    assert model.num_classes == 2
