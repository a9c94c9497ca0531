import json
import os
import re
import sys
import time
import uuid

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.cli.main import main
from tests.distribute.processes import wait_for_line

GERMAN = "ich du er wir ihr sie bin bist ist sind hier dort heute morgen".split()
ENGLISH = "i you he we you they am are is are here there today tomorrow".split()


def _write_corpus(path, num_pairs=80):
    lines = []
    for index in range(num_pairs):
        words = [(index * 7 + k * 3) % len(GERMAN) for k in range(2 + index % 4)]
        german = " ".join(GERMAN[w] for w in words).capitalize() + f" {index}."
        english = " ".join(ENGLISH[w] for w in words).capitalize() + f" {index}."
        lines.append(f"{german}\t{english}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# What a finished run of the recipe leaves in its model directory
# (averaged.keras: the recipe averages the last epochs; target_tokenizer: it
# learns a vocabulary per language).
RUN_FILES = [
    "averaged.keras",
    "best.json",
    "best.keras",
    "history.json",
    "logs",
    "model.keras",
    "source_tokenizer",
    "target_tokenizer",
    "translate_config.json",
]

TINY = [
    "--preset",
    "transformer_tiny",
    "--num-layers",
    "1",
    "--hidden-dim",
    "16",
    "--intermediate-dim",
    "32",
    "--num-heads",
    "2",
    "--vocabulary-size",
    "80",
    "--max-length",
    "16",
    "--tokens-per-batch",
    "128",
    "--bleu-examples",
    "4",
    "--test-size",
    "6",
    "--warmup-steps",
    "10",
    "--no-jit",
    "--strategy",
    "one_device",
]


@pytest.mark.large
def test_train_resume_evaluate_predict_export(tmp_path, capsys):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = str(tmp_path / "run")
    args = ["translate", "train", "--data", str(corpus), "--model-dir", model_dir]
    assert main(args + TINY + ["--epochs", "1"]) == 0
    assert sorted(os.listdir(model_dir)) == RUN_FILES
    resume = ["--epochs", "1", "--budget-minutes", "5", "--strategy", "one_device"]
    assert main(args + resume) == 0
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1, 2]
    assert all("val_bleu" in entry and "val_loss" in entry for entry in history)

    capsys.readouterr()
    assert (
        main(
            [
                "translate",
                "evaluate",
                "--model-dir",
                model_dir,
                "--method",
                "greedy",
                "--max-examples",
                "3",
                "--show",
                "0",
            ]
        )
        == 0
    )
    # The summary names the decoding settings, the recipe's stutter guard included.
    output = capsys.readouterr().out
    assert (
        "sacreBLEU (13a, cased) on 3 test sentences with greedy "
        "(--max-repeat-run 2, --max-length "
    ) in output
    # chrF and the degenerate translations too (issue 11 reports both).
    assert re.search(
        r"chrF \d+\.\d; \d of 3 translations repeat a word 3\+ times in a row "
        r"where the source does not; \d are empty",
        output,
    ), output
    # User trial: the file names the subset, so it never replaces a full run's.
    assert "eval_test_greedy_first3.json" in output
    result = json.loads((tmp_path / "run" / "eval_test_greedy_first3.json").read_text())
    assert result["num_sentences"] == 3 and 0 <= result["bleu"] <= 100
    assert 0 <= result["chrf"] <= 100
    assert {result["repetitive"], result["empty"]} <= {0, 1, 2, 3}
    assert (
        main(
            [
                "translate",
                "predict",
                "--model-dir",
                model_dir,
                "--method",
                "greedy",
                "Ich bin hier 3.",
                "Du bist dort 4.",
            ]
        )
        == 0
    )
    assert len(capsys.readouterr().out.strip().split("\n")) == 2
    # Sampling with a seed repeats itself; --max-length bounds the output; the
    # last checkpoint can be chosen over the best.
    sample = ["translate", "predict", "--model-dir", model_dir, "Ich bin hier 3."]
    sample += ["--top-k", "3", "--temperature", "0.8", "--seed", "7"]
    sample += ["--max-length", "4", "--checkpoint", "last"]
    assert main(sample) == 0 and main(sample) == 0
    first, second = capsys.readouterr().out.split("\n")[:2]
    assert first == second and len(first.split()) <= 4
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert best["val_bleu"] == max(entry["val_bleu"] for entry in history)
    # Cross-attention heatmaps, one file per sentence; n-gram blocking.
    plot = str(tmp_path / "attention.png")
    predict = ["translate", "predict", "--model-dir", model_dir, "--method", "greedy"]
    predict += ["--no-repeat-ngram-size", "2", "--max-repeat-run", "1"]
    predict += ["--plot-attention", plot]
    assert main(predict + ["Ich bin hier 3.", "Du bist dort 4."]) == 0
    assert os.path.getsize(tmp_path / "attention-1.png") > 1000
    assert os.path.getsize(tmp_path / "attention-2.png") > 1000
    for line in capsys.readouterr().out.strip().split("\n"):
        words = line.split()
        bigrams = list(zip(words, words[1:]))
        assert len(bigrams) == len(set(bigrams)), line
        assert all(a != b for a, b in bigrams), line
    assert main(predict + ["Ich bin hier 3."]) == 0
    assert os.path.getsize(plot) > 1000

    export_dir = tmp_path / "exported"
    assert (
        main(
            [
                "translate",
                "export",
                "--model-dir",
                model_dir,
                "--output",
                str(export_dir),
                "--method",
                "greedy",
            ]
        )
        == 0
    )
    assert (export_dir / "saved_model.pb").exists()
    # Without --output: the next TF Serving version under the run directory.
    assert (
        main(["translate", "export", "--model-dir", model_dir, "--method", "greedy"])
        == 0
    )
    assert (tmp_path / "run" / "export" / "1" / "saved_model.pb").exists()
    with pytest.raises(ValueError, match="already exists"):
        main(
            [
                "translate",
                "export",
                "--model-dir",
                model_dir,
                "--output",
                str(export_dir),
            ]
        )

    # The two tokenizer directories swapped are named as swapped.
    run = tmp_path / "run"
    (run / "source_tokenizer").rename(run / "swap")
    (run / "target_tokenizer").rename(run / "source_tokenizer")
    (run / "swap").rename(run / "target_tokenizer")
    with pytest.raises(ValueError, match="source and target vocabularies .* swapped"):
        main(["translate", "predict", "--model-dir", model_dir, "x"])
    (run / "source_tokenizer").rename(run / "swap")
    (run / "target_tokenizer").rename(run / "source_tokenizer")
    (run / "swap").rename(run / "target_tokenizer")

    # A vocabulary that does not belong to the model is refused: one of the
    # same size from another build (by its fingerprint), then a larger one.
    vocabulary = tmp_path / "run" / "source_tokenizer" / "vocabulary.txt"
    tokens = vocabulary.read_text().splitlines()
    vocabulary.write_text("\n".join(tokens[:-1] + ["zusatzwort"]) + "\n")
    with pytest.raises(ValueError, match="fingerprint .* do not belong to this model"):
        main(["translate", "predict", "--model-dir", model_dir, "x"])
    vocabulary.write_text("\n".join(tokens + ["zusatz"]) + "\n")
    (tmp_path / "run" / "source_tokenizer" / "tokenizer.json").write_text(
        '{"lower_case": false, "normalization_form": "NFC"}'
    )
    with pytest.raises(ValueError, match="do not belong to this model"):
        main(["translate", "predict", "--model-dir", model_dir, "x"])


