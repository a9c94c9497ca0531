"""`ktb translate train` and `ktb tune transformer` under `--strategy mirrored`."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_transformer_bit.cli.main import main
from tests.cli.test_translate_cli import ENGLISH, GERMAN, TINY, _write_corpus

# TINY without its batching: the default recipe's (max length 48, 2,048-token
# batches, so buckets of 256, 128, 85, 64, 51 and 42 sentences).
TINY_MODEL = [
    arg
    for index, arg in enumerate(TINY)
    if arg not in ("--max-length", "--tokens-per-batch")
    and TINY[index - 1] not in ("--max-length", "--tokens-per-batch")
]


def _write_long_corpus(path):
    # 200 pairs of 17 to 19 words (the 85-sentence bucket) and 100 of 41 to 43
    # words (the 42-sentence bucket): 85 splits over neither 2 nor 8 replicas,
    # 42 not over 8.
    rng = np.random.default_rng(0)
    lines = []
    for index in range(300):
        length = 17 + index % 3 if index < 200 else 41 + index % 3
        words = rng.integers(0, len(GERMAN), length)
        german = " ".join(GERMAN[w] for w in words)
        english = " ".join(ENGLISH[w] for w in words)
        lines.append(f"{german}\t{english}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _train_command(tmp_path, strategy):
    corpus = tmp_path / "long.tsv"
    _write_long_corpus(corpus)
    return ["translate", "train", "--data", str(corpus), "--model-dir"] + [
        str(tmp_path / f"run_{strategy}")
    ] + TINY_MODEL + [
        "--bleu-every", "0", "--epochs", "1", "--test-size", "20",
        "--strategy", strategy,
    ]  # fmt: skip


@pytest.mark.large
def test_default_batch_sizes_on_two_replicas(tmp_path, capsys):
    assert main(_train_command(tmp_path, "mirrored")) == 0
    assert "MirroredStrategy, 2 replica(s)" in capsys.readouterr().out
    history = json.loads((tmp_path / "run_mirrored" / "history.json").read_text())
    assert np.isfinite(history[0]["loss"]) and np.isfinite(history[0]["val_loss"])


# Eight logical devices must be configured before TensorFlow starts, so the
# run gets a process of its own.
EIGHT_DEVICES = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 8
)
from keras_transformer_bit.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.large
@pytest.mark.timeout(400)
def test_default_batch_sizes_on_eight_replicas(tmp_path):
    process = subprocess.run(
        [sys.executable, "-c", EIGHT_DEVICES, *_train_command(tmp_path, "mirrored")],
        capture_output=True,
        text=True,
        timeout=380,
    )
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-3000:]
    assert "MirroredStrategy, 8 replica(s)" in output
    history = json.loads((tmp_path / "run_mirrored" / "history.json").read_text())
    assert np.isfinite(history[0]["loss"]) and np.isfinite(history[0]["val_loss"])


@pytest.mark.large
def test_mirrored_training_equals_one_device(tmp_path):
    # The tiny corpus's batches hold different numbers of real target tokens
    # on the two replicas; the loss divides by the global count, so the run
    # takes the steps one device takes (no dropout: no per-replica randomness).
    # Before, the logits below differed by 0.17 and the loss by 1e-3.
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    runs = {}
    for strategy in ("one_device", "mirrored"):
        model_dir = tmp_path / strategy
        command = ["translate", "train", "--data", str(corpus)]
        command += ["--model-dir", str(model_dir), *TINY, "--dropout", "0"]
        command += ["--bleu-every", "0", "--epochs", "1", "--strategy", strategy]
        # One shared vocabulary, as this test was written for: the logged
        # loss (Keras' running mean over batches) then agrees to 1e-5. With
        # a vocabulary per language the weights agree as closely, the logged
        # loss by 0.4%.
        command += ["--shared-vocabulary"]
        assert main(command) == 0
        model = keras.saving.load_model(model_dir / "model.keras")
        history = json.loads((model_dir / "history.json").read_text())
        runs[strategy] = (model, history)
    reference, reference_history = runs["one_device"]
    mirrored, history = runs["mirrored"]
    assert int(mirrored.optimizer.iterations) == int(reference.optimizer.iterations)
    assert int(mirrored.optimizer.iterations) >= 3
    # Attention key biases get a zero gradient in exact arithmetic (softmax
    # ignores a shift shared by all keys); Adam (epsilon 1e-9) turns the
    # rounding noise of each run into steps of its own, which the model
    # ignores. Every other weight, and the model's output, must agree.
    differences = {
        weight.path: float(np.max(np.abs(weight.numpy() - other.numpy())))
        for weight, other in zip(mirrored.weights, reference.weights)
        if not weight.path.endswith("key/bias")
    }
    rng = np.random.default_rng(0)
    ids = rng.integers(4, reference.vocabulary_size, (4, 12)).astype("int32")
    ids[:, 9:] = 0
    inputs = {"encoder_inputs": ids, "decoder_inputs": ids}
    logits_difference = float(np.max(np.abs(mirrored(inputs) - reference(inputs))))
    print(
        f"mirrored vs one device: logits differ by {logits_difference:.3g}, "
        f"weights by {max(differences.values()):.3g}"
    )
    assert max(differences.values()) <= 1e-5, differences
    assert logits_difference <= 1e-5
    np.testing.assert_allclose(history[0]["loss"], reference_history[0]["loss"], 1e-5)
    # Validation batches of one device keep their partial last batch; the
    # mirrored ones pad it with empty rows, which Keras' running mean of batch
    # losses counts as rows (not as tokens): close, not equal.
    np.testing.assert_allclose(
        history[0]["val_loss"], reference_history[0]["val_loss"], rtol=1e-2
    )


@pytest.mark.large
def test_tune_transformer_on_two_replicas_completes_its_trial(tmp_path):
    # ktb tune's default batches (max length 32, 2,048 tokens): the 17 to 19
    # word pairs come in batches of 85, which failed every mirrored trial.
    corpus = tmp_path / "long.tsv"
    _write_long_corpus(corpus)
    space = {
        "num_layers": [1],
        "hidden_dim": [16],
        "num_heads": [2],
        "intermediate_multiplier": [2],
        "warmup_steps": [10],
    }
    command = ["tune", "transformer", "--data", str(corpus), "--max-trials", "1"]
    command += ["--epochs", "1", "--directory", str(tmp_path / "tune")]
    command += ["--project-name", "mirrored", "--vocabulary-size", "80"]
    command += ["--search-space", json.dumps(space), "--strategy", "mirrored"]
    assert main(command) == 0
    trials = list((tmp_path / "tune" / "mirrored").glob("trial_*/trial.json"))
    assert len(trials) == 1
    trial = json.loads(trials[0].read_text())
    assert trial["status"] == "COMPLETED", trial.get("message")
    assert np.isfinite(
        trial["metrics"]["metrics"]["val_loss"]["observations"][0]["value"][0]
    )


@pytest.mark.large
def test_pretrained_target_embeddings_on_two_replicas(tmp_path):
    # The mirrored embedding variable takes the pretrained start on every
    # replica: with a learning rate of almost 0 it is still that start.
    from keras_transformer_bit.data import PretrainedWordEmbeddings
    from keras_transformer_bit.training import TranslationRun
    from tests.training.test_translation_run import _english_checkpoint

    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    checkpoint = _english_checkpoint(tmp_path / "english")
    model_dir = tmp_path / "run"
    command = ["translate", "train", "--data", str(corpus)]
    command += ["--model-dir", str(model_dir), *TINY, "--strategy", "mirrored"]
    command += ["--bleu-every", "0", "--epochs", "1", "--average-checkpoints", "0"]
    command += ["--learning-rate-scale", "1e-9", "--target-embeddings", str(checkpoint)]
    assert main(command) == 0
    config, _, target_tokenizer, model = TranslationRun(str(model_dir)).load("last")
    expected, _ = PretrainedWordEmbeddings.load(checkpoint).embedding_matrix(
        target_tokenizer, dim=16, seed=config["seed"]
    )
    np.testing.assert_allclose(
        model.target_embedding.token_embedding.embeddings.numpy(), expected, atol=1e-4
    )
