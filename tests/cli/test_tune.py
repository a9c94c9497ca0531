import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.cli import main as cli_main
from keras_transformer_bit.cli.tune import parse_search_space
from tests.cli.test_translate_cli import _write_corpus
from tests.distribute.processes import kill, wait_until


def test_tune_parser_has_both_families():
    parser = cli_main.build_parser()
    args = parser.parse_args(
        ["tune", "bit", "--data", "fashion_mnist", "--tuner", "hyperband"]
    )
    assert args.family == "bit" and args.tuner == "hyperband"
    assert args.handler.__name__ == "bit_command"
    args = parser.parse_args(["tune", "transformer", "--data", "ding"])
    assert args.handler.__name__ == "transformer_command"
    with pytest.raises(SystemExit):
        parser.parse_args(["tune", "bit", "--data", "x", "--tuner", "grid"])


def test_search_space_json():
    assert parse_search_space(
        '{"dropout": {"min": 0.0, "max": 0.3}, "num_layers": [1, 2]}'
    ) == {"dropout": (0.0, 0.3), "num_layers": [1, 2]}
    assert parse_search_space(None) is None
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_search_space("[1, 2]")
    with pytest.raises(ValueError, match="A range is"):
        parse_search_space('{"dropout": {"low": 0}}')


@pytest.mark.parametrize(
    "tf_config, strategy",
    [
        (
            '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, '
            '"task": {"type": "worker", "index": 1}}',
            "auto",
        ),
        (None, "multi_worker"),
    ],
)
def test_multi_worker_is_refused_up_front(monkeypatch, tf_config, strategy):
    if tf_config:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    else:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    for family in ("bit", "transformer"):
        with pytest.raises(ValueError, match="KERASTUNER_TUNER_ID=chief"):
            cli_main.main(["tune", family, "--data", "missing", "--strategy", strategy])


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--tokens-per-batch", "0"], "--tokens-per-batch must be a positive int"),
        (["--max-length", "-1"], "--max-length must be a positive int"),
        (["--vocabulary-size", "0"], "--vocabulary-size must be a positive int"),
        (["--tokens-per-batch", "16", "--max-length", "32"], "--tokens-per-batch"),
        (["--max-examples", "40"], "--max-examples is no longer taken"),
        (["--budget-minutes", "0"], "--budget-minutes must be > 0"),
        (["--bleu-examples", "0"], "--bleu-examples must be a positive int"),
        (
            ["--vocabulary-size", "100", "--search-space", '{"vocabulary_size": [9]}'],
            "--vocabulary-size fixes vocabulary_size, which --search-space also",
        ),
    ],
)
def test_transformer_sizes_are_refused_before_the_corpus_is_read(flags, message):
    # The corpus is absent: reading it, or building the vocabulary, would fail
    # with another message.
    command = ["tune", "transformer", "--data", "missing.tsv", *flags]
    with pytest.raises(ValueError, match=message):
        cli_main.main(command)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--train-size", "0"], "--train-size must be a positive int"),
        (["--train-size", "-5"], "--train-size must be a positive int"),
        (["--validation-size", "0"], "--validation-size must be a positive int"),
        (["--batch-size", "0"], "--batch-size must be a positive int"),
        (["--epochs", "0"], "--epochs must be a positive int"),
        (["--steps-fraction", "0"], r"--steps-fraction must be in \(0, 1\]"),
        (["--steps-fraction", "2"], r"Received: --steps-fraction 2"),
        (["--search-space", "[1]"], "--search-space must be a JSON object"),
    ],
)
def test_bit_sizes_are_refused_naming_the_flag_before_the_data_is_read(flags, message):
    # The data is absent: reading it would fail with another message.
    with pytest.raises(ValueError, match=message):
        cli_main.main(["tune", "bit", "--data", "folder:missing", *flags])


def test_results_table_on_a_worker_says_where_the_trials_are(monkeypatch):
    from keras_transformer_bit.tuning import results_table

    class OracleClient:  # what KerasTuner gives a worker: no `trials`
        objective = None

    class Tuner:
        oracle = OracleClient()

    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    with pytest.raises(ValueError, match="only the chief holds the trials"):
        results_table(Tuner())


def _image_folder(root, per_class=4):
    rng = np.random.default_rng(0)
    for label, name in enumerate(["circles", "squares"]):
        os.makedirs(root / name)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (12, 10, 3), "uint8") // (label + 1)
            (root / name / f"{i}.png").write_bytes(
                bytes(tf.io.encode_png(pixels).numpy())
            )
    return root


