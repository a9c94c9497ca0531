import json
import os
import re
import subprocess
import sys
import time
import uuid

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.cli.main import main
from tests.distribute.processes import kill, wait_for_line

# `ktb bit train` as a command, for runs in their own processes.
KTB_BIT_TRAIN = [sys.executable, "-m", "keras_transformer_bit.cli.main", "bit", "train"]


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
                "--batch-scaling",
                "linear",
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
    # [100, ..., 500] at batch 512 -> x128 at batch 4 (linear scaling) ->
    # x0.0001, rounded up.
    assert config["rule"]["supports"] == [2, 3, 4, 6, 7]
    assert config["class_names"] == ["circles", "squares"]

    assert main(["bit", "evaluate", *common, "--split", "test"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["num_examples"] == 6 and 0 <= result["accuracy"] <= 1

    assert main(["bit", "export", "--model-dir", model_dir]) == 0
    served = tf.saved_model.load(os.path.join(model_dir, "export", "1"))
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
    with pytest.raises(ValueError, match="--num-epochs must be a positive int"):
        main(["bit", "train", "--data", "fashion_mnist", "--model-dir",
              str(tmp_path), "--num-epochs", "0"])  # fmt: skip
    with pytest.raises(FileNotFoundError, match="ktb bit train"):
        main(["bit", "export", "--model-dir", str(tmp_path)])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--shots", "0"], "--shots must be a positive int"),
        (["--shots", "-3"], "--shots must be a positive int"),
        (["--batch-size", "0"], "--batch-size must be a positive int"),
        (["--crop-size", "0"], "--crop-size must be a positive int"),
        (["--crop-size", "-32"], "--crop-size must be a positive int"),
        (["--micro-batch-size", "0"], "--micro-batch-size must be a positive int"),
        (["--eval-every", "0"], "--eval-every must be a positive int"),
        (["--schedule-scale", "0"], r"--schedule-scale must be in \(0, 1\]"),
        (["--schedule-scale", "-0.5"], r"--schedule-scale must be in \(0, 1\]"),
        (["--schedule-scale", "2"], r"--schedule-scale must be in \(0, 1\]"),
    ],
)
def test_train_refuses_zero_and_negative_flags(tmp_path, flags, message):
    # Refused before any data is read: a missing folder would fail later.
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--model-dir"]
    with pytest.raises(ValueError, match=message):
        main(command + [str(tmp_path / "run"), *flags])


def test_eval_every_needs_a_test_set_and_no_num_epochs(tmp_path):
    command = ["bit", "train", "--data", str(tmp_path), "--model-dir", str(tmp_path)]
    with pytest.raises(ValueError, match="--eval-every needs --eval-data"):
        main(command + ["--eval-every", "10"])
    with pytest.raises(ValueError, match="either --num-epochs or --eval-every"):
        main(command + ["--eval-every", "10", "--num-epochs", "2"])


@pytest.mark.large
def test_train_evaluates_every_eval_every_updates(tmp_path, capsys):
    data = _image_folder(tmp_path / "train")
    test = _image_folder(tmp_path / "test", per_class=2)
    command = ["bit", "train", "--data", str(data), "--eval-data", str(test)]
    command += ["--preset", "bit_tiny", "--batch-size", "4", "--crop-size", "16"]
    command += ["--schedule-scale", "0.01", "--eval-every", "2"]
    assert main(command + ["--model-dir", str(tmp_path / "run")]) == 0
    # Supports (1, 2, 3, 4, 5) at batch 4 (official scaling): evaluated after
    # updates 2, 4 and 5.
    log = capsys.readouterr().out
    epochs = re.findall(r"^Epoch (\d+)/(\d+)", log, re.M)
    assert epochs[-1] == ("3", "3"), log
    assert len(re.findall(r"val_accuracy", log)) == 3, log
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "triangles").mkdir()
    (tmp_path / "other" / "triangles" / "0.png").write_bytes(
        (test / "circles" / "0.png").read_bytes()
    )
    with pytest.raises(ValueError, match="classes the model does not know"):
        main(
            ["bit", "train", "--data", str(data), "--eval-data",
             str(tmp_path / "other"), "--model-dir", str(tmp_path / "run2")]
        )  # fmt: skip


