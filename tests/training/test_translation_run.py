"""`TranslationRun`: the run directory of `ktb translate train`, from Python."""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_transformer_bit as ktb
from keras_transformer_bit.data import PretrainedWordEmbeddings
from keras_transformer_bit.training import TranslationRun
from keras_transformer_bit.training import translation_run as run_files
from tests.cli.test_translate_cli import ENGLISH, _write_corpus
from tests.data.test_pretrained_word_embeddings import vectors_for, write_checkpoint
from tests.distribute.processes import kill, wait_for_line
from tests.distribute.test_interrupt_between_steps import CtrlCInStep

# A model and pipeline small enough for seconds per epoch.
TINY = dict(
    preset="transformer_tiny",
    model_overrides=dict(num_layers=1, hidden_dim=16, intermediate_dim=32, num_heads=2),
    vocabulary_size=80,
    max_length=16,
    tokens_per_batch=128,
    test_size=6,
    validation_size=6,
)


@pytest.mark.large
def test_train_then_resume_in_user_code(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    run = TranslationRun(
        str(model_dir), strategy="one_device", data=str(corpus), **TINY
    )
    history = run.train(epochs=2, bleu_every=1, bleu_examples=4)
    assert [entry["epoch"] for entry in history] == [1, 2]
    assert all(0 <= entry["val_bleu"] <= 100 for entry in history)
    assert {"model.keras", "best.keras", "history.json"} <= set(os.listdir(model_dir))
    config = json.loads((model_dir / run_files.CONFIG_FILE).read_text())
    assert config["max_length"] == 16 and config["data"] == str(corpus)
    # Again: the saved settings are kept (none need repeating) and it goes on.
    history = TranslationRun(str(model_dir), strategy="one_device").train(
        epochs=1, bleu_every=0
    )
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    # A different setting is refused, named the Python way.
    with pytest.raises(ValueError, match=r"max_length=32 \(saved: max_length=16\)"):
        TranslationRun(str(model_dir), max_length=32).train(epochs=1)
    # The run records the pairs it was split into: once the file changes, its
    # test pairs may be training pairs, so reading or resuming is refused
    # (found by a user trial: evaluate scored sentences the model trained on).
    original = corpus.read_bytes()
    corpus.write_bytes(original + "Neu hier.\tNew here.\n".encode())
    for call in (
        lambda: TranslationRun(str(model_dir)).corpus(),
        lambda: TranslationRun(str(model_dir)).train(epochs=1, bleu_every=0),
    ):
        with pytest.raises(ValueError, match=r"no longer splits .*\(saved: "):
            call()
    corpus.unlink()
    with pytest.raises(FileNotFoundError, match=r"data file .*pairs.tsv.* no longer"):
        TranslationRun(str(model_dir)).corpus()
    corpus.write_bytes(original)
    assert TranslationRun(str(model_dir)).corpus().test == run.corpus().test
    # Another corpus, evaluated on purpose, is not compared with the run's.
    other = tmp_path / "other.tsv"
    other.write_bytes(original + "Neu hier.\tNew here.\n".encode())
    from keras_transformer_bit.cli.main import main

    main(["translate", "evaluate", "--model-dir", str(model_dir), "--data", str(other)])


def test_bad_settings_are_named_before_anything_is_read(tmp_path):
    with pytest.raises(
        TypeError, match=r"TranslationRun got an unknown argument 'epoch'"
    ):
        TranslationRun(str(tmp_path / "run"), epoch=3)
    with pytest.raises(TypeError, match=r"\['epochs'\] are arguments of .*train"):
        TranslationRun(str(tmp_path / "run"), epochs=3)
    with pytest.raises(ValueError, match="max_length must be a positive int"):
        TranslationRun(str(tmp_path / "run"), max_length=0).train(epochs=1)
    with pytest.raises(ValueError, match=r"tokenizer must be one of .*'bpe'"):
        TranslationRun(str(tmp_path / "run"), tokenizer="bpe").train(epochs=1)
    with pytest.raises(ValueError, match="budget_minutes must be > 0"):
        TranslationRun(str(tmp_path / "run")).train(budget_minutes=-1)
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        TranslationRun(str(tmp_path / "run")).train(epochs=0)
    # User trial: None is "no overrides of the run's own", not a TypeError.
    assert (
        TranslationRun(str(tmp_path / "run"), model_overrides=None).settings[
            "model_overrides"
        ]
        == {}
    )
    with pytest.raises(ValueError, match=r"model_overrides must be a dict.*\[3\]"):
        TranslationRun(str(tmp_path / "run"), model_overrides=[3])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no translate_config"):
        TranslationRun(str(tmp_path / "full")).train(epochs=1)
    assert os.listdir(tmp_path / "full") == ["notes.txt"]


USER_SCRIPT = textwrap.dedent(
    """
    import sys
    from keras_transformer_bit.training import TranslationRun

    model_dir, corpus, settings = sys.argv[1], sys.argv[2], eval(sys.argv[3])
    run = TranslationRun(model_dir, strategy="one_device", data=corpus, **settings)
    history = run.train(epochs=10, bleu_every=0)
    print("EPOCHS", [entry["epoch"] for entry in history], flush=True)
    """
)


@pytest.mark.large
@pytest.mark.timeout(300)
def test_a_killed_run_resumes_from_its_backup(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    script = tmp_path / "train.py"
    script.write_text(USER_SCRIPT)
    command = [sys.executable, str(script), str(model_dir), str(corpus), repr(TINY)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.getcwd() + os.pathsep + env.get("PYTHONPATH", "")
    log = tmp_path / "first.log"
    with open(log, "w") as out:
        first = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for_line(log.read_text, r"^Epoch 4/10", 200), log.read_text()
    finally:
        kill(first)
    assert not (model_dir / "history.json").exists()  # killed before the end
    backup = json.loads((model_dir / "backup" / "training_metadata.json").read_text())
    # Each finished epoch says how long its call had trained (for the budget).
    partial = json.loads((model_dir / run_files.PARTIAL_HISTORY_FILE).read_text())
    minutes = [entry[run_files.CALL_MINUTES] for entry in partial]
    assert minutes == sorted(minutes) and minutes[0] > 0, partial
    second = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=200
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"from epoch {backup['epoch'] + 1} to 10" in second.stdout, second.stdout
    assert "EPOCHS [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]" in second.stdout
    history = json.loads((model_dir / "history.json").read_text())
    assert all(np.isfinite(entry["loss"]) for entry in history)
    assert "backup" not in os.listdir(model_dir)


def test_more_bad_settings_are_named_before_any_data_is_read(tmp_path):
    run_dir = str(tmp_path / "run")
    cases = [
        (dict(preset="transformer_huge"), r"preset must be one of .*transformer_huge"),
        (
            dict(model_overrides={"num_layer": 2}),
            r"Unknown model_overrides \['num_layer'\]",
        ),
        (dict(label_smoothing=2), r"label_smoothing must be in \[0, 1\)"),
        (dict(test_size=-1), r"test_size must be an int >= 0"),
    ]
    for settings, message in cases:
        with pytest.raises(ValueError, match=message):
            TranslationRun(run_dir, data="absent.tsv", **settings).train(epochs=1)
    with pytest.raises(ValueError, match=r"strategy must be one of .*'gpu'"):
        TranslationRun(run_dir, strategy="gpu").train(epochs=1)
    afile = tmp_path / "afile"
    afile.write_text("mine")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        TranslationRun(str(afile)).train(epochs=1)
    assert afile.read_text() == "mine" and not os.path.exists(run_dir)


def test_a_relative_data_path_is_resolved(tmp_path, monkeypatch):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    monkeypatch.chdir(tmp_path)
    run = TranslationRun(str(tmp_path / "run"), data="pairs.tsv")
    assert run.settings["data"] == str(corpus)
    assert TranslationRun("x", data="ding").settings["data"] == "ding"
    # A run saved with the path as typed (before paths were resolved) still
    # matches the same file given again.
    saved = {**run_files.default_config(), "data": "pairs.tsv"}
    assert run_files.changed_settings(saved, {"data": str(corpus)}) == []


def _one_epoch_run(tmp_path):
    """A run directory trained for one epoch, as a finished call leaves it."""
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    run = TranslationRun(
        str(model_dir), strategy="one_device", data=str(corpus), **TINY
    )
    run.train(epochs=1, bleu_every=0)
    return model_dir


@pytest.mark.large
def test_a_rerun_whose_killed_epochs_reach_its_target_says_so(tmp_path, capsys):
    model_dir = _one_epoch_run(tmp_path)
    # As a killed call leaves it: epochs 2 and 3 done after history.json.
    partial = [{"epoch": 2, "loss": 5.0}, {"epoch": 3, "loss": 4.0}]
    (model_dir / run_files.PARTIAL_HISTORY_FILE).write_text(json.dumps(partial))
    capsys.readouterr()
    history = TranslationRun(str(model_dir), strategy="one_device").train(
        epochs=1, bleu_every=0
    )
    out = capsys.readouterr().out
    assert "Epochs 1 to 3 are done" in out and "nothing left to train" in out
    assert "last epoch, 2 (the 1 saved epochs plus epochs=1)" in out
    assert [entry["epoch"] for entry in history] == [1, 2, 3]


@pytest.mark.large
def test_a_rerun_gets_what_the_stopped_call_left_of_its_budget(tmp_path, capsys):
    model_dir = _one_epoch_run(tmp_path)
    # As a killed call leaves it: epoch 2 done after 0.6 of its minutes.
    partial = [{"epoch": 2, "loss": 5.0, run_files.CALL_MINUTES: 0.6}]
    (model_dir / run_files.PARTIAL_HISTORY_FILE).write_text(json.dumps(partial))
    capsys.readouterr()
    history = TranslationRun(str(model_dir), strategy="one_device").train(
        epochs=3, budget_minutes=1, bleu_every=0
    )
    out = capsys.readouterr().out
    assert "budget 1 min (0.6 spent by the call that was stopped, 0.4 left)" in out
    # Its closing line counts its own minutes, then those with its predecessor.
    pattern = r"\(([\d.]+) min of training in this call, ([\d.]+) with"
    this_call = re.search(pattern, out)
    assert this_call and float(this_call[1]) < float(this_call[2]), out
    assert [entry["epoch"] for entry in history][-1] <= 4
    assert not any(run_files.CALL_MINUTES in entry for entry in history)
    # A call whose stopped predecessor spent the whole budget trains no more.
    last = history[-1]["epoch"]
    partial = [{"epoch": last + 1, "loss": 5.0, run_files.CALL_MINUTES: 2.0}]
    (model_dir / run_files.PARTIAL_HISTORY_FILE).write_text(json.dumps(partial))
    history = TranslationRun(str(model_dir), strategy="one_device").train(
        epochs=3, budget_minutes=1, bleu_every=0
    )
    out = capsys.readouterr().out
    assert "The budget of 1 min was spent by the call that was stopped" in out
    assert [entry["epoch"] for entry in history][-1] == last + 1


def test_other_backends_are_refused_before_any_work(tmp_path):
    code = (
        "import keras_transformer_bit as ktb\n"
        "from keras_transformer_bit.training import TranslationRun\n"
        "try:\n"
        f"    TranslationRun({str(tmp_path / 'run')!r}).train(epochs=1)\n"
        "except ValueError as error:\n"
        "    print('refused', error)\n"
        "try:\n"
        "    ktb.Translator(None, None, None)\n"
        "except ValueError as error:\n"
        "    print('refused', error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    refusals = [
        line for line in result.stdout.splitlines() if line.startswith("refused")
    ]
    assert len(refusals) == 2
    assert all("KERAS_BACKEND=jax" in line for line in refusals)
    assert "TranslationRun runs on Keras's TensorFlow backend" in refusals[0]
    assert not os.path.exists(tmp_path / "run")


def test_numpy_numbers_are_plain_and_corpus_needs_a_run(tmp_path):
    run = TranslationRun(str(tmp_path / "run"), vocabulary_size=np.int64(900))
    assert type(run.settings["vocabulary_size"]) is int
    json.dumps(run.resolve_config())  # what the run writes
    with pytest.raises(FileNotFoundError, match="holds no trained run"):
        run.corpus()


def test_phrase_pairs_and_averaging_settings_are_checked_before_any_data(tmp_path):
    run_dir = str(tmp_path / "run")
    cases = [
        (dict(phrase_pairs=-5), r"phrase_pairs must be an int >= 0.*-5"),
        (dict(average_checkpoints=1.5), r"average_checkpoints must be an int"),
        (
            dict(phrase_pairs=1000, data="sword_en_es"),
            r"phrase_pairs adds pairs from the Ding dictionary, so it needs data "
            r"ding.*'sword_en_es'",
        ),
    ]
    for settings, message in cases:
        with pytest.raises(ValueError, match=message):
            TranslationRun(run_dir, **settings).train(epochs=1)
    assert not os.path.exists(run_dir)


@pytest.mark.large
def test_average_checkpoints_saves_the_mean_of_the_last_epochs(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    run = TranslationRun(
        str(model_dir),
        strategy="one_device",
        data=str(corpus),
        average_checkpoints=2,
        **TINY,
    )
    with pytest.raises(FileNotFoundError, match="no averaged.keras"):
        run_files.checkpoint_path(str(model_dir), "averaged")
    seen = []

    class Keep(run_files.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.get_weights())

    original = run_files._fit_with_keras

    def spy(model, train, validation, callbacks, epochs):
        return original(model, train, validation, callbacks + [Keep()], epochs)

    run_files._fit_with_keras = spy
    try:
        run.train(epochs=3, bleu_every=0)
    finally:
        run_files._fit_with_keras = original
    assert len(seen) == 3
    *_, last = run.load("last")
    *_, averaged = run.load("averaged")
    for got, one, two, final in zip(
        averaged.get_weights(), seen[1], seen[2], last.get_weights()
    ):
        np.testing.assert_allclose(got, (one + two) / 2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(final, two)
    assert not np.allclose(averaged.get_weights()[0], last.get_weights()[0])


def test_the_recipe_gives_phrase_pairs_to_ding_runs_only(tmp_path, monkeypatch):
    from keras_transformer_bit.recipes.translation_recipe import translation_recipes

    monkeypatch.setitem(translation_recipes["cpu_budget"], "phrase_pairs", 500)
    assert run_files.default_config()["phrase_pairs"] == 500
    ding = TranslationRun(str(tmp_path / "a"), data="ding").resolve_config()
    assert ding["phrase_pairs"] == 500
    other = TranslationRun(str(tmp_path / "b"), data="sword_en_es").resolve_config()
    assert other["phrase_pairs"] == 0


@pytest.mark.large
def test_history_puts_a_sometimes_logged_metric_at_its_own_epochs(tmp_path):
    # val_bleu is logged every 2nd epoch: it belongs to epochs 2 and 4, not
    # to the first two entries.
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    run = TranslationRun(
        str(tmp_path / "run"), strategy="one_device", data=str(corpus), **TINY
    )
    history = run.train(epochs=4, bleu_every=2, bleu_examples=4)
    assert [entry["epoch"] for entry in history] == [1, 2, 3, 4]
    assert ["val_bleu" in entry for entry in history] == [False, True, False, True]
    assert all("val_loss" in entry for entry in history)


@pytest.mark.large
def test_a_call_averaging_fewer_epochs_than_asked_says_so(tmp_path, capsys):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    run = TranslationRun(
        str(tmp_path / "run"),
        strategy="one_device",
        data=str(corpus),
        average_checkpoints=3,
        **TINY,
    )
    run.train(epochs=1, bleu_every=0)
    assert "averaged.keras averages 1 epoch, not 3" in capsys.readouterr().err


def test_the_average_checkpoints_help_gives_the_recipe_default(capsys):
    from keras_transformer_bit.cli.main import main

    with pytest.raises(SystemExit):
        main(["translate", "train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "default: the recipe's, 5; 0: off" in help_text
    assert run_files.default_config()["average_checkpoints"] == 5


def test_a_vocabulary_size_too_small_names_the_language():
    # With a vocabulary per language, the error says which one is too small.
    from keras_transformer_bit.data.parallel_corpus import ParallelCorpus

    corpus = ParallelCorpus.from_pairs(
        [("Äpfel über Öl", "apples"), ("Grüße", "greetings")] * 3,
        test_size=0,
        validation_size=0,
        source_language="de",
        target_language="en",
    )
    with pytest.raises(ValueError, match=r"^The source \(de\) vocabulary: vocab"):
        run_files.build_tokenizers(corpus, 12, shared_vocabulary=False)
    with pytest.raises(ValueError, match=r"^vocabulary_size=12 is smaller"):
        run_files.build_tokenizers(corpus, 12, shared_vocabulary=True)


def _english_checkpoint(directory):
    """A BERT-layout checkpoint holding the tiny corpus' English words."""
    digits = [str(n) for n in range(10)]
    pieces = ["[PAD]", "[UNK]", "."] + sorted(set(ENGLISH)) + digits
    pieces += ["##" + digit for digit in digits]
    return write_checkpoint(directory, pieces, vectors_for(pieces, dim=24))


def test_a_new_run_starts_from_pretrained_target_embeddings(tmp_path, capsys):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    checkpoint = _english_checkpoint(tmp_path / "english")
    model_dir = tmp_path / "run"
    # A learning rate of almost 0: after one epoch the embedding is its start.
    run = TranslationRun(
        str(model_dir),
        strategy="one_device",
        data=str(corpus),
        target_embeddings=str(checkpoint),
        **{**TINY, "learning_rate_scale": 1e-9, "average_checkpoints": 0},
    )
    run.train(epochs=1, bleu_every=0)
    assert re.search(
        r"Target embedding from .*english: \d+ subwords found", capsys.readouterr().out
    )
    config, _, target_tokenizer, model = run.load("last")
    assert config["target_embeddings"] == str(checkpoint)
    expected, report = PretrainedWordEmbeddings.load(str(checkpoint)).embedding_matrix(
        target_tokenizer, dim=16, seed=config["seed"]
    )
    assert report["direct"] >= len(set(ENGLISH))
    np.testing.assert_allclose(
        model.target_embedding.token_embedding.embeddings.numpy(), expected, atol=1e-4
    )
    # Without the setting, the start is random: another matrix.
    other = TranslationRun(
        str(tmp_path / "random"),
        strategy="one_device",
        data=str(corpus),
        **{**TINY, "learning_rate_scale": 1e-9, "average_checkpoints": 0},
    )
    other.train(epochs=1, bleu_every=0)
    assert other.resolve_config()["target_embeddings"] is None
    random_start = other.load("last")[3].target_embedding.token_embedding.embeddings
    assert not np.allclose(random_start.numpy(), expected, atol=1e-2)


def test_pretrained_target_embeddings_are_checked_before_reading(tmp_path):
    absent_data = str(tmp_path / "absent.tsv")
    checkpoint = _english_checkpoint(tmp_path / "english")
    with pytest.raises(
        ValueError,
        match=r"target_embeddings initialises .* needs a vocabulary per language.*"
        r"set shared_vocabulary=False",
    ):
        TranslationRun(
            str(tmp_path / "run"),
            data=absent_data,
            shared_vocabulary=True,
            target_embeddings=str(checkpoint),
        ).train(epochs=1)
    with pytest.raises(
        ValueError, match=r"target_embeddings: Pretrained embeddings must be .*'nope'"
    ):
        TranslationRun(
            str(tmp_path / "run"), data=absent_data, target_embeddings="nope"
        ).train(epochs=1)
    damaged = _english_checkpoint(tmp_path / "damaged")
    whole = (damaged / "model.safetensors").read_bytes()
    (damaged / "model.safetensors").write_bytes(whole[: len(whole) - 10])
    with pytest.raises(ValueError, match=r"target_embeddings: .* is cut short"):
        TranslationRun(
            str(tmp_path / "run"), data=absent_data, target_embeddings=str(damaged)
        ).train(epochs=1)
    for value in (3, True, ["all-minilm-l6-v2"]):
        with pytest.raises(ValueError, match=r"target_embeddings: .*Received: "):
            TranslationRun(
                str(tmp_path / "run"), data=absent_data, target_embeddings=value
            ).train(epochs=1)
    assert not (tmp_path / "run").exists()
    # A pathlib.Path, or a relative path, is kept as an absolute str (JSON).
    config = TranslationRun(
        str(tmp_path / "run"), data=absent_data, target_embeddings=checkpoint
    ).resolve_config()
    assert config["target_embeddings"] == str(checkpoint.resolve())
    # "none", as the CLI takes it, is None in Python too.
    config = TranslationRun(
        str(tmp_path / "run"), data="ding", target_embeddings="none"
    ).resolve_config()
    assert config["target_embeddings"] is None


def _lexicon_file(path):
    """German to English, for the tiny corpus' words."""
    from tests.cli.test_translate_cli import GERMAN

    lines = [f"{german}\t{english}" for german, english in zip(GERMAN, ENGLISH)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_new_run_starts_its_source_embedding_through_a_lexicon(tmp_path, capsys):
    from keras_transformer_bit.data import load_lexicon

    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    checkpoint = _english_checkpoint(tmp_path / "english")
    lexicon = _lexicon_file(tmp_path / "lexicon.tsv")
    run = TranslationRun(
        str(tmp_path / "run"),
        strategy="one_device",
        data=str(corpus),
        target_embeddings=str(checkpoint),
        source_lexicon=str(lexicon),
        **{**TINY, "learning_rate_scale": 1e-9, "average_checkpoints": 0},
    )
    run.train(epochs=1, bleu_every=0)
    assert re.search(
        r"Source embedding from .*english through the .*lexicon.tsv lexicon: "
        r"\d+ subwords translated",
        capsys.readouterr().out,
    )
    config, source_tokenizer, target_tokenizer, model = run.load("last")
    assert config["source_lexicon"] == str(lexicon)
    pretrained = PretrainedWordEmbeddings.load(str(checkpoint))
    expected, report = pretrained.embedding_matrix(
        source_tokenizer, dim=16, seed=config["seed"] + 1, lexicon=load_lexicon(lexicon)
    )
    assert report["translated"] >= 8
    np.testing.assert_allclose(
        model.source_embedding.token_embedding.embeddings.numpy(), expected, atol=1e-4
    )
    # German words of one translation ("du" and "ihr": "you"; "Bist" and
    # "sind": "are") start from one vector.
    from tests.cli.test_translate_cli import GERMAN

    translation = dict(zip(GERMAN, ENGLISH))
    rows = {}  # translation -> rows of the vocabulary's words ("Bist", "sind")
    for i, subword in enumerate(source_tokenizer.vocabulary):
        if subword.lower() in translation:
            rows.setdefault(translation[subword.lower()], []).append(i)
    twins = [found for found in rows.values() if len(found) > 1]
    assert twins
    for found in twins:
        for i in found[1:]:
            np.testing.assert_allclose(expected[i], expected[found[0]])
    # The target embedding starts as it does without a lexicon.
    target, _ = pretrained.embedding_matrix(target_tokenizer, 16, seed=config["seed"])
    np.testing.assert_allclose(
        model.target_embedding.token_embedding.embeddings.numpy(), target, atol=1e-4
    )
    with pytest.raises(ValueError, match=r"other settings.*source_lexicon"):
        TranslationRun(
            str(tmp_path / "run"), data=str(corpus), source_lexicon="none"
        ).resolve_config()


def test_a_source_lexicon_is_checked_before_reading(tmp_path):
    absent_data = str(tmp_path / "absent.tsv")
    checkpoint = _english_checkpoint(tmp_path / "english")
    lexicon = _lexicon_file(tmp_path / "lexicon.tsv")
    with pytest.raises(
        ValueError, match=r"source_lexicon starts .* needs target_embeddings"
    ):
        TranslationRun(
            str(tmp_path / "run"), data=absent_data, source_lexicon=str(lexicon)
        ).train(epochs=1)
    with pytest.raises(ValueError, match=r"'nowhere.tsv', no such file"):
        TranslationRun(
            str(tmp_path / "run"),
            data=absent_data,
            target_embeddings=str(checkpoint),
            source_lexicon="nowhere.tsv",
        ).train(epochs=1)
    with pytest.raises(ValueError, match=r"a directory"):
        TranslationRun(
            str(tmp_path / "run"),
            data=absent_data,
            target_embeddings=str(checkpoint),
            source_lexicon=str(tmp_path),
        ).train(epochs=1)
    for value in (3, True, ["ding"]):
        with pytest.raises(ValueError, match=r"source_lexicon must be one of"):
            TranslationRun(
                str(tmp_path / "run"),
                data=absent_data,
                target_embeddings=str(checkpoint),
                source_lexicon=value,
            ).train(epochs=1)
    assert not (tmp_path / "run").exists()
    config = TranslationRun(
        str(tmp_path / "run"),
        data=absent_data,
        target_embeddings=str(checkpoint),
        source_lexicon=lexicon,
    ).resolve_config()
    assert config["source_lexicon"] == str(lexicon.resolve())
    for value in ("none", "None"):
        config = TranslationRun(
            str(tmp_path / "run"), data="ding", source_lexicon=value
        ).resolve_config()
        assert config["source_lexicon"] is None


def test_alternative_pairs_are_ding_s_and_a_bool(tmp_path, monkeypatch):
    absent_data = str(tmp_path / "absent.tsv")
    for value in (1, "yes", None):
        with pytest.raises(ValueError, match=r"alternative_pairs must be True or"):
            TranslationRun(
                str(tmp_path / "run"), data="ding", alternative_pairs=value
            ).resolve_config()
    with pytest.raises(ValueError, match=r"alternative_pairs adds the Ding .*absent"):
        TranslationRun(
            str(tmp_path / "run"), data=absent_data, alternative_pairs=True
        ).train(epochs=1)
    assert not (tmp_path / "run").exists()
    # The corpus is read with them: load_corpus passes the setting on.
    seen = {}

    def fake_load(data, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop")

    monkeypatch.setattr(run_files, "load_translation_corpus", fake_load)
    config = TranslationRun(
        str(tmp_path / "run"), data="ding", alternative_pairs=True
    ).resolve_config()
    with pytest.raises(RuntimeError, match="stop"):
        run_files.load_corpus(config)
    assert seen["alternative_pairs"] is True


def test_source_lexicon_spellings_and_contents_are_settled_before_reading(tmp_path):
    # Found by a user trial: "Ding" was kept as spelled, so a resume with
    # "ding" was refused; a malformed lexicon file was refused only after the
    # corpus and vocabularies were built; with a shared vocabulary the error
    # blamed target_embeddings, which the user had not set.
    absent_data = str(tmp_path / "absent.tsv")
    checkpoint = _english_checkpoint(tmp_path / "english")
    for spelling in ("Ding", " DING "):
        config = TranslationRun(
            str(tmp_path / "run"), data="ding", source_lexicon=spelling
        ).resolve_config()
        assert config["source_lexicon"] == "ding"
    bad = tmp_path / "bad.tsv"
    bad.write_text("Hund dog\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"source_lexicon: .*bad.tsv:1 is not"):
        TranslationRun(
            str(tmp_path / "run"),
            data=absent_data,
            target_embeddings=str(checkpoint),
            source_lexicon=str(bad),
        ).train(epochs=1)
    with pytest.raises(ValueError, match=r"source_lexicon .* needs a vocabulary per"):
        TranslationRun(
            str(tmp_path / "run"),
            data="ding",
            shared_vocabulary=True,
            source_lexicon="ding",
        ).resolve_config()
    assert not (tmp_path / "run").exists()


def test_a_lexicon_gone_before_the_first_save_says_what_to_do(tmp_path):
    # Found by a user trial: a run killed before its first epoch was saved,
    # whose lexicon file was then deleted, could only fail on resume, and
    # the error said neither what needed it nor how to go on.
    import shutil

    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    lexicon = _lexicon_file(tmp_path / "lexicon.tsv")
    settings = dict(
        strategy="one_device",
        data=str(corpus),
        target_embeddings=str(_english_checkpoint(tmp_path / "english")),
        source_lexicon=str(lexicon),
        **{**TINY, "average_checkpoints": 0},
    )
    model_dir = tmp_path / "run"
    TranslationRun(str(model_dir), **settings).train(epochs=1, bleu_every=0)
    # What a kill before the first save leaves: the config and vocabularies.
    for name in os.listdir(model_dir):
        path = model_dir / name
        if name not in (run_files.CONFIG_FILE, "source_tokenizer", "target_tokenizer"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    lexicon.unlink()
    with pytest.raises(FileNotFoundError, match=r"restore .*or train in a new"):
        TranslationRun(str(model_dir), **settings).train(epochs=1, bleu_every=0)


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_during_a_step_stops_the_run_before_the_next_one(
    tmp_path, monkeypatch, capsys
):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    presser = CtrlCInStep(step=1)
    made = ktb.distribute.training_callbacks
    monkeypatch.setattr(
        ktb.distribute, "training_callbacks", lambda *a, **k: [*made(*a, **k), presser]
    )
    run = TranslationRun(
        str(tmp_path / "run"), strategy="one_device", data=str(corpus), **TINY
    )
    with pytest.raises(KeyboardInterrupt):
        run.train(epochs=100, bleu_every=0)
    assert presser.steps_begun == 2
    assert "stopping once the current step" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _CtrlCAtEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


def _with_callback(monkeypatch, callback):
    made = ktb.distribute.training_callbacks
    monkeypatch.setattr(
        ktb.distribute, "training_callbacks", lambda *a, **k: [*made(*a, **k), callback]
    )


@pytest.mark.usefixtures("default_sigint")
def test_a_new_run_interrupted_after_an_epoch_is_kept_and_resumes(
    tmp_path, monkeypatch
):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    settings = dict(strategy="one_device", data=str(corpus), **TINY)
    with monkeypatch.context() as patch:
        _with_callback(patch, _CtrlCAtEpoch(1))  # as epoch 2 begins
        with pytest.raises(KeyboardInterrupt):
            TranslationRun(str(model_dir), **settings).train(epochs=3, bleu_every=0)
    # Epoch 1 is in the backup: the directory stays for the same call to go on.
    assert (model_dir / "backup").is_dir()
    history = TranslationRun(str(model_dir), **settings).train(epochs=3, bleu_every=0)
    assert [entry["epoch"] for entry in history] == [1, 2, 3]


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_during_the_final_save_lets_it_finish(tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    save = ktb.distribute.save_model_on_chief
    saves = []

    def save_with_ctrl_c(*args, **kwargs):
        if not saves:  # one Ctrl-C, in the first save (model.keras)
            os.kill(os.getpid(), signal.SIGINT)
        saves.append(args[1])
        return save(*args, **kwargs)

    monkeypatch.setattr(ktb.distribute, "save_model_on_chief", save_with_ctrl_c)
    run = TranslationRun(
        str(model_dir), strategy="one_device", data=str(corpus), **TINY
    )
    # Training had ended: the run finishes and says the Ctrl-C came too late
    # (an "interrupted" would send the user to rerun, training more epochs).
    history = run.train(epochs=1, bleu_every=0)
    assert [entry["epoch"] for entry in history] == [1]
    assert "came too late to stop anything" in capsys.readouterr().err
    files = {path.name for path in model_dir.iterdir()}
    assert {"model.keras", "averaged.keras", "history.json"} <= files, files
    assert not (model_dir / "backup").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_kill_during_the_final_save_keeps_the_trained_epochs(
    tmp_path, monkeypatch, capsys
):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    settings = dict(strategy="one_device", data=str(corpus), **TINY)

    def killed(*args, **kwargs):
        raise RuntimeError("killed while saving")

    with monkeypatch.context() as patch:
        patch.setattr(ktb.distribute, "save_model_on_chief", killed)
        with pytest.raises(RuntimeError, match="killed"):
            TranslationRun(str(model_dir), **settings).train(epochs=2, bleu_every=0)
    # The backup outlives fit until model.keras holds the run.
    assert (model_dir / "backup").is_dir()
    capsys.readouterr()
    history = TranslationRun(str(model_dir), **settings).train(epochs=2, bleu_every=0)
    assert [entry["epoch"] for entry in history] == [1, 2]
    assert "Epoch 1/2" not in capsys.readouterr().out  # nothing trained again


def test_the_budget_drives_the_learning_rate_cooldown(tmp_path, monkeypatch):
    from keras_transformer_bit.recipes.noam_schedule import NoamSchedule

    progress = []
    set_progress = NoamSchedule.set_progress

    def recording(self, fraction):
        progress.append(fraction)
        set_progress(self, fraction)

    monkeypatch.setattr(NoamSchedule, "set_progress", recording)
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    model_dir = tmp_path / "run"
    run = TranslationRun(
        str(model_dir), strategy="one_device", data=str(corpus),
        learning_rate_cooldown=0.5, **TINY,
    )  # fmt: skip
    run.train(epochs=2, budget_minutes=5, bleu_every=0)
    assert run.resolve_config()["learning_rate_cooldown"] == 0.5
    # Set before every step, from the budget's clock; back to 0 at the end.
    *during, after = progress
    assert len(during) >= 2 and during == sorted(during) and after == 0.0
    assert 0 <= during[0] < during[-1] < 0.1
    model = keras.saving.load_model(model_dir / "model.keras")
    schedule = model.optimizer._learning_rate
    assert schedule.cooldown == 0.5 and schedule.total_steps is None


def test_runs_saved_before_the_cooldown_resume_without_one(tmp_path):
    model_dir = _one_epoch_run(tmp_path)
    config_path = model_dir / run_files.CONFIG_FILE
    config = json.loads(config_path.read_text())
    assert config["learning_rate_cooldown"] == 0.3  # the recipe's
    del config["learning_rate_cooldown"]
    config_path.write_text(json.dumps(config))
    # What it trained with is no cooldown: asking for none is no change.
    TranslationRun(str(model_dir), learning_rate_cooldown=0.0).resolve_config()
    with pytest.raises(ValueError, match=r"learning_rate_cooldown=0.3 \(saved: "):
        TranslationRun(str(model_dir), learning_rate_cooldown=0.3).resolve_config()


@pytest.mark.parametrize("cooldown", [1.5, -0.1, float("nan"), "half"])
def test_bad_cooldowns_are_refused_before_any_work(tmp_path, cooldown):
    with pytest.raises(ValueError, match=r"learning_rate_cooldown must be a float in"):
        TranslationRun(str(tmp_path / "run"), learning_rate_cooldown=cooldown).train(
            epochs=1
        )
    assert not (tmp_path / "run").exists()


def test_a_cooldown_without_a_budget_says_the_plain_schedule_trains(tmp_path, capsys):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    run = TranslationRun(
        str(tmp_path / "run"), strategy="one_device", data=str(corpus), **TINY
    )
    run.train(epochs=1, bleu_every=0)
    out = capsys.readouterr().out
    note = "Note: without budget_minutes the learning-rate cooldown (the last 0.3"
    assert note in out