def test_bad_inputs_leave_no_model_dir(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    train = ["translate", "train", "--model-dir", str(model_dir)]
    with pytest.raises(ValueError, match="--budget-minutes must be > 0"):
        main(train + ["--data", str(corpus), "--budget-minutes", "0"])
    with pytest.raises(ValueError, match="--epochs must be a positive int"):
        main(train + ["--data", str(corpus), "--epochs", "0"])
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        main(train + ["--data", str(empty)] + TINY)
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("Grüße aus Köln.\tGreetings.\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not valid UTF-8"):
        main(train + ["--data", str(latin1)] + TINY)
    with pytest.raises(ValueError, match="--max-length=2"):
        main(
            train
            + ["--data", str(corpus)]
            + TINY
            + ["--max-length", "2", "--tokens-per-batch", "64"]
        )
    assert not model_dir.exists()
    with pytest.raises(FileNotFoundError, match="No trained model"):
        main(["translate", "evaluate", "--model-dir", str(model_dir)])


def test_export_defaults_to_the_next_serving_version(tmp_path):
    from keras_transformer_bit.cli.translate import default_export_path

    model_dir = tmp_path / "run"
    assert default_export_path(str(model_dir)) == str(model_dir / "export" / "1")
    (model_dir / "export" / "1").mkdir(parents=True)
    (model_dir / "export" / "7").mkdir()
    (model_dir / "export" / ".staging").mkdir()
    assert default_export_path(str(model_dir)) == str(model_dir / "export" / "8")


def test_failure_during_training_leaves_nothing(tmp_path, monkeypatch):
    from keras_transformer_bit import distribute

    def broken(model_dir, **settings):
        raise RuntimeError("disk full")

    monkeypatch.setattr(distribute, "training_callbacks", broken)
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="disk full"):
        main(
            ["translate", "train", "--data", str(corpus), "--model-dir", str(model_dir)]
            + TINY
        )
    assert not model_dir.exists()
    model_dir.mkdir()
    with pytest.raises(RuntimeError, match="disk full"):
        main(
            ["translate", "train", "--data", str(corpus), "--model-dir", str(model_dir)]
            + TINY
        )
    assert model_dir.exists() and not os.listdir(model_dir)


