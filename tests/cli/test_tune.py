import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.cli import main as cli_main
from keras_transformer_bit.cli.tune import parse_search_space
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
        args = ["--data", str(corpus), "--max-examples", "40"]
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
