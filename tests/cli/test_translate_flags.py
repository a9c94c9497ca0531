"""`ktb translate` flags: decoding options, checkpoint choice, resuming safely."""

import json

import pytest

from keras_transformer_bit.cli import translate
from keras_transformer_bit.cli.main import build_parser, main
from keras_transformer_bit.recipes import translation_recipe
from keras_transformer_bit.training import translation_run as run_files

RECIPE = translation_recipe()
# The recipe's MBR choice among the beam's hypotheses.
MBR = {"mbr_utility": RECIPE.mbr_utility, "mbr_temperature": RECIPE.mbr_temperature}
BEAM = {"beam_size": RECIPE.beam_size, "length_penalty": RECIPE.length_penalty}


def _parse(*argv):
    return build_parser().parse_args(["translate", *argv])


@pytest.mark.parametrize(
    "flags, method, options",
    [
        ([], "beam", {**BEAM, **MBR}),
        (["--beam-size", "2"], "beam", {**BEAM, "beam_size": 2, **MBR}),
        # One beam has nothing to choose among.
        (["--beam-size", "1"], "beam", {**BEAM, "beam_size": 1, "mbr_utility": None}),
        (["--mbr", "none"], "beam", {**BEAM, "mbr_utility": None}),
        (
            ["--mbr", "chrf", "--mbr-temperature", "2"],
            "beam",
            {**BEAM, "mbr_utility": "chrf", "mbr_temperature": 2.0},
        ),
        (["--method", "greedy"], "greedy", {}),
        (["--top-k", "5"], "top_k", {"top_k": 5}),
        (
            ["--top-p", "0.9", "--temperature", "0.7", "--seed", "3"],
            "top_p",
            {"top_p": 0.9, "temperature": 0.7, "seed": 3},
        ),
        (["--method", "top_k", "--seed", "1"], "top_k", {"seed": 1}),
    ],
)
def test_decoding_options(flags, method, options):
    args = _parse("predict", "--model-dir", "run", *flags)
    options = {**options, "max_repeat_run": RECIPE.max_repeat_run}
    assert translate.decoding_options(args) == (method, options)


@pytest.mark.parametrize("method", ["beam", "greedy", "top_k", "top_p"])
def test_max_repeat_run_defaults_to_the_recipe_and_0_turns_it_off(method):
    args = _parse("predict", "--model-dir", "run", "--method", method)
    assert translate.decoding_options(args)[1]["max_repeat_run"] == (
        RECIPE.max_repeat_run
    )
    flags = ["--method", method, "--max-repeat-run", "0"]
    args = _parse("predict", "--model-dir", "run", *flags)
    assert translate.decoding_options(args)[1]["max_repeat_run"] == 0


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--method", "greedy", "--top-k", "5"], "--top-k applies to --method top_k"),
        (
            ["--beam-size", "3", "--top-p", "0.9"],
            "--beam-size applies to --method beam",
        ),
        (["--temperature", "0.5"], "--temperature applies to --method top_k or top_p"),
        (["--seed", "1"], "--seed applies to --method top_k or top_p"),
        (["--top-k", "5", "--top-p", "0.9"], "--top-k and --top-p"),
        (["--method", "greedy", "--mbr", "chrf"], "--mbr applies to --method beam"),
        (
            ["--top-k", "5", "--mbr-temperature", "1"],
            "--mbr-temperature applies to --method beam",
        ),
        (
            ["--mbr", "none", "--mbr-temperature", "1"],
            "--mbr-temperature weighs the candidates of an MBR choice, which is off",
        ),
    ],
)
def test_decoding_flags_the_method_does_not_use_are_refused(flags, message):
    args = _parse("evaluate", "--model-dir", "run", *flags)
    with pytest.raises(ValueError, match=message):
        translate.decoding_options(args)


def test_decoding_flags_on_every_command():
    for command in ("evaluate", "predict", "export"):
        args = _parse(command, "--model-dir", "run", "--max-length", "9")
        assert args.decode_max_length == 9 and args.checkpoint == "auto"


def test_checkpoint_path_prefers_the_best(tmp_path):
    last, best = tmp_path / "model.keras", tmp_path / "best.keras"
    last.write_text("")
    assert run_files.checkpoint_path(str(tmp_path)) == str(last)
    assert run_files.checkpoint_path(str(tmp_path), "last") == str(last)
    with pytest.raises(FileNotFoundError, match="no best.keras.*--checkpoint last"):
        run_files.checkpoint_path(str(tmp_path), "best")
    best.write_text("")
    assert run_files.checkpoint_path(str(tmp_path)) == str(best)
    assert run_files.checkpoint_path(str(tmp_path), "best") == str(best)
    assert run_files.checkpoint_path(str(tmp_path), "last") == str(last)