def test_tune_bit_scores_folder_trials_on_images_no_trial_trains_on(
    tmp_path, monkeypatch
):
    """A folder has no test split: a fifth of every class is held out to
    score the trials (it used to score them on images they trained on)."""
    from keras_transformer_bit.cli import tune

    seen = {}

    def search(args, build_tuner, objective, search_args, search_kwargs):
        seen["train"], seen["validation"] = (
            search_args[0],
            search_kwargs["validation_data"],
        )
        return 1

    monkeypatch.setattr(tune, "_run_search", search)
    data = _image_folder(tmp_path / "images", per_class=5)
    command = ["tune", "bit", "--data", f"folder:{data}", "--directory"]
    assert cli_main.main([*command, str(tmp_path / "tune")]) == 1
    train, validation = seen["train"], seen["validation"]
    assert not set(train.images) & set(validation.images)
    assert len(train) == 8 and len(validation) == 2
    assert np.bincount(validation.labels).tolist() == [1, 1]


def _tiny_search(family, tmp_path):
    if family == "bit":
        data = _image_folder(tmp_path / "images")
        args = ["--data", f"folder:{data}", "--batch-size", "4"]
        args += ["--steps-fraction", "0.0005"]
        space = {"resolution_multiplier": [0.125, 0.1, 0.09]}
    else:
        corpus = tmp_path / "pairs.tsv"
        rng = np.random.default_rng(0)
        words = "ich du er wir bin bist ist sind hier dort".split()
        lines = [
            " ".join(rng.choice(words, 3)) + f"\t{index} " + " ".join(words[:3])
            for index in range(60)
        ]
        corpus.write_text("\n".join(lines) + "\n")
        args = ["--data", str(corpus), "--bleu-examples", "4"]
        args += ["--validation-size", "8", "--vocabulary-size", "60"]
        args += ["--max-length", "16", "--tokens-per-batch", "128"]
        space = {
            "num_layers": [1],
            "hidden_dim": [16],
            "num_heads": [2],
            "intermediate_multiplier": [2],
            "dropout": [0.0, 0.1, 0.2],
            "warmup_steps": [10],
        }
    return args + ["--search-space", json.dumps(space)]


