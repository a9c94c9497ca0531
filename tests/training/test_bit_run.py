"""`BiTRun`: the run directory of `ktb bit train`, from Python."""

import json
import os
import signal

import keras
import numpy as np
import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.training import BiTRun, default_bit_settings
from keras_transformer_bit.training import bit_run as run_files
from tests.cli.test_bit_cli import _image_folder
from tests.distribute.test_interrupt_between_steps import CtrlCInStep

# A schedule of a few updates of 4 images at 16x16.
TINY = dict(
    preset="bit_tiny",
    batch_size=4,
    crop_size=16,
    schedule_scale=0.0001,
    batch_scaling="linear",
    num_epochs=1,
)


@pytest.mark.large
def test_train_in_user_code_then_a_rerun_trains_nothing(tmp_path, capsys):
    data = _image_folder(tmp_path / "images")
    model_dir = tmp_path / "run"
    run = BiTRun(str(model_dir), strategy="one_device", data=str(data), **TINY)
    config = run.train(verbose=0)
    assert config["class_names"] == ["circles", "squares"]
    assert config["crop_size"] == 16
    assert config["flags"]["data"] == os.path.realpath(data)
    saved = json.loads((model_dir / run_files.CONFIG_FILE).read_text())
    assert saved["flags"] == config["flags"]
    assert sorted(os.listdir(model_dir)) == ["bit_config.json", "logs", "model.keras"]
    weights = (model_dir / "model.keras").read_bytes()
    capsys.readouterr()

    # Again, the same settings: done, nothing trained, nothing written.
    again = BiTRun(str(model_dir), strategy="one_device", data=str(data), **TINY)
    assert again.train() is None
    assert "holds a finished run of these settings" in capsys.readouterr().out
    assert (model_dir / "model.keras").read_bytes() == weights
    # Another setting: refused, named the Python way.
    changed = {**TINY, "crop_size": 24}
    with pytest.raises(ValueError, match=r"crop_size=24 \(saved: crop_size=16\)"):
        BiTRun(str(model_dir), data=str(data), **changed).train()
    # The trained classifier reloads from the file the run wrote.
    model = keras.saving.load_model(model_dir / "model.keras")
    assert isinstance(model, ktb.models.BiTClassifier)
    logits = model.predict(np.zeros((2, 16, 16, 3), "float32"), verbose=0)
    assert logits.shape == (2, 2) and np.all(np.isfinite(logits))


def test_bad_settings_are_named_before_anything_is_read(tmp_path):
    run_dir = str(tmp_path / "run")
    with pytest.raises(TypeError, match=r"'shot' \(did you mean 'shots'\?\)"):
        BiTRun(run_dir, data="fashion_mnist", shot=5)
    with pytest.raises(ValueError, match=r"data is required.*Received: data=None"):
        BiTRun(run_dir, preset="bit_tiny")
    cases = [
        (dict(shots=0), "shots must be a positive int"),
        (dict(seed=-3), r"seed must be an int in \[0, 2\*\*32 - 1\]"),
        (dict(schedule_scale=1.5), r"schedule_scale must be in \(0, 1\]"),
        (dict(batch_scaling="sqrt"), "batch_scaling must be 'official' or 'linear'"),
        (dict(num_epochs=2, eval_every=10), "either num_epochs or eval_every"),
        (dict(data="folder", eval_every=10), "eval_every needs eval_data"),
        (dict(mixed_precision="yes"), r"mixed_precision must be True or False"),
    ]
    for settings, message in cases:
        settings = {"data": "fashion_mnist", **settings}
        with pytest.raises(ValueError, match=message):
            BiTRun(run_dir, **settings).train()
    with pytest.raises(ValueError, match="worker_timeout must be > 0 seconds"):
        BiTRun(run_dir, data="fashion_mnist").train(worker_timeout=0)
    with pytest.raises(ValueError, match=r"Received: data='absent'.*no such directory"):
        BiTRun(run_dir, data="absent", strategy="one_device").train()
    assert not os.path.exists(run_dir)