def _train_tiny(tmp_path, *extra):
    """One epoch of `ktb translate train` on the tiny corpus, without BLEU."""
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    args = ["translate", "train", "--data", str(corpus), "--model-dir", str(model_dir)]
    assert main(args + TINY + ["--bleu-every", "0", "--epochs", "1", *extra]) == 0
    history = json.loads((model_dir / "history.json").read_text())
    return model_dir, history


@pytest.mark.large
def test_train_with_mixed_precision(tmp_path):
    model_dir, history = _train_tiny(tmp_path, "--mixed-precision")
    assert [entry["epoch"] for entry in history] == [1]
    assert np.isfinite(history[0]["loss"]) and np.isfinite(history[0]["val_loss"])
    # Reloaded under the default float32 policy, the model keeps its own.
    keras.config.set_dtype_policy("float32")
    model = keras.models.load_model(model_dir / "model.keras")
    layers = [layer for layer in model.layers if layer.weights]
    assert len(layers) >= 4
    assert {layer.dtype_policy.name for layer in layers} == {"mixed_bfloat16"}
    assert {weight.dtype for weight in model.weights} == {"float32"}
    assert int(model.optimizer.iterations) > 0
    ids = np.array([[5, 6, 7, 0]], "int32")
    logits = model({"encoder_inputs": ids, "decoder_inputs": ids})
    assert logits.dtype == "float32"
    assert logits.shape == (1, 4, model.vocabulary_size)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))


