"""Under `ktb`, an error on a bad setting names the flag, not the Python key."""

import re

import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.cli.main import main
from keras_transformer_bit.training import TranslationRun


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
        (
            ["--learning-rate-cooldown", "1.5"],
            r"--learning-rate-cooldown must be a float in \[0, 1\]\. "
            r"Received: --learning-rate-cooldown=1.5",
        ),
        (["--learning-rate-cooldown", "nan"], r"--learning-rate-cooldown=nan"),
        (
            ["--target-embeddings", "nope"],
            r"--target-embeddings: Pretrained embeddings must be a directory .*'nope'",
        ),
        (
            ["--target-embeddings", "nope", "--shared-vocabulary"],
            r"--target-embeddings initialises .*leave out --shared-vocabulary",
        ),
        (
            ["--alternative-pairs"],  # a TSV file, not Ding
            r"--alternative-pairs adds the Ding .* needs --data ding",
        ),
        (
            ["--source-lexicon", "ding"],  # a TSV file: no --target-embeddings
            r"--source-lexicon starts .* needs --target-embeddings",
        ),
        (
            ["--source-lexicon", "nope.tsv", "--target-embeddings", "none"],
            r"--source-lexicon starts .* needs --target-embeddings",
        ),
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


def _write_pairs(path, num_pairs=40):
    words = "eins zwei drei vier fünf sechs sieben acht neun zehn".split()
    english = "one two three four five six seven eight nine ten".split()
    path.write_text(
        "".join(
            f"Ich sehe {words[n % 10]} Hunde {n}.\tI see {english[n % 10]} dogs {n}.\n"
            for n in range(num_pairs)
        ),
        encoding="utf-8",
    )
    return str(path)


SMALL_MODEL = ["--preset", "transformer_tiny", "--num-layers", "1"]
SMALL_MODEL += ["--hidden-dim", "16", "--intermediate-dim", "32", "--num-heads", "2"]
SMALL_MODEL += ["--strategy", "one_device", "--no-jit"]
# Short, should a check fail to stop the run.
SMALL_MODEL += ["--epochs", "1", "--bleu-every", "0", "--tokens-per-batch", "64"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (
            ["--vocabulary-size", "80", "--max-length", "1"],
            r"longer than --max-length=1 tokens.*Raise --max-length",
        ),
        (
            ["--test-size", "1000"],
            r"--test-size=1000 .*40 pairs.*--test-size may be at most 16",
        ),
        (
            ["--test-size", "5", "--validation-size", "30"],
            r"--validation-size=30 .*40 pairs.*--validation-size may be at most 15",
        ),
        (
            ["--vocabulary-size", "10"],
            r"--vocabulary-size=10 is smaller than .*: use at least \d+",
        ),
        (
            ["--vocabulary-size", "10", "--tokenizer", "sentencepiece"],
            r"--vocabulary-size=10 is smaller than .*: use at least \d+",
        ),
        (
            ["--source-column", "5"],
            r"no column 5 .*at most 2 tab-separated.*--source-column=5",
        ),
        (
            ["--source-column", "1", "--target-column", "1"],
            r"--source-column and --target-column must differ",
        ),
    ],
)
def test_translate_train_errors_from_the_data_name_the_flags(tmp_path, flags, message):
    data = _write_pairs(tmp_path / "pairs.tsv")
    command = ["translate", "train", "--data", data, *SMALL_MODEL]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match=message) as error:
        main(command + flags)
    for key in ("max_length", "test_size", "validation_size", "vocabulary_size"):
        assert f"{key}=" not in str(error.value)
    assert "source_column" not in str(error.value)
    # SentencePiece's character coverage is no ktb option.
    assert "coverage" not in str(error.value)
    assert not (tmp_path / "run").exists()


def test_an_unknown_corpus_is_named_as_the_caller_names_it(tmp_path):
    from keras_transformer_bit.training import TranslationRun

    absent = str(tmp_path / "nosuch.tsv")
    command = ["translate", "train", "--data", absent]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(
        ValueError, match=r"^--data must be .*--data='.*nosuch.tsv'"
    ) as e:
        main(command)
    assert "no such file" in str(e.value)
    run = TranslationRun(tmp_path / "run", data=absent, strategy="one_device")
    with pytest.raises(ValueError, match=r"^data must be .*Received: data='"):
        run.train(epochs=1)
    assert not (tmp_path / "run").exists()


def test_held_out_sizes_beyond_the_corpus_are_refused_in_python_too(tmp_path):
    from keras_transformer_bit.training import TranslationRun

    data = _write_pairs(tmp_path / "pairs.tsv")
    run = TranslationRun(
        tmp_path / "run", data=data, test_size=1000, strategy="one_device"
    )
    with pytest.raises(ValueError, match=r"test_size=1000 .*40 pairs"):
        run.train(epochs=1, bleu_every=0)
    assert not (tmp_path / "run").exists()


