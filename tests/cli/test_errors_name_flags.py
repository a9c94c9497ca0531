"""Under `ktb`, an error on a bad setting names the flag, not the Python key."""

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.cli.main import main


def _image_folder(root, per_class=3):
    rng = np.random.default_rng(0)
    for label, name in enumerate(["circles", "squares"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (12, 10, 3), "uint8") // (label + 1)
            (root / name / f"{i}.png").write_bytes(
                bytes(tf.io.encode_png(pixels).numpy())
            )
    return root


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--shots", "5"], r"--shots 5 exceeds the smallest class.*3 examples"),
        (
            ["--batch-size", "4", "--micro-batch-size", "3"],
            r"--micro-batch-size 3 does not divide --batch-size 4",
        ),
        (
            ["--micro-batch-size", "3"],
            r"--micro-batch-size 3 does not divide the HyperRule's batch of 512",
        ),
    ],
)
def test_bit_train_errors_after_reading_the_data_name_the_flags(
    tmp_path, flags, message
):
    data = str(_image_folder(tmp_path / "images"))
    command = ["bit", "train", "--data", data, "--preset", "bit_tiny"]
    command += ["--crop-size", "16", "--strategy", "one_device"]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match=message) as error:
        main(command + flags)
    assert "micro_batch_size" not in str(error.value)
    assert "shots=" not in str(error.value)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--bleu-every", "-1"], r"--bleu-every must be an int >= 0.*--bleu-every=-1"),
        (["--strategy", "nope"], r"--strategy must be one of.*--strategy='nope'"),
        (["--seed", "-1"], r"--seed must be an int in \[0, 2\*\*32 - 1\]"),
        (["--vocabulary-size", "3"], r"--vocabulary-size must be an int greater"),
        (["--num-layers", "0"], r"--num-layers must be a positive int"),
        (["--hidden-dim", "0"], r"--hidden-dim must be a positive int"),
        (["--intermediate-dim", "0"], r"--intermediate-dim must be a positive int"),
        (["--num-heads", "0"], r"--num-heads must be a positive int"),
        (
            ["--num-heads", "3", "--hidden-dim", "16"],
            r"--num-heads must divide --hidden-dim.*--hidden-dim=16, --num-heads=3",
        ),
        (["--dropout", "1.5"], r"--dropout must be a float in \[0, 1\)"),
        (["--learning-rate-scale", "0"], r"--learning-rate-scale must be > 0"),
    ],
)
def test_translate_train_errors_name_the_flags_before_reading(tmp_path, flags, message):
    # The corpus is absent: reading it would fail with another message.
    command = ["translate", "train", "--data", str(tmp_path / "absent.tsv")]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match=message):
        main(command + flags)
    assert not (tmp_path / "run").exists()


def _refuse_to_read(*args, **kwargs):
    raise AssertionError("the data was read before the preset was checked")


def test_unknown_bit_preset_is_refused_before_the_data_is_read(tmp_path, monkeypatch):
    from keras_transformer_bit.training import bit_run

    monkeypatch.setattr(bit_run, "load_split", _refuse_to_read)
    data = str(_image_folder(tmp_path / "images"))
    command = ["bit", "train", "--data", data, "--model-dir", str(tmp_path / "r")]
    with pytest.raises(ValueError, match=r"--preset must be one of \[.*'bit_tiny'"):
        main(command + ["--preset", "nope"])
    run = bit_run.BiTRun(tmp_path / "r", data=data, preset="nope")
    with pytest.raises(ValueError, match=r"preset must be one of.*preset='nope'"):
        run.train()


def test_unknown_transformer_preset_is_refused_before_the_data_is_read(
    tmp_path, monkeypatch
):
    from keras_transformer_bit.training import TranslationRun, translation_run

    monkeypatch.setattr(translation_run, "load_corpus", _refuse_to_read)
    monkeypatch.setattr(translation_run, "load_translation_corpus", _refuse_to_read)
    command = ["translate", "train", "--data", "ding"]
    command += ["--model-dir", str(tmp_path / "run"), "--preset", "nope"]
    with pytest.raises(ValueError, match=r"--preset must be one of.*--preset='nope'"):
        main(command)
    run = TranslationRun(tmp_path / "run", data="ding", preset="nope")
    with pytest.raises(ValueError, match=r"preset must be one of.*preset='nope'"):
        run.train()


def test_unknown_bit_weights_are_named_before_the_data_is_read(tmp_path):
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--preset"]
    command += ["bit_tiny", "--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match=r"--weights must be .*--weights='nope'"):
        main(command + ["--weights", "nope"])
    from keras_transformer_bit.training import BiTRun

    run = BiTRun(tmp_path / "run", data="fashion_mnist", weights="nope")
    with pytest.raises(ValueError, match=r"weights must be .*'imagenet21k'.*"):
        run.train()