@pytest.mark.large
@pytest.mark.timeout(240)
def test_tune_transformer_trials_are_translate_train_runs(tmp_path, capsys):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    space = {"num_layers": [1], "hidden_dim": [16], "num_heads": [2],
             "intermediate_multiplier": [2], "dropout": [0.1, 0.0]}  # fmt: skip
    command = ["tune", "transformer", "--data", str(corpus), "--tuner", "hyperband"]
    command += ["--vocabulary-size", "120", "--tokens-per-batch", "128"]
    command += ["--max-length", "16", "--validation-size", "6"]
    command += ["--bleu-examples", "4", "--max-epochs", "1", "--budget-minutes", "5"]
    command += ["--strategy", "one_device", "--directory", str(tmp_path / "search")]
    command += ["--project-name", "p", "--search-space", json.dumps(space)]
    assert cli_main.main(command) == 0
    output = capsys.readouterr().out
    table = [line for line in output.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| rank | trial | status | val_bleu |"), output
    assert len(table) == 1 + 1 and "COMPLETED" in table[1]  # max_epochs 1: 1 trial
    best = re.search(r"The best trial's run: (\S+)\. ", output).group(1)
    assert best.startswith(str(tmp_path / "search" / "p" / "trial_"))
    config = json.loads(open(os.path.join(best, "translate_config.json")).read())
    assert (config["vocabulary_size"], config["tokens_per_batch"]) == (120, 128)
    assert config["max_length"] == 16 and config["data"] == str(corpus)
    # The best trial's run is a model directory of `ktb translate`.
    assert cli_main.main(["translate", "predict", "--model-dir", best, "Ich."]) == 0


@pytest.mark.large
@pytest.mark.timeout(600)
@pytest.mark.parametrize("family", ["bit", "transformer"])
def test_chief_and_two_tuners_all_exit_0(tmp_path, family):
    # The package's hypermodels through `ktb tune`: a chief (the oracle) and two
    # tuners on loopback. tuner1 starts late with --overwrite, which must not
    # wipe the trials tuner0 already wrote to the shared directory.
    port = ktb.distribute.free_ports(1)[0]
    command = [sys.executable, "-m", "keras_transformer_bit.cli.main", "tune"]
    command += [family, *_tiny_search(family, tmp_path), "--tuner", "random_search"]
    command += ["--max-trials", "3", "--epochs", "1", "--strategy", "one_device"]
    command += ["--directory", str(tmp_path / "search"), "--project-name", "p"]
    processes, logs = {}, {}
    try:
        for role in ["chief", "tuner0", "tuner1"]:
            env = {key: value for key, value in os.environ.items()}
            env.pop("TF_CONFIG", None)
            env.update(
                TF_CPP_MIN_LOG_LEVEL="2",
                KERASTUNER_TUNER_ID=role,
                KERASTUNER_ORACLE_IP="127.0.0.1",
                KERASTUNER_ORACLE_PORT=str(port),
            )
            if role == "tuner1":
                assert wait_until(
                    lambda: list((tmp_path / "search").glob("p/trial_*")), 300
                ), logs["tuner0"].name
            logs[role] = open(tmp_path / f"{role}.log", "w+")
            extra = ["--overwrite"] if role == "tuner1" else []
            processes[role] = subprocess.Popen(
                command + extra, env=env, stdout=logs[role], stderr=subprocess.STDOUT
            )
        codes = {role: p.wait(timeout=420) for role, p in processes.items()}
    finally:
        for process in processes.values():
            kill(process)
        for log in logs.values():
            log.close()
    outputs = {role: (tmp_path / f"{role}.log").read_text() for role in processes}
    assert codes == {"chief": 0, "tuner0": 0, "tuner1": 0}, outputs
    table = [line for line in outputs["chief"].splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 3, outputs["chief"]  # header, then one row a trial
    assert all("COMPLETED" in row for row in table[1:]), table
    for role in ("tuner0", "tuner1"):
        assert "the chief prints the results" in outputs[role], outputs[role]
        assert "Traceback" not in outputs[role], outputs[role]
    trials = sorted(p.name for p in (tmp_path / "search" / "p").glob("trial_*"))
    assert len(trials) == 3, trials
    if family == "bit":  # the chief saves the best trial's model
        assert (tmp_path / "search" / "p" / "best_model.keras").exists()
        assert "The best trial's model: " in outputs["chief"], outputs["chief"]


def _help(capsys, family):
    with pytest.raises(SystemExit):
        cli_main.main(["tune", family, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_each_family_help_gives_its_own_search_space_and_data(capsys):
    from keras_transformer_bit.cli.tune import BIT_SEARCH_SPACE_EXAMPLE
    from keras_transformer_bit.tuning.bit_hypermodel import BIT_SEARCH_SPACE

    bit = _help(capsys, "bit")
    assert "num_layers" not in bit and "dropout" not in bit
    assert BIT_SEARCH_SPACE_EXAMPLE in bit
    assert all(name in bit for name in BIT_SEARCH_SPACE)
    # The example is one the BiT search takes.
    ktb.tuning.BiTHyperModel(
        num_classes=2, dataset_size=8, image_size=(12, 12),
        search_space=parse_search_space(BIT_SEARCH_SPACE_EXAMPLE),
    )  # fmt: skip
    for value in ("fashion_mnist", "tfds:NAME", "folder:PATH"):
        assert value in bit
    # How to use the best trial: its model file, evaluated and exported.
    for text in ("best_model.keras", "bit_evaluate", "export_image_classifier"):
        assert text in bit
    transformer = _help(capsys, "transformer")
    assert "num_layers" in transformer and "resolution_multiplier" not in transformer
    assert "'ding'" in transformer and "fashion_mnist" not in transformer


@pytest.mark.large
@pytest.mark.timeout(300)
def test_tune_bit_saves_the_best_trials_model_for_evaluation_and_export(
    tmp_path, capsys
):
    import keras

    command = ["tune", "bit", *_tiny_search("bit", tmp_path), "--max-trials", "1"]
    command += ["--epochs", "1", "--strategy", "one_device", "--project-name", "p"]
    assert cli_main.main(command + ["--directory", str(tmp_path / "search")]) == 0
    path = str(tmp_path / "search" / "p" / "best_model.keras")
    assert f"The best trial's model: {path}" in capsys.readouterr().out
    best = keras.saving.load_model(path)
    assert best.class_names == ["circles", "squares"]
    assert best.image_size == (16, 16)  # 0.125 of the rule's 128
    images = ktb.data.load_image_folder(str(tmp_path / "images"))
    assert ktb.recipes.bit_evaluate(best, images)["num_examples"] == 8


def _tune_process(role, port, args, log_path):
    env = {key: value for key, value in os.environ.items()}
    env.pop("TF_CONFIG", None)
    env.update(
        TF_CPP_MIN_LOG_LEVEL="2",
        KERASTUNER_TUNER_ID=role,
        KERASTUNER_ORACLE_IP="127.0.0.1",
        KERASTUNER_ORACLE_PORT=str(port),
    )
    log = open(log_path, "w+")
    process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    return process


def _tune_bit_command(tmp_path, max_trials):
    command = [sys.executable, "-m", "keras_transformer_bit.cli.main", "tune"]
    command += ["bit", *_tiny_search("bit", tmp_path), "--tuner", "random_search"]
    command += ["--max-trials", str(max_trials), "--epochs", "1"]
    command += ["--strategy", "one_device", "--project-name", "p"]
    return command + ["--directory", str(tmp_path / "search")]


# Stands in for a tuner killed during its trial: it takes a trial, then is killed.
_TAKES_A_TRIAL = """
import os, sys, time
from keras_tuner.src import protos
import grpc
stub = protos.get_service_grpc().OracleStub(grpc.insecure_channel(sys.argv[1]))
request = protos.get_service().CreateTrialRequest(tuner_id="tuner0")
trial = stub.CreateTrial(request, wait_for_ready=True, timeout=300).trial
print("took trial", trial.trial_id, flush=True)
time.sleep(600)
"""


@pytest.mark.large
@pytest.mark.timeout(420)
def test_chief_fails_the_trial_of_a_killed_tuner_and_exits(tmp_path):
    # User trial: kill -9 tuner0 during its trial; tuner1 finished the other
    # trials and the chief waited forever, silently, for tuner0's trial.
    port = ktb.distribute.free_ports(1)[0]
    command = _tune_bit_command(tmp_path, max_trials=3) + ["--trial-timeout", "10"]
    processes = {}
    try:
        processes["chief"] = _tune_process(
            "chief", port, command, tmp_path / "chief.log"
        )
        processes["tuner0"] = _tune_process(
            "tuner0",
            port,
            [sys.executable, "-c", _TAKES_A_TRIAL, f"127.0.0.1:{port}"],
            tmp_path / "tuner0.log",
        )
        assert wait_until(
            lambda: "took trial" in (tmp_path / "tuner0.log").read_text(), 240
        ), (tmp_path / "chief.log").read_text()
        kill(processes["tuner0"])
        processes["tuner1"] = _tune_process(
            "tuner1", port, command, tmp_path / "tuner1.log"
        )
        codes = {
            role: processes[role].wait(timeout=300) for role in ("tuner1", "chief")
        }
    finally:
        for process in processes.values():
            kill(process)
    chief = (tmp_path / "chief.log").read_text()
    tuner1 = (tmp_path / "tuner1.log").read_text()
    assert codes == {"tuner1": 0, "chief": 1}, (chief, tuner1)
    assert "no word from tuner0 about trial 0" in chief, chief
    assert "trial(s) 0 (on tuner0) marked FAILED" in chief, chief
    table = [line for line in chief.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 3, chief
    assert sum("COMPLETED" in row for row in table) == 2, table
    assert "Traceback" not in chief + tuner1, (chief, tuner1)


@pytest.mark.large
@pytest.mark.timeout(300)
def test_tuner_without_its_chief_exits_75_naming_the_oracle(tmp_path):
    port = ktb.distribute.free_ports(1)[0]
    command = _tune_bit_command(tmp_path, max_trials=2) + ["--oracle-timeout", "5"]
    process = _tune_process("tuner0", port, command, tmp_path / "tuner0.log")
    try:
        code = process.wait(timeout=240)
    finally:
        kill(process)
    output = (tmp_path / "tuner0.log").read_text()
    assert code == 75, output
    assert f"tuner0: lost the oracle (the chief) at 127.0.0.1:{port}" in output
    assert "Traceback" not in output, output


@pytest.mark.large
@pytest.mark.timeout(420)
def test_tuners_exit_75_when_the_chief_is_killed(tmp_path):
    # User trial: kill -9 the chief; both tuners kept running, silently, forever.
    port = ktb.distribute.free_ports(1)[0]
    command = _tune_bit_command(tmp_path, max_trials=6) + ["--oracle-timeout", "8"]
    processes = {}
    try:
        for role in ("chief", "tuner0", "tuner1"):
            processes[role] = _tune_process(
                role, port, command, tmp_path / f"{role}.log"
            )
        assert wait_until(lambda: list((tmp_path / "search").glob("p/trial_*")), 240), (
            tmp_path / "chief.log"
        ).read_text()
        kill(processes["chief"])
        codes = {r: processes[r].wait(timeout=120) for r in ("tuner0", "tuner1")}
    finally:
        for process in processes.values():
            kill(process)
    outputs = {r: (tmp_path / f"{r}.log").read_text() for r in ("tuner0", "tuner1")}
    assert codes == {"tuner0": 75, "tuner1": 75}, outputs
    for role, output in outputs.items():
        assert f"{role}: lost the oracle (the chief) at 127.0.0.1:{port}" in output
        assert "Traceback" not in output, output


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--max-trials", "0"], "--max-trials must be a positive int"),
        (["--max-trials", "-1"], "--max-trials must be a positive int"),
        (["--tuner", "hyperband", "--max-epochs", "0"], "--max-epochs must be a"),
    ],
)
def test_trial_and_epoch_counts_below_one_are_refused_naming_the_flag(
    tmp_path, flags, message
):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    command = ["tune", "transformer", "--data", str(corpus), *flags]
    with pytest.raises(ValueError, match=message):
        cli_main.main(command + ["--directory", str(tmp_path / "search")])
    assert not (tmp_path / "search").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--data", "nosuch.tsv"], "Received: --data='nosuch.tsv'"),
        (["--epochs", "0"], "--epochs must be a positive int"),
        (["--validation-size", "-1"], "--validation-size must be"),
        (["--preset", "huge"], "--preset must be one of"),
        (["--strategy", "tpu"], "Received: --strategy='tpu'"),
        (["--validation-size", "0"], "Received: --validation-size 0"),
        (["--budget-minutes", "-2"], "--budget-minutes must be > 0"),
    ],
)
def test_settings_no_run_would_take_are_refused_naming_the_flag(
    tmp_path, flags, message
):
    # User trial: each trial failed with a traceback naming data=, epochs=.
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    command = ["tune", "transformer", "--data", str(corpus), *flags]
    with pytest.raises(ValueError, match=message):
        cli_main.main(command + ["--directory", str(tmp_path / "search")])
    assert not list((tmp_path / "search").glob("*/trial_*"))


def test_objective_typo_is_refused_naming_the_flag(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    command = ["tune", "transformer", "--data", str(corpus), "--objective", "val_blue"]
    with pytest.raises(ValueError, match="--objective must be one of .*val_bleu"):
        cli_main.main(command + ["--directory", str(tmp_path / "search")])


def test_a_search_whose_every_trial_failed_exits_1_saying_why(
    tmp_path, monkeypatch, capsys
):
    # User trial: every trial FAILED, and ktb tune exited 0.
    import keras_tuner

    from keras_transformer_bit.tuning import TranslationRunTuner

    def run_trial(self, trial, **kwargs):
        raise keras_tuner.errors.FailedTrialError("the corpus ran dry")

    monkeypatch.setattr(TranslationRunTuner, "run_trial", run_trial)
    corpus = tmp_path / "pairs.tsv"
    _write_corpus(corpus)
    command = ["tune", "transformer", "--data", str(corpus), "--max-trials", "2"]
    command += ["--directory", str(tmp_path / "search"), "--validation-size", "6"]
    assert cli_main.main(command) == 1
    error = capsys.readouterr().err
    assert "no trial completed" in error, error
    assert "the corpus ran dry" in error, error


def test_predict_on_a_trial_directory_points_at_its_run(tmp_path):
    run_dir = tmp_path / "trial_0" / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "translate_config.json").write_text("{}")
    (run_dir / "model.keras").write_text("")
    command = ["translate", "predict", "--model-dir", str(tmp_path / "trial_0")]
    with pytest.raises(FileNotFoundError, match="did you mean") as error:
        cli_main.main(command + ["Ich."])
    assert f"--model-dir {run_dir}" in str(error.value)
    assert "Train one with" not in str(error.value)


def test_a_rerun_with_other_flags_is_refused_naming_each(tmp_path, monkeypatch):
    # User trial: a rerun with another --data mixed old and new trials.
    from keras_transformer_bit.tuning import TranslationRunTuner

    monkeypatch.setattr(
        TranslationRunTuner, "run_trial", lambda self, trial, **kw: {"val_bleu": 1.0}
    )
    for name in ("a.tsv", "b.tsv"):
        _write_corpus(tmp_path / name)
    command = ["tune", "transformer", "--max-trials", "1", "--validation-size", "6"]
    command += ["--directory", str(tmp_path / "search")]
    assert cli_main.main(command + ["--data", str(tmp_path / "a.tsv")]) == 0
    rerun = command + ["--data", str(tmp_path / "b.tsv"), "--vocabulary-size", "90"]
    with pytest.raises(ValueError, match="other fixed settings") as error:
        cli_main.main(rerun)
    message = str(error.value)
    assert f"--data {tmp_path / 'b.tsv'} (saved: --data {tmp_path / 'a.tsv'})" in (
        message
    ), message
    assert "--search-space['vocabulary_size']=[90]" in message, message
    assert "--overwrite" in message, message
    assert cli_main.main(rerun + ["--overwrite"]) == 0