def _saved_run(tmp_path, **changes):
    config = {**run_files.default_config(), "data": "pairs.tsv", **changes}
    (tmp_path / run_files.CONFIG_FILE).write_text(json.dumps(config))
    return str(tmp_path)


def test_resume_with_changed_training_flags_is_refused_naming_them(tmp_path):
    model_dir = _saved_run(tmp_path, max_length=16, model_overrides={"num_layers": 1})
    train = ["translate", "train", "--model-dir", model_dir, "--data", "pairs.tsv"]
    with pytest.raises(ValueError) as error:
        main(
            train
            + ["--max-length", "32", "--num-layers", "2", "--shared-vocabulary"]
            + ["--validation-size", "10", "--epochs", "3"]
        )
    message = str(error.value)
    assert "--max-length 32 (saved: --max-length 16)" in message
    assert "--num-layers 2 (saved: --num-layers 1)" in message
    assert "--shared-vocabulary (saved: --separate-vocabularies)" in message
    assert "--validation-size 10 (saved: --validation-size (default))" in message
    # Per-run flags (--epochs) and the flags that agree are not named.
    assert "--epochs" not in message and "--data" not in message
    with pytest.raises(
        ValueError, match=r"--data other.tsv \(saved: --data pairs.tsv\)"
    ):
        main(["translate", "train", "--model-dir", model_dir, "--data", "other.tsv"])


def test_resume_flags_equal_to_the_saved_ones_pass_the_check(tmp_path):
    saved = run_files.default_config()
    args = build_parser().parse_args(
        ["translate", "train", "--model-dir", "run", "--data", "ding"]
        + ["--max-length", str(saved["max_length"]), "--epochs", "2"]
        + ["--budget-minutes", "5", "--strategy", "one_device"]
    )
    assert translate.changed_training_flags(saved, translate._chosen_config(args)) == []
    # User trial: a model flag equal to the preset's value, which the run
    # never overrode, is no change either; another value is.
    args = build_parser().parse_args(
        ["translate", "train", "--model-dir", "run", "--data", "ding"]
        + ["--num-layers", "3", "--hidden-dim", "128", "--dropout", "0.2"]
    )
    assert translate.changed_training_flags(saved, translate._chosen_config(args)) == []
    args = build_parser().parse_args(
        ["translate", "train", "--model-dir", "run", "--num-layers", "2"]
    )
    assert translate.changed_training_flags(saved, translate._chosen_config(args)) == [
        "--num-layers 2 (saved: --num-layers 3)"
    ]


def test_a_new_run_takes_the_recipe_for_flags_left_out():
    from keras_transformer_bit.recipes import translation_recipe

    recipe = translation_recipe()
    config = run_files.default_config()
    assert config["preset"] == recipe.preset
    assert config["max_length"] == recipe.max_length
    assert config["tokens_per_batch"] == recipe.tokens_per_batch
    assert config["vocabulary_size"] == recipe.vocabulary_size


def test_validation_size_reaches_the_corpus_split(tmp_path):
    corpus_path = tmp_path / "pairs.tsv"
    corpus_path.write_text(
        "".join(f"Satz {n}.\tSentence {n}.\n" for n in range(60)), encoding="utf-8"
    )
    args = _parse(
        "train", "--model-dir", str(tmp_path / "run"), "--data", str(corpus_path),
        "--test-size", "6", "--validation-size", "9",
    )  # fmt: skip
    config = {**run_files.default_config(), **translate._chosen_config(args)}
    corpus = run_files.load_corpus(config)
    assert (len(corpus.test), len(corpus.validation)) == (6, 9)
    assert len(corpus.train) == 60 - 6 - 9


@pytest.mark.parametrize("flag", ["--tokens-per-batch", "--max-length"])
def test_zero_sizes_are_refused_before_the_corpus_is_read(tmp_path, flag):
    # The corpus is absent: reading it (or building vocabularies) would fail
    # with another message.
    command = ["translate", "train", "--data", str(tmp_path / "absent.tsv")]
    command += ["--model-dir", str(tmp_path / "run"), flag, "0"]
    with pytest.raises(ValueError, match=f"{flag} must be a positive int"):
        main(command)
    assert not (tmp_path / "run").exists()