def test_a_smaller_vocabulary_than_asked_is_said_on_stderr(tmp_path, capsys):
    data = _write_pairs(tmp_path / "pairs.tsv")
    command = ["translate", "train", "--data", data, *SMALL_MODEL]
    command += ["--model-dir", str(tmp_path / "run"), "--vocabulary-size", "400"]
    # Stops after the vocabularies: every pair is longer than --max-length.
    with pytest.raises(ValueError, match="--max-length=1"):
        main(command + ["--max-length", "1"])
    err = capsys.readouterr().err
    note = r"^Note: --vocabulary-size 400, but this corpus gave (\d+) "
    built = re.search(note, err, re.MULTILINE)
    assert built, err
    assert int(built.group(1)) < 400 * 0.95
    assert "vocabulary_size" not in err


@pytest.mark.parametrize("key", ["bleu_every", "test_size"])
def test_non_negative_counts_take_numpy_ints_and_refuse_bools(tmp_path, key):
    from keras_transformer_bit.training import TranslationRun

    absent = str(tmp_path / "absent.tsv")
    settings = {"data": absent, "strategy": "one_device"}
    arguments = {"epochs": 1}
    (arguments if key == "bleu_every" else settings)[key] = np.int64(0)
    run = TranslationRun(tmp_path / "run", **settings)
    # Accepted: the run goes on to read the (absent) corpus.
    with pytest.raises(ValueError, match=r"data must be"):
        run.train(**arguments)
    for bad in (True, np.int64(-1)):
        (arguments if key == "bleu_every" else settings)[key] = bad
        run = TranslationRun(tmp_path / "run", **settings)
        with pytest.raises(ValueError, match=rf"{key} must be an int >= 0"):
            run.train(**arguments)


def test_evaluate_names_its_data_flag(tmp_path, monkeypatch):
    from keras_transformer_bit.training import default_config, translation_run

    config = {**default_config(), "data": "ding"}
    # A trained run is not needed to reach the corpus: the load is stubbed.
    monkeypatch.setattr(
        translation_run, "load_run", lambda *args: (config, None, None, None)
    )
    absent = str(tmp_path / "nosuch.tsv")
    command = ["translate", "evaluate", "--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match=r"^--data must be .*--data='.*nosuch"):
        main(command + ["--data", absent])


def test_columns_of_a_tsv_file_are_chosen_by_flag_and_kept_by_the_run(tmp_path):
    from keras_transformer_bit.cli.translate import TRAINING_FLAGS
    from keras_transformer_bit.training.translation_run import load_corpus

    assert TRAINING_FLAGS["source_column"] == "--source-column"
    path = tmp_path / "three.tsv"
    path.write_text(
        "".join(f"{n}\tEnglish {n}.\tDeutsch {n}.\n" for n in range(40)),
        encoding="utf-8",
    )
    run = TranslationRun(
        tmp_path / "run", data=str(path), source_column=2, target_column=1
    )
    corpus = load_corpus(run.resolve_config())
    assert all(s.startswith("Deutsch") for s, _ in corpus.train + corpus.test)
    assert all(t.startswith("English") for _, t in corpus.train + corpus.test)


def test_columns_for_a_corpus_that_is_not_a_tsv_file_are_refused(tmp_path):
    command = ["translate", "train", "--data", "ding", "--source-column", "2"]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match=r"--source-column .*tab-separated file"):
        main(command)
    assert not (tmp_path / "run").exists()


def test_a_corpus_too_small_to_hold_out_pairs_is_refused_before_training(tmp_path):
    # One distinct pair, repeated: nothing is left to validate or test on,
    # so `ktb translate evaluate` could never score the run.
    path = tmp_path / "one.tsv"
    path.write_text("Hallo Welt.\tHello world.\n" * 30, encoding="utf-8")
    command = ["translate", "train", "--data", str(path), *SMALL_MODEL]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError) as error:
        main(command)
    message = str(error.value)
    assert "1 distinct pair" in message and "29 repeated" in message
    assert "--test-size 0 and --validation-size 0" in message
    assert not (tmp_path / "run").exists()


DECODING_ERRORS = [
    (["--beam-size", "0"], r"^--beam-size must be a positive int.*--beam-size=0"),
    (
        ["--length-penalty", "-1"],
        r"^--length-penalty must be a float in \[0, 10\].*--length-penalty=-1",
    ),
    (["--length-penalty", "1e308"], r"--length-penalty=1e\+308"),
    (["--top-k", "0"], r"^--top-k must be a positive int.*--top-k=0"),
    (["--top-p", "1.5"], r"^--top-p must be a float in \(0, 1\].*--top-p=1.5"),
    (
        ["--top-k", "5", "--temperature", "0"],
        r"^--temperature must be a float in \[0.001, 1000\].*--temperature=0",
    ),
    (
        ["--method", "greedy", "--no-repeat-ngram-size", "-1"],
        r"^--no-repeat-ngram-size must be an int >= 0",
    ),
    (
        ["--max-repeat-run", "-1"],
        r"^--max-repeat-run must be an int >= 0.*--max-repeat-run=-1",
    ),
    (["--beam-size", "1000000000"], r"^--beam-size must be an int in \[1, 1024\]"),
    (
        ["--top-k", "5", "--temperature", "1e-45"],
        r"^--temperature must be a float in \[0.001, 1000\].*--temperature=1e-45",
    ),
    (
        ["--top-k", "5", "--seed", "99999999999999999999999"],
        r"^--seed must be an int in \[0, 2\*\*32 - 1\]",
    ),
    (["--max-length", "0"], r"^--max-length must be a positive int.*--max-length=0"),
    (
        ["--mbr-temperature", "0"],
        r"^--mbr-temperature must be a finite number > 0.*--mbr-temperature=0",
    ),
    (
        ["--beam-size", "1", "--mbr", "chrf"],
        r"^--mbr chooses among the beam's hypotheses, so it needs --beam-size 2",
    ),
]
PYTHON_KEYS = ("beam_size", "length_penalty", "top_k", "top_p", "temperature")
PYTHON_KEYS += ("no_repeat_ngram_size", "max_repeat_run", "max_length", "max_examples")
PYTHON_KEYS += ("mbr_utility", "mbr_temperature")