def test_the_settings_and_their_defaults_are_the_commands_flags():
    from keras_transformer_bit.cli.main import build_parser

    args = build_parser().parse_args(
        ["bit", "train", "--data", "fashion_mnist", "--model-dir", "x"]
    )
    defaults = default_bit_settings()
    for name, value in defaults.items():
        expected = "fashion_mnist" if name == "data" else value
        assert getattr(args, name) == expected, (name, value)


@pytest.mark.large
def test_a_start_refused_during_training_leaves_the_directory_as_it_was(tmp_path):
    # micro_batch_size=3 does not divide the batch of 4: bit_fine_tune
    # refuses it, and the corrected call must not be refused as a changed run.
    data = _image_folder(tmp_path / "images")
    model_dir = tmp_path / "run"
    bad = {**TINY, "micro_batch_size": 3}
    with pytest.raises(ValueError, match="micro_batch_size"):
        BiTRun(str(model_dir), strategy="one_device", data=str(data), **bad).train()
    assert not model_dir.exists()
    good = {**TINY, "micro_batch_size": 2}
    config = BiTRun(
        str(model_dir), strategy="one_device", data=str(data), **good
    ).train(verbose=0)
    assert config["flags"]["micro_batch_size"] == 2


def test_numpy_numbers_paths_and_a_file_as_model_dir(tmp_path):
    run = BiTRun(
        str(tmp_path / "run"),
        data=tmp_path / "images",
        shots=np.int64(4),
        crop_size=np.int64(16),
        schedule_scale=np.float32(0.5),
    )
    assert run.settings["data"] == str(tmp_path / "images")
    assert type(run.settings["shots"]) is int and run.settings["shots"] == 4
    assert type(run.settings["schedule_scale"]) is float
    json.dumps(run.recorded_settings())  # what the run writes
    afile = tmp_path / "afile"
    afile.write_text("mine")
    with pytest.raises(ValueError, match="afile is a file, not a directory"):
        BiTRun(str(afile), data="fashion_mnist").train()
    assert afile.read_text() == "mine"


def test_a_folder_of_one_class_is_refused(tmp_path):
    data = _image_folder(tmp_path / "images")
    for path in (data / "squares").iterdir():
        path.unlink()
    (data / "squares").rmdir()
    with pytest.raises(ValueError, match=r"has 1 class \(\['circles'\]\).*at least 2"):
        BiTRun(str(tmp_path / "run"), strategy="one_device", data=str(data)).train()
    assert not (tmp_path / "run").exists()


def _images_in_memory(seed, per_class=4):
    """A `LabeledImages` of random 16x16 pixels, two classes."""
    pixels = np.random.default_rng(seed).integers(
        0, 256, (2 * per_class, 16, 16, 3), dtype="uint8"
    )
    return ktb.data.LabeledImages(pixels, [0, 1] * per_class, ["dark", "light"])


@pytest.mark.large
def test_images_from_python_train_rerun_as_finished_and_other_images_are_refused(
    tmp_path, capsys
):
    images, model_dir = _images_in_memory(seed=0), tmp_path / "run"
    settings = dict(
        TINY, shots=3, seed=1, eval_data=_images_in_memory(seed=5, per_class=2)
    )
    config = BiTRun(
        str(model_dir), strategy="one_device", data=images, **settings
    ).train(verbose=0)
    assert config["class_names"] == ["dark", "light"]
    # What the run records is plain JSON: a description naming the digest.
    digest = images.fingerprint()["sha256"]
    recorded = json.loads((model_dir / run_files.CONFIG_FILE).read_text())["flags"]
    assert recorded["data"] == config["flags"]["data"]
    assert digest[:16] in recorded["data"] and "8 images" in recorded["data"]
    assert recorded["data_fingerprint"] == images.fingerprint()
    assert recorded["eval_data"].startswith("LabeledImages")
    rerun = BiTRun(str(model_dir), data=images, **settings)
    assert rerun.saved_config() == config
    # The saved classifier, where model_path says, classifies both classes.
    classifier = keras.saving.load_model(rerun.model_path)
    assert classifier.predict(images.images[:2], verbose=0).shape == (2, 2)
    capsys.readouterr()

    # The same pixels in another object: the finished run, nothing trained.
    same = _images_in_memory(seed=0)
    assert BiTRun(str(model_dir), data=same, **settings).train() is None
    assert "holds a finished run of these settings" in capsys.readouterr().out
    # Other pixels with the same classes and counts: refused, naming data.
    other = _images_in_memory(seed=1)
    with pytest.raises(
        ValueError, match=r"other settings: data=.LabeledImages\(8 images"
    ):
        BiTRun(str(model_dir), data=other, **settings).train()
    # A path where the run had images from Python: refused the same way.
    with pytest.raises(ValueError, match=r"data='fashion_mnist' \(saved: data='Lab"):
        BiTRun(str(model_dir), **{**settings, "data": "fashion_mnist"}).train()