@pytest.mark.large
def test_train_with_mirrored_strategy(tmp_path, capsys):
    model_dir, history = _train_tiny(tmp_path, "--strategy", "mirrored")
    assert "MirroredStrategy, 2 replica(s)" in capsys.readouterr().out
    assert [entry["epoch"] for entry in history] == [1]
    assert np.isfinite(history[0]["loss"]) and np.isfinite(history[0]["val_loss"])
    # The saved run reloads (outside the strategy), with the optimizer state of
    # its updates (3 batches), and runs.
    model = keras.models.load_model(model_dir / "model.keras")
    assert int(model.optimizer.iterations) >= 3
    ids = np.array([[5, 6, 7, 0], [8, 9, 0, 0]], "int32")
    logits = model({"encoder_inputs": ids, "decoder_inputs": ids})
    assert logits.shape == (2, 4, model.vocabulary_size)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))


@pytest.mark.large
@pytest.mark.timeout(300)
def test_train_on_two_workers(tmp_path):
    # Two worker processes on loopback train one run; the budget (spent after
    # the first epoch) stops both together, the chief scores BLEU and writes
    # the run directory.
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    command = [sys.executable, "-m", "keras_transformer_bit.cli.main", "translate"]
    command += ["train", "--data", str(corpus), "--model-dir", str(model_dir)]
    command += TINY + ["--strategy", "multi_worker", "--epochs", "3"]
    command += ["--budget-minutes", "0.001", "--dropout", "0"]
    with ktb.distribute.LocalCluster(command) as cluster:
        codes = cluster.wait(timeout_seconds=240)
        outputs = [cluster.output(index) for index in range(2)]
    assert codes == [0, 0], outputs
    assert "MultiWorkerMirroredStrategy, 2 replica(s) over 2 workers" in outputs[0]
    assert "budget of 0.001 minutes spent" in outputs[0]
    # Each worker would read its own clock: the recipe's cooldown stays off.
    assert "the learning-rate cooldown follows the budget's clock" in outputs[0]
    assert "Saved" not in outputs[1]
    assert sorted(os.listdir(model_dir)) == RUN_FILES
    history = json.loads((model_dir / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1]
    assert 0 <= history[0]["val_bleu"] <= 100
    assert np.isfinite(history[0]["loss"]) and np.isfinite(history[0]["val_loss"])
    model = keras.models.load_model(model_dir / "model.keras")
    # One update per global batch of the epoch: every length bucket's batches,
    # its partial last batch included (every pair once per epoch).
    from keras_transformer_bit.training import translation_run as run_files

    config, source_tokenizer, target_tokenizer, _ = run_files.load_run(
        str(model_dir), "last"
    )
    corpus = run_files.load_corpus(config)
    train, _ = run_files.make_datasets(
        corpus, config, source_tokenizer, target_tokenizer, num_replicas=2
    )
    global_batches = sum(1 for _ in train.take(10_000))
    assert int(model.optimizer.iterations) == global_batches


@pytest.mark.large
@pytest.mark.timeout(400)
def test_survivor_of_a_killed_worker_exits_75_naming_it(tmp_path):
    # Two clusters side by side; in one the chief (the coordination leader) is
    # killed, in the other worker 1. Each survivor's `ktb` must exit with the
    # documented status 75 within 60 s, naming the dead task, without a
    # traceback.
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    clusters = []
    for victim in (0, 1):
        command = [sys.executable, "-m", "keras_transformer_bit.cli.main"]
        command += ["translate", "train", "--data", str(corpus)]
        command += ["--model-dir", str(tmp_path / f"run{victim}")]
        command += TINY + ["--strategy", "multi_worker", "--epochs", "1000"]
        command += ["--worker-timeout", "200"]
        clusters.append(ktb.distribute.LocalCluster(command))
    try:
        for cluster in clusters:
            cluster.start()
        for cluster in clusters:
            assert wait_for_line(lambda: cluster.output(0), r"^epoch 2/", 240), (
                cluster.output(0) + cluster.output(1)
            )
        killed_at = time.monotonic()
        for victim, cluster in enumerate(clusters):
            cluster.kill(victim)
        for victim, cluster in enumerate(clusters):
            survivor = 1 - victim
            code = cluster.wait_for(survivor, timeout_seconds=90)
            seconds = time.monotonic() - killed_at
            output = cluster.output(survivor)
            print(f"worker {victim} killed: worker {survivor} exited {code} "
                  f"after {seconds:.1f} s")  # fmt: skip
            assert code == ktb.distribute.WORKER_FAILURE_EXIT_CODE, output
            assert seconds < 60, output
            assert "Traceback" not in output, output
            dead = cluster.addresses[victim]
            assert re.search(rf"task:{victim}\b|worker:{victim} \({dead}\)", output), (
                output
            )
            assert "restart every worker" in output.lower(), output
    finally:
        for cluster in clusters:
            cluster.stop()


@pytest.mark.large
def test_run_directory_on_another_file_system(tmp_path):
    # ram:// (TensorFlow's in-memory file system) stands in for gs://, s3://
    # and hdfs://: train, resume and export all go through tf.io.gfile, and
    # nothing lands in a local directory named "ram:".
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = f"ram://ktb_{uuid.uuid4().hex}/run"
    args = ["translate", "train", "--data", str(corpus), "--model-dir", model_dir]
    os.chdir(tmp_path)
    assert main(args + TINY + ["--epochs", "1"]) == 0
    assert main(args + ["--epochs", "1", "--strategy", "one_device"]) == 0
    names = sorted(name.rstrip("/") for name in tf.io.gfile.listdir(model_dir))
    assert {"model.keras", "history.json", "translate_config.json"} <= set(names)
    assert "backup" not in names  # the resume's backup was cleaned up
    with tf.io.gfile.GFile(f"{model_dir}/history.json") as file:
        assert [entry["epoch"] for entry in json.load(file)] == [1, 2]
    export = ["translate", "export", "--model-dir", model_dir, "--method", "greedy"]
    assert main(export) == 0
    assert tf.io.gfile.exists(f"{model_dir}/export/1/saved_model.pb")
    assert sorted(os.listdir(tmp_path)) == ["pairs.tsv"]


@pytest.mark.large
@pytest.mark.timeout(300)
def test_history_keeps_the_epochs_before_a_kill(tmp_path):
    # Killed after some epochs (fit path), the same command resumes from the
    # backup, says from which epoch, and history.json holds every epoch.
    import subprocess

    from tests.distribute.processes import kill

    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    command = [sys.executable, "-m", "keras_transformer_bit.cli.main", "translate"]
    command += ["train", "--data", str(corpus), "--model-dir", str(model_dir)]
    command += TINY + ["--bleu-every", "0", "--epochs", "12"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for_line(log.read_text, r"^Epoch 4/12", 200), log.read_text()
    finally:
        kill(first)
    backup = json.loads((model_dir / "backup" / "training_metadata.json").read_text())
    second = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=200
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"from epoch {backup['epoch'] + 1} to 12" in second.stdout, second.stdout
    history = json.loads((model_dir / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == list(range(1, 13))
    assert all(np.isfinite(entry["loss"]) for entry in history)
    assert sorted(os.listdir(model_dir)) == [
        name for name in RUN_FILES if not name.startswith("best")
    ]


@pytest.mark.large
@pytest.mark.timeout(500)
def test_two_workers_keep_the_history_of_a_killed_run(tmp_path):
    # The chief is killed after some epochs; the survivor exits 75, both are
    # restarted with the same command and history.json holds every epoch.
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    command = [sys.executable, "-m", "keras_transformer_bit.cli.main", "translate"]
    command += ["train", "--data", str(corpus), "--model-dir", str(model_dir)]
    command += TINY + ["--strategy", "multi_worker", "--epochs", "8"]
    command += ["--bleu-every", "0", "--worker-timeout", "100"]
    with ktb.distribute.LocalCluster(command) as cluster:
        assert wait_for_line(lambda: cluster.output(0), r"^epoch 3/8", 240), (
            cluster.output(0) + cluster.output(1)
        )
        cluster.kill(0)
        code = cluster.wait_for(1, timeout_seconds=90)
        assert code == ktb.distribute.WORKER_FAILURE_EXIT_CODE, cluster.output(1)
    finished = [int(e) for e in re.findall(r"^epoch (\d+)/8", cluster.output(0), re.M)]
    with ktb.distribute.LocalCluster(command) as cluster:
        codes = cluster.wait(timeout_seconds=240)
        outputs = [cluster.output(index) for index in range(2)]
    assert codes == [0, 0], outputs
    resumed = re.search(r"from epoch (\d+) to 8", outputs[0])
    assert resumed and int(resumed.group(1)) > 1, outputs[0]
    assert max(finished) - int(resumed.group(1)) <= 1, (finished, outputs[0])
    history = json.loads((model_dir / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == list(range(1, 9))
    assert "history.partial.json" not in os.listdir(model_dir)


@pytest.mark.large
def test_train_predict_export_with_sentencepiece_and_sampling(tmp_path, capsys):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = str(tmp_path / "run")
    args = ["translate", "train", "--data", str(corpus), "--model-dir", model_dir]
    # One shared SentencePiece model: each language alone cannot fill 300.
    args += TINY + ["--vocabulary-size", "300", "--tokenizer", "sentencepiece"]
    args += ["--shared-vocabulary"]
    # A few hundred pieces on 80 pairs: short pieces, so longer sequences.
    args += ["--max-length", "48", "--tokens-per-batch", "384"]
    assert main(args + ["--subword-sampling-alpha", "0.2", "--epochs", "1"]) == 0
    config = json.loads((tmp_path / "run" / "translate_config.json").read_text())
    assert config["tokenizer"] == "sentencepiece"
    assert config["subword_sampling_alpha"] == 0.2
    assert sorted(os.listdir(tmp_path / "run" / "source_tokenizer")) == [
        "sentencepiece.model",
        "tokenizer.json",
    ]
    capsys.readouterr()
    predict = ["translate", "predict", "--model-dir", model_dir, "--method", "greedy"]
    assert main(predict + ["Ich bin hier 3.", "Du bist dort 4."]) == 0
    assert len(capsys.readouterr().out.strip().split("\n")) == 2
    export = ["translate", "export", "--model-dir", model_dir, "--method", "greedy"]
    assert main(export) == 0
    served = tf.saved_model.load(str(tmp_path / "run" / "export" / "1"))
    outputs = served.signatures["serving_default"](text=tf.constant(["Ich bin hier."]))
    assert outputs["translation"].shape == (1,)


def test_phrase_pairs_and_averaging_flags(tmp_path):
    from keras_transformer_bit.cli import translate as cli_translate
    from keras_transformer_bit.training import translation_run

    assert cli_translate.CHECKPOINT_CHOICES == translation_run.CHECKPOINT_CHOICES
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = str(tmp_path / "run")
    with pytest.raises(ValueError, match=r"--phrase-pairs must be an int >= 0.*-1"):
        main(["translate", "train", "--model-dir", model_dir, "--phrase-pairs", "-1"])
    with pytest.raises(
        ValueError, match=r"--phrase-pairs adds pairs from the Ding.*needs --data ding"
    ):
        main(
            ["translate", "train", "--model-dir", model_dir, "--data", str(corpus)]
            + ["--phrase-pairs", "100"]
        )
    assert not os.path.exists(model_dir)
    with pytest.raises(FileNotFoundError, match="no averaged.keras"):
        translation_run.checkpoint_path(model_dir, "averaged")


def test_the_dropout_flag_names_the_recipe_s_value(capsys):
    from keras_transformer_bit.cli.main import build_parser
    from keras_transformer_bit.recipes import translation_recipe

    with pytest.raises(SystemExit):
        build_parser().parse_args(["translate", "train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    dropout = translation_recipe().model_overrides["dropout"]
    assert f"override the preset's dropout (the recipe sets {dropout})" in help_text