def test_evaluate_refuses_zero_batch_size(tmp_path):
    command = ["bit", "evaluate", "--data", str(tmp_path), "--model-dir"]
    with pytest.raises(ValueError, match="--batch-size must be a positive int"):
        main(command + [str(tmp_path), "--batch-size", "0"])


def _trained_weights(model_dir):
    path = os.path.join(model_dir, "model.keras")
    return keras.saving.load_model(path, compile=False).get_weights()


def _max_abs_diff(weights, other_weights):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(weights, other_weights))


@pytest.mark.large
@pytest.mark.timeout(300)
def test_two_workers_train_like_one_process(tmp_path):
    # 8 images, batch 4, 7 steps in 3 epochs: each worker computes 2 images of
    # every batch. The reference is the plain `fit` path in one process with
    # one device (TensorFlow's default strategy).
    data = _image_folder(tmp_path / "images", per_class=4)
    tiny = ["--data", f"folder:{data}", "--preset", "bit_tiny", "--batch-size", "4"]
    tiny += ["--batch-scaling", "linear"]
    tiny += ["--crop-size", "16", "--schedule-scale", "0.0001", "--num-epochs", "3"]
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    single_dir, cluster_dir = tmp_path / "single", tmp_path / "cluster"
    with open(tmp_path / "single.log", "w") as log:
        single = subprocess.Popen(
            KTB_BIT_TRAIN + tiny + ["--model-dir", str(single_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    command = KTB_BIT_TRAIN + tiny + ["--strategy", "multi_worker"]
    cluster = ktb.distribute.LocalCluster(command + ["--model-dir", str(cluster_dir)])
    try:
        cluster.start()
        codes = cluster.wait(timeout_seconds=240)
        single_code = single.wait(timeout=240)
    finally:
        cluster.stop()
        kill(single)
    outputs = [cluster.output(index) for index in range(2)]
    assert codes == [0, 0], outputs
    assert single_code == 0, (tmp_path / "single.log").read_text()
    assert "MultiWorkerMirroredStrategy, 2 replica(s) over 2 workers" in outputs[0]
    assert "Saved" in outputs[0] and "Saved" not in outputs[1]
    # The chief wrote the run; the checkpoints that guarded it are gone, and
    # the other worker left nothing behind.
    assert sorted(os.listdir(cluster_dir)) == ["bit_config.json", "logs", "model.keras"]
    config = json.loads((cluster_dir / "bit_config.json").read_text())
    assert config["rule"]["supports"] == [2, 3, 4, 6, 7]

    reference = _trained_weights(single_dir)
    with ktb.distribute.get_strategy("one_device").scope():
        keras.utils.set_random_seed(0)
        initial = ktb.models.BiTClassifier.from_preset("bit_tiny", num_classes=2)
    moved = _max_abs_diff(reference, initial.get_weights())
    diff = _max_abs_diff(_trained_weights(cluster_dir), reference)
    print(
        f"2 workers vs 1 process: max abs diff {diff:.3g} (weights moved {moved:.3g})"
    )
    assert moved > 5e-5
    assert diff <= 1e-5


@pytest.mark.large
@pytest.mark.timeout(300)
def test_sigkilled_train_resumes_from_backup(tmp_path):
    # 64 updates in 6 epochs of 11 (the last one 9). Killed during an epoch
    # after the first backup, the same command continues at the next epoch.
    data = _image_folder(tmp_path / "images", per_class=4)
    model_dir = tmp_path / "run"
    command = KTB_BIT_TRAIN + ["--data", f"folder:{data}", "--preset", "bit_tiny"]
    command += ["--batch-size", "4", "--crop-size", "16", "--schedule-scale", "0.001"]
    command += ["--batch-scaling", "linear"]
    command += ["--num-epochs", "6", "--model-dir", str(model_dir)]
    command += ["--strategy", "one_device"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # "Epoch 3/6" is printed once epoch 2 ended and its backup was written.
        assert wait_for_line(log.read_text, r"^Epoch 3/6", 200), log.read_text()
        time.sleep(0.3)  # into epoch 3
    finally:
        kill(first)
    began = [int(e) for e in re.findall(r"^Epoch (\d+)/6", log.read_text(), re.M)]
    backup = json.loads((model_dir / "backup" / "training_metadata.json").read_text())
    assert not (model_dir / "model.keras").exists()
    second = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=200
    )
    assert second.returncode == 0, second.stdout + second.stderr
    resumed = [int(e) for e in re.findall(r"^Epoch (\d+)/6", second.stdout, re.M)]
    print(
        f"killed in epoch {began[-1]} (backup after epoch {backup['epoch']}); "
        f"resumed with epochs {resumed}"
    )
    # At most the epoch that was running is lost; the rest continue.
    assert 2 <= backup["epoch"] < 6 and began[-1] - backup["epoch"] <= 1
    assert resumed == list(range(backup["epoch"] + 1, 7))
    # The optimizer state came back too: one schedule of 64 updates in all.
    model = keras.saving.load_model(model_dir / "model.keras")
    assert int(model.optimizer.iterations) == 64
    assert sorted(os.listdir(model_dir)) == ["bit_config.json", "logs", "model.keras"]


@pytest.mark.large
def test_mirrored_train_stops_at_the_end_of_the_schedule(tmp_path):
    # 7 updates in 3 epochs of 3: the last epoch stops after its first update,
    # which reads optimizer.iterations, a MirroredVariable under the strategy.
    data = _image_folder(tmp_path / "images", per_class=4)
    model_dir = tmp_path / "run"
    command = ["bit", "train", "--data", f"folder:{data}", "--preset", "bit_tiny"]
    command += ["--batch-size", "4", "--crop-size", "16", "--schedule-scale", "0.0001"]
    command += ["--batch-scaling", "linear"]
    command += ["--num-epochs", "3", "--strategy", "mirrored"]
    assert main(command + ["--model-dir", str(model_dir)]) == 0
    model = keras.saving.load_model(model_dir / "model.keras")
    assert int(model.optimizer.iterations) == 7


@pytest.mark.large
def test_run_directory_on_another_file_system(tmp_path):
    # ram:// (TensorFlow's in-memory file system) stands in for gs://, s3://
    # and hdfs://: train (with its backups), evaluate and export.
    data = _image_folder(tmp_path / "images")
    model_dir = f"ram://ktb_{uuid.uuid4().hex}/run"
    os.chdir(tmp_path)
    train = ["bit", "train", "--data", f"folder:{data}", "--model-dir", model_dir]
    train += ["--preset", "bit_tiny", "--batch-size", "4", "--crop-size", "16"]
    train += ["--schedule-scale", "0.0001", "--num-epochs", "2"]
    train += ["--strategy", "one_device"]
    assert main(train) == 0
    names = {name.rstrip("/") for name in tf.io.gfile.listdir(model_dir)}
    assert {"model.keras", "bit_config.json", "logs"} <= names
    assert "backup" not in names  # the finished run's backup is gone
    evaluate = ["bit", "evaluate", "--data", f"folder:{data}"]
    assert main(evaluate + ["--model-dir", model_dir]) == 0
    assert tf.io.gfile.exists(f"{model_dir}/test_metrics.json")
    assert main(["bit", "export", "--model-dir", model_dir]) == 0
    assert tf.io.gfile.exists(f"{model_dir}/export/1/saved_model.pb")
    assert sorted(os.listdir(tmp_path)) == ["images"]  # no local "ram:" directory


def test_batch_size_must_split_over_the_replicas(tmp_path):
    # Refused before any data is read (the folder is absent): 15 images cannot
    # split over the 2 logical CPUs of the mirrored strategy.
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--model-dir"]
    command += [str(tmp_path / "run"), "--strategy", "mirrored"]
    with pytest.raises(ValueError, match=r"--batch-size 15 .*2 replicas"):
        main(command + ["--batch-size", "15"])
    with pytest.raises(ValueError, match=r"--micro-batch-size 3 .*2 replicas"):
        main(command + ["--batch-size", "12", "--micro-batch-size", "3"])
    assert not os.path.exists(tmp_path / "run")


def test_train_refuses_a_translation_run_directory(tmp_path):
    model_dir = tmp_path / "de_en"
    model_dir.mkdir()
    (model_dir / "translate_config.json").write_text("{}")
    (model_dir / "model.keras").write_bytes(b"translation weights")
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--model-dir"]
    with pytest.raises(ValueError, match=r"translate train.*translate_config\.json"):
        main(command + [str(model_dir)])
    assert (model_dir / "model.keras").read_bytes() == b"translation weights"


def test_ram_model_dir_is_refused_for_multi_worker(tmp_path):
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--model-dir"]
    command += ["ram://ktb_mw/run", "--strategy", "multi_worker"]
    with pytest.raises(ValueError, match=r"ram://ktb_mw/run.*multi_worker"):
        main(command)


def test_ram_model_dir_warns_that_the_run_ends_with_the_process(tmp_path):
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--model-dir"]
    with pytest.warns(UserWarning, match="does not outlive this process"):
        with pytest.raises(ValueError, match="--data must be"):
            main(command + ["ram://ktb_warn/run", "--strategy", "one_device"])


def test_shard_files_needs_multi_worker(tmp_path):
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--model-dir"]
    command += [str(tmp_path / "run"), "--strategy", "one_device", "--shard-files"]
    with pytest.raises(ValueError, match="--shard-files .*multi_worker"):
        main(command)


@pytest.mark.large
def test_killed_while_saving_the_model_resumes(tmp_path, monkeypatch, capsys):
    # A kill while model.keras is written (here: a save that writes part of
    # the file, then dies) must leave the backup, no half model.keras and no
    # bit_config.json; the same command then finishes the run without
    # training again.
    data = _image_folder(tmp_path / "images", per_class=4)
    model_dir = tmp_path / "run"
    command = ["bit", "train", "--data", f"folder:{data}", "--preset", "bit_tiny"]
    command += ["--batch-size", "4", "--crop-size", "16", "--schedule-scale", "0.0001"]
    command += ["--batch-scaling", "linear", "--num-epochs", "3"]
    command += ["--strategy", "one_device", "--model-dir", str(model_dir)]

    def dies_while_saving(model, path, *args, **kwargs):
        with open(path, "wb") as file:
            file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt("killed while saving")

    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save", dies_while_saving)
        with pytest.raises(KeyboardInterrupt):
            main(command)
    names = sorted(os.listdir(model_dir))
    assert "model.keras" not in names and "bit_config.json" not in names, names
    assert "backup" in names, names
    capsys.readouterr()
    assert main(command) == 0
    out = capsys.readouterr().out
    assert not re.findall(r"^Epoch \d+/", out, re.M), out  # nothing trained again
    model = keras.saving.load_model(model_dir / "model.keras")
    assert int(model.optimizer.iterations) == 7
    assert sorted(os.listdir(model_dir)) == ["bit_config.json", "logs", "model.keras"]


@pytest.mark.large
def test_num_epochs_that_do_not_divide_the_schedule(tmp_path, capsys):
    # 7 updates: --num-epochs 3 -> epochs of 3, 3 and 1 update (the last one
    # displayed as 1/1); --num-epochs 5 -> 4 epochs of 2, 2, 2 and 1, said so.
    data = _image_folder(tmp_path / "images", per_class=4)
    command = ["bit", "train", "--data", f"folder:{data}", "--preset", "bit_tiny"]
    command += ["--batch-size", "4", "--crop-size", "16", "--schedule-scale", "0.0001"]
    command += ["--batch-scaling", "linear", "--strategy", "one_device"]
    assert (
        main(command + ["--num-epochs", "3", "--model-dir", str(tmp_path / "a")]) == 0
    )
    out = capsys.readouterr().out
    steps = re.findall(r"^Epoch (\d+)/3\n(\d+)/(\d+) - ", out, re.M)
    assert steps == [("1", "3", "3"), ("2", "3", "3"), ("3", "1", "1")], out
    assert "7 updates in 3 epochs of 3, 3 and 1" in out, out

    assert (
        main(command + ["--num-epochs", "5", "--model-dir", str(tmp_path / "b")]) == 0
    )
    out = capsys.readouterr().out
    assert re.findall(r"^Epoch (\d+)/(\d+)", out, re.M)[-1] == ("4", "4"), out
    assert "--num-epochs 5" in out and "4 epochs of 2, 2, 2 and 1" in out, out


def test_train_refuses_a_negative_seed(tmp_path):
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--model-dir"]
    with pytest.raises(
        ValueError, match=r"--seed must be an int in \[0, 2\*\*32 - 1\].*--seed=-1"
    ):
        main(command + [str(tmp_path / "run"), "--seed", "-1"])
    assert not os.path.exists(tmp_path / "run")


def test_evaluate_refuses_an_unknown_split(tmp_path):
    # Refused before the run is read: the model directory is empty.
    for data in ("fashion_mnist", str(tmp_path)):
        command = ["bit", "evaluate", "--data", data, "--model-dir", str(tmp_path)]
        with pytest.raises(ValueError, match=r"--split must be one of.*'bogus'"):
            main(command + ["--split", "bogus"])


def _tiny_train_command(data, model_dir):
    command = ["bit", "train", "--data", f"folder:{data}", "--preset", "bit_tiny"]
    command += ["--batch-size", "4", "--crop-size", "16", "--schedule-scale", "0.0001"]
    command += ["--batch-scaling", "linear", "--num-epochs", "1"]
    return command + ["--strategy", "one_device", "--model-dir", str(model_dir)]


@pytest.mark.large
def test_a_rerun_with_changed_flags_is_refused(tmp_path, capsys):
    data = _image_folder(tmp_path / "images")
    model_dir = tmp_path / "run"
    command = _tiny_train_command(data, model_dir)
    assert main(command) == 0
    weights = (model_dir / "model.keras").read_bytes()
    config = json.loads((model_dir / "bit_config.json").read_text())
    assert config["flags"]["crop_size"] == 16 and config["flags"]["seed"] == 0
    assert sorted(os.listdir(model_dir)) == ["bit_config.json", "logs", "model.keras"]
    capsys.readouterr()

    for flags, message in [
        (["--crop-size", "24"], r"--crop-size 24 \(saved: --crop-size 16\)"),
        (["--seed", "3"], r"--seed 3 \(saved: --seed 0\)"),
        (["--shots", "1"], r"--shots 1 \(saved: --shots \(not given\)\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            main(command + flags)
    # The same command again: the run is finished, nothing is trained.
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "finished run" in out and not re.findall(r"^Epoch ", out, re.M), out
    assert (model_dir / "model.keras").read_bytes() == weights


def test_a_rerun_of_an_unfinished_run_with_changed_flags_is_refused(tmp_path):
    # A run killed during training has its flags in bit_train_flags.json.
    data = _image_folder(tmp_path / "images")
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    parser_flags = _tiny_train_command(data, model_dir)
    from keras_transformer_bit.cli.main import build_parser

    args = build_parser().parse_args(parser_flags)
    from keras_transformer_bit.cli.bit import bit_run
    from keras_transformer_bit.training.bit_run import FLAGS_FILE

    (model_dir / FLAGS_FILE).write_text(json.dumps(bit_run(args).recorded_settings()))
    with pytest.raises(ValueError, match=r"unfinished run.*--preset bit_m_r50x1"):
        main(parser_flags + ["--preset", "bit_m_r50x1"])


@pytest.mark.large
def test_export_writes_numbered_versions_and_warns_about_other_names(tmp_path):
    data = _image_folder(tmp_path / "images")
    model_dir = tmp_path / "run"
    assert main(_tiny_train_command(data, model_dir)) == 0
    assert main(["bit", "export", "--model-dir", str(model_dir)]) == 0
    assert main(["bit", "export", "--model-dir", str(model_dir)]) == 0
    assert sorted(os.listdir(model_dir / "export")) == ["1", "2"]
    output = str(tmp_path / "served" / "pets")
    with pytest.warns(UserWarning, match=r"version number.*served/pets/1"):
        main(["bit", "export", "--model-dir", str(model_dir), "--output", output])
    assert os.path.exists(os.path.join(output, "saved_model.pb"))


def _fake_run(model_dir):
    # Enough of a finished run for the output checks, which come first.
    os.makedirs(model_dir / "export" / "1")
    os.makedirs(model_dir / "export" / "2")
    (model_dir / "bit_config.json").write_text('{"crop_size": 16, "class_names": []}')
    (model_dir / "model.keras").write_text("weights")


@pytest.mark.parametrize(
    "output, message",
    [
        (".", r"is the --model-dir"),
        ("..", r"contains the --model-dir"),
        ("export", r"export already exists.*export/3"),
        ("export/1", r"export/1 already exists.*export/3"),
    ],
)
def test_export_never_deletes_an_existing_directory(tmp_path, output, message):
    model_dir = tmp_path / "runs" / "copy"
    _fake_run(model_dir)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    output = os.path.normpath(os.path.join(model_dir, output))
    with pytest.raises((ValueError, FileExistsError), match=message):
        main(["bit", "export", "--model-dir", str(model_dir), "--output", output])
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_export_help_says_an_existing_output_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["bit", "export", "--help"])
    assert "refused" in " ".join(capsys.readouterr().out.split())


def _parse(flags):
    from keras_transformer_bit.cli.main import build_parser

    return build_parser().parse_args(flags)


def test_rerun_paths_are_compared_resolved(tmp_path, monkeypatch):
    from keras_transformer_bit.cli.bit import bit_run
    from keras_transformer_bit.training.bit_run import FLAGS_FILE

    for name in ("a", "b"):
        _image_folder(tmp_path / name / "images")
    (tmp_path / "a" / "ckpt").mkdir()
    (tmp_path / "a" / "ckpt" / "x.npz").write_bytes(b"")
    model_dir = tmp_path / "runs" / "half"
    model_dir.mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a")
    command = _tiny_train_command("images", "../runs/half") + ["--weights", "ckpt/x"]
    recorded = bit_run(_parse(command)).recorded_settings()
    (model_dir / FLAGS_FILE).write_text(json.dumps(recorded))

    # The same folder and checkpoint, spelt otherwise: the same run.
    same = _tiny_train_command(tmp_path / "a" / "images", model_dir)
    assert not bit_run(_parse(same + ["--weights", "./ckpt/x.npz"])).check_rerun()
    from keras_transformer_bit.training.bit_run import resolved_data

    assert resolved_data("folder:images") == resolved_data(str(tmp_path / "a/images"))
    # The same command from another directory names another folder: refused.
    monkeypatch.chdir(tmp_path / "b")
    with pytest.raises(
        ValueError, match=r"--data .*b/images \(saved: --data .*a/images"
    ):
        bit_run(_parse(command)).check_rerun()


def test_resuming_on_other_data_of_the_same_classes_is_refused(tmp_path):
    from keras_transformer_bit.cli.bit import bit_run
    from keras_transformer_bit.training.bit_run import FLAGS_FILE

    data = _image_folder(tmp_path / "images", per_class=3)
    model_dir = tmp_path / "run"
    model_dir.mkdir()
    command = _tiny_train_command(data, model_dir)
    saved = bit_run(_parse(command)).recorded_settings()
    saved["data_fingerprint"] = ktb.data.load_image_folder(str(data)).fingerprint()
    (model_dir / FLAGS_FILE).write_text(json.dumps(saved))
    (data / "squares" / "0.png").unlink()  # the folder changed since
    with pytest.raises(ValueError, match=r"training data.*squares.: 2.*saved.*3"):
        main(command)
    assert sorted(os.listdir(model_dir)) == [FLAGS_FILE]


def test_a_seed_out_of_range_is_refused_up_front_naming_the_flag(tmp_path):
    command = ["bit", "train", "--data", str(tmp_path / "absent"), "--model-dir"]
    with pytest.raises(ValueError, match=r"--seed must be .*2\*\*32 - 1.*99999999999"):
        main(command + [str(tmp_path / "run"), "--seed", "99999999999"])
    assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize("command", ["export", "evaluate"])
def test_an_unfinished_run_is_named_as_such(tmp_path, command):
    from keras_transformer_bit.training.bit_run import FLAGS_FILE

    (tmp_path / FLAGS_FILE).write_text("{}")  # a run killed during training
    flags = ["bit", command, "--model-dir", str(tmp_path)]
    if command == "evaluate":
        flags += ["--data", "fashion_mnist"]
    with pytest.raises(FileNotFoundError, match=r"unfinished run.*Rerun.*resume"):
        main(flags)
