import json
import os

import pytest

from keras_transformer_bit.cli.main import main

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
    assert sorted(os.listdir(model_dir)) == [
        "history.json",
        "logs",
        "model.keras",
        "source_tokenizer",
        "translate_config.json",
    ]
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
    assert "sacreBLEU (13a, cased) on 3 test sentences" in capsys.readouterr().out
    result = json.loads((tmp_path / "run" / "eval_test_greedy.json").read_text())
    assert result["num_sentences"] == 3 and 0 <= result["bleu"] <= 100
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

    # A vocabulary that does not belong to the model is refused.
    vocabulary = tmp_path / "run" / "source_tokenizer" / "vocabulary.txt"
    vocabulary.write_text(vocabulary.read_text() + "zusatz\n")
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
    empty = tmp_path / "empty.tsv"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        main(train + ["--data", str(empty)] + TINY)
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes("Grüße aus Köln.\tGreetings.\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not valid UTF-8"):
        main(train + ["--data", str(latin1)] + TINY)
    with pytest.raises(ValueError, match="max_length=2"):
        main(
            train
            + ["--data", str(corpus)]
            + TINY
            + ["--max-length", "2", "--tokens-per-batch", "64"]
        )
    assert not model_dir.exists()
    with pytest.raises(FileNotFoundError, match="No trained model"):
        main(["translate", "evaluate", "--model-dir", str(model_dir)])


def test_failure_during_training_leaves_nothing(tmp_path, monkeypatch):
    from keras_transformer_bit import distribute

    def broken(model_dir):
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