@pytest.mark.large
def test_images_from_python_resume_and_refuse_other_images_mid_run(tmp_path):
    # A run killed after its settings were written: a rerun with other pixels
    # of the same classes is refused before any training, naming the data.
    images, model_dir = _images_in_memory(seed=0), tmp_path / "run"
    run = BiTRun(str(model_dir), strategy="one_device", data=images, **TINY)
    model_dir.mkdir()
    flags = {**run.recorded_settings(), "data_fingerprint": images.fingerprint()}
    (model_dir / run_files.FLAGS_FILE).write_text(json.dumps(flags))
    with pytest.raises(
        ValueError, match=r"unfinished run trained with other settings: data="
    ):
        BiTRun(str(model_dir), data=_images_in_memory(seed=1), **TINY).train()
    config = BiTRun(
        str(model_dir), strategy="one_device", data=_images_in_memory(seed=0), **TINY
    ).train(verbose=0)
    assert config["flags"]["data_fingerprint"] == images.fingerprint()


def test_data_of_a_wrong_type_is_named_with_what_was_expected(tmp_path):
    run_dir = str(tmp_path / "run")
    pixels = np.zeros((4, 8, 8, 3), "uint8")
    with pytest.raises(
        TypeError,
        match=r"data must be .*LabeledImages.*Received: "
        r"data=<numpy.ndarray of shape \(4, 8, 8, 3\)>",
    ):
        BiTRun(run_dir, data=pixels)
    with pytest.raises(TypeError, match=r"eval_data must be .*Received: eval_data=3"):
        BiTRun(run_dir, data="fashion_mnist", eval_data=3)
    # An evaluation split of images from Python needs them passed as eval_data.
    with pytest.raises(ValueError, match="eval_every needs eval_data"):
        BiTRun(run_dir, data=_images_in_memory(0), eval_every=5).train()
    assert not os.path.exists(run_dir)


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_during_a_step_stops_the_run_before_the_next_one(
    tmp_path, monkeypatch, capsys
):
    data = _image_folder(tmp_path / "images")
    presser = CtrlCInStep(step=1)
    made = ktb.distribute.training_callbacks
    monkeypatch.setattr(
        ktb.distribute, "training_callbacks", lambda *a, **k: [*made(*a, **k), presser]
    )
    run = BiTRun(str(tmp_path / "run"), strategy="one_device", data=str(data), **TINY)
    with pytest.raises(KeyboardInterrupt):
        run.train(verbose=0)
    assert presser.steps_begun == 2
    assert "stopping once the current step" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_during_the_final_save_lets_the_run_finish(
    tmp_path, monkeypatch, capsys
):
    data = _image_folder(tmp_path / "images")
    save = ktb.distribute.save_model_on_chief

    def save_with_ctrl_c(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return save(*args, **kwargs)

    monkeypatch.setattr(ktb.distribute, "save_model_on_chief", save_with_ctrl_c)
    model_dir = tmp_path / "run"
    run = BiTRun(str(model_dir), strategy="one_device", data=str(data), **TINY)
    assert run.train(verbose=0)["class_names"] == ["circles", "squares"]
    assert "came too late to stop anything" in capsys.readouterr().err
    assert sorted(os.listdir(model_dir)) == ["bit_config.json", "logs", "model.keras"]