@pytest.mark.parametrize("command", ["predict", "evaluate", "export"])
@pytest.mark.parametrize("flags, message", DECODING_ERRORS)
def test_decoding_flag_errors_name_the_flags_before_loading(
    tmp_path, command, flags, message
):
    # The run directory is absent: loading it would fail with another message.
    argv = ["translate", command, "--model-dir", str(tmp_path / "absent"), *flags]
    if command == "predict":
        argv.append("Hallo.")
    with pytest.raises(ValueError, match=message) as error:
        main(argv)
    for key in PYTHON_KEYS:  # "temperature=" but not "--temperature="
        assert not re.search(rf"(?<![-\w]){key}=", str(error.value))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-examples", "0"], r"^--max-examples must be a positive int"),
        (["--max-examples", "-3"], r"^--max-examples must be a positive int"),
        (["--show", "-2"], r"^--show must be an int >= 0.*--show=-2"),
    ],
)
def test_evaluate_counts_are_checked_before_loading(tmp_path, flags, message):
    argv = ["translate", "evaluate", "--model-dir", str(tmp_path / "absent")]
    with pytest.raises(ValueError, match=message):
        main(argv + flags)


def test_a_missing_file_of_an_aligned_pair_names_data(tmp_path):
    (tmp_path / "de.txt").write_text("Hallo.\n", encoding="utf-8")
    data = f"{tmp_path / 'de.txt'},{tmp_path / 'missing.txt'}"
    command = ["translate", "train", "--data", data]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match=r"^--data with a comma must name two") as e:
        main(command)
    assert f"no such file: {tmp_path / 'missing.txt'}. " in str(e.value)
    assert str(e.value).endswith(f"Received: --data={data!r}")
    assert not (tmp_path / "run").exists()


def test_evaluate_checks_data_before_loading(tmp_path):
    # The run directory is absent: loading it would fail with another message.
    argv = ["translate", "evaluate", "--model-dir", str(tmp_path / "absent")]
    argv += ["--data", str(tmp_path / "nofile.tsv")]
    with pytest.raises(ValueError, match=r"^--data must be .*nofile.tsv.*no such file"):
        main(argv)


class _ConfigSeen(Exception):
    pass


def _stop_with_config(config):
    raise _ConfigSeen(config)


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], "all-minilm-l6-v2"),  # the recipe's, on Ding
        (["--target-embeddings", "none"], None),
        (["--shared-vocabulary"], None),  # English pieces cannot embed German
    ],
)
def test_target_embeddings_default_and_none(tmp_path, monkeypatch, flags, expected):
    from keras_transformer_bit.training import translation_run

    monkeypatch.setattr(translation_run, "load_corpus", _stop_with_config)
    command = ["translate", "train", "--data", "ding"]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(_ConfigSeen) as seen:
        main(command + flags)
    assert seen.value.args[0]["target_embeddings"] == expected


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], ("source_lexicon", "ding")),  # the recipe's, on Ding
        # Without pretrained vectors the recipe's lexicon is off, not refused.
        (["--target-embeddings", "none"], ("source_lexicon", None)),
        (["--source-lexicon", "none"], ("source_lexicon", None)),
        (["--source-lexicon", "ding"], ("source_lexicon", "ding")),
        (["--shared-vocabulary"], ("source_lexicon", None)),
        ([], ("alternative_pairs", True)),  # the recipe's, on Ding
        (["--no-alternative-pairs"], ("alternative_pairs", False)),
        (["--alternative-pairs"], ("alternative_pairs", True)),
    ],
)
def test_data_and_embedding_flags_reach_the_config(
    tmp_path, monkeypatch, flags, expected
):
    from keras_transformer_bit.training import translation_run

    monkeypatch.setattr(translation_run, "load_corpus", _stop_with_config)
    command = ["translate", "train", "--data", "ding"]
    command += ["--model-dir", str(tmp_path / "run")]
    with pytest.raises(_ConfigSeen) as seen:
        main(command + flags)
    key, value = expected
    assert seen.value.args[0][key] == value