def test_ram_model_dir_is_refused_for_multi_worker(tmp_path):
    command = ["translate", "train", "--data", str(tmp_path / "absent.tsv")]
    command += ["--model-dir", "ram://ktb_tr_mw/run", "--strategy", "multi_worker"]
    with pytest.raises(ValueError, match=r"ram://ktb_tr_mw/run.*multi_worker"):
        main(command)


def test_ram_model_dir_warns_that_the_run_ends_with_the_process(tmp_path):
    command = ["translate", "train", "--data", str(tmp_path / "absent.tsv")]
    command += ["--model-dir", "ram://ktb_tr_warn/run", "--strategy", "one_device"]
    with pytest.warns(UserWarning, match="does not outlive this process"):
        with pytest.raises(Exception):  # noqa: B017 (the absent corpus)
            main(command)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--subword-sampling-alpha", "0.1"], r"--subword-sampling-alpha 0.1 needs"),
        (
            ["--tokenizer", "sentencepiece", "--subword-sampling-alpha", "1.5"],
            r"--subword-sampling-alpha must be a number in \(0, 1\].*1.5",
        ),
    ],
)
def test_subword_sampling_flags_are_checked_before_the_corpus_is_read(
    tmp_path, flags, message
):
    command = ["translate", "train", "--data", str(tmp_path / "absent.tsv")]
    command += ["--model-dir", str(tmp_path / "run")] + flags
    with pytest.raises(ValueError, match=message):
        main(command)
    assert not (tmp_path / "run").exists()


def test_tokenizer_flag_choices_and_default():
    assert run_files.default_config()["tokenizer"] == "wordpiece"
    assert run_files.default_config()["subword_sampling_alpha"] is None
    args = _parse(
        "train", "--model-dir", "run", "--tokenizer", "sentencepiece-bpe",
        "--subword-sampling-alpha", "0.1",
    )  # fmt: skip
    chosen = translate._chosen_config(args)
    assert chosen["tokenizer"] == "sentencepiece-bpe"
    assert chosen["subword_sampling_alpha"] == 0.1
    with pytest.raises(SystemExit):
        _parse("train", "--model-dir", "run", "--tokenizer", "bytes")


def test_resume_with_another_tokenizer_is_refused(tmp_path):
    model_dir = _saved_run(tmp_path)
    # A config written before the flags existed: its run used WordPiece.
    config = json.loads((tmp_path / run_files.CONFIG_FILE).read_text())
    del config["tokenizer"], config["subword_sampling_alpha"]
    (tmp_path / run_files.CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(
        ValueError, match=r"--tokenizer sentencepiece \(saved: --tokenizer wordpiece\)"
    ):
        main(
            ["translate", "train", "--model-dir", model_dir, "--data", "pairs.tsv"]
            + ["--tokenizer", "sentencepiece"]
        )


def test_shared_and_separate_vocabularies_together_are_refused(tmp_path):
    train = ["translate", "train", "--model-dir", str(tmp_path / "run")]
    with pytest.raises(ValueError, match="--shared-vocabulary and --separate"):
        main(train + ["--shared-vocabulary", "--separate-vocabularies"])
    assert not (tmp_path / "run").exists()


def test_resume_names_target_embeddings_none_as_none(tmp_path):
    # A user trial read "--target-embeddings (default)" for an explicit none,
    # while the recipe's default is all-minilm-l6-v2.
    model_dir = _saved_run(tmp_path, target_embeddings="all-minilm-l6-v2")
    with pytest.raises(ValueError) as error:
        main(
            ["translate", "train", "--model-dir", model_dir]
            + ["--target-embeddings", "none"]
        )
    assert (
        "--target-embeddings none (saved: --target-embeddings all-minilm-l6-v2)"
        in str(error.value)
    )


def test_resume_names_the_source_lexicon_and_alternative_pairs(tmp_path):
    model_dir = _saved_run(
        tmp_path, data="ding", source_lexicon="ding", alternative_pairs=True
    )
    with pytest.raises(ValueError) as error:
        main(
            ["translate", "train", "--model-dir", model_dir, "--data", "ding"]
            + ["--source-lexicon", "none", "--no-alternative-pairs"]
        )
    message = str(error.value)
    assert "--source-lexicon none (saved: --source-lexicon ding)" in message
    assert "--no-alternative-pairs (saved: --alternative-pairs)" in message
