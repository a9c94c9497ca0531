"""`ktb --help` answers at once: parsing a command line imports no TensorFlow."""

import subprocess
import sys

import pytest

from keras_transformer_bit.cli.main import build_parser

HELP_COMMANDS = [
    ["--help"],
    ["translate", "--help"],
    ["translate", "train", "--help"],
    ["translate", "evaluate", "--help"],
    ["translate", "predict", "--help"],
    ["translate", "export", "--help"],
    ["bit", "--help"],
    ["bit", "train", "--help"],
    ["tune", "--help"],
    ["tune", "transformer", "--help"],
]

# Runs each help command in one fresh interpreter, then reports which heavy
# libraries it imported along the way.
_PROBE = """
import sys
sys.argv[0] = "/usr/local/bin/ktb"  # as the console script runs
from keras_transformer_bit.cli.main import main
for argv in {commands!r}:
    try:
        main(argv)
    except SystemExit as exit:
        assert exit.code == 0, (argv, exit.code)
heavy = ("tensorflow", "keras", "tensorflow_text", "keras_tuner", "numpy")
print("IMPORTED", sorted(name for name in heavy if name in sys.modules))
"""


def test_help_imports_no_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(commands=HELP_COMMANDS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "IMPORTED []" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("argv", HELP_COMMANDS, ids=" ".join)
def test_help_commands_parse(argv, capsys):
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(argv)
    assert exit.value.code == 0
    assert "usage: ktb" in capsys.readouterr().out


def test_train_help_says_when_a_run_has_a_target_tokenizer(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["translate", "train", "--help"])
    text = capsys.readouterr().out
    line = next(line for line in text.splitlines() if "target_tokenizer/" in line)
    assert "--separate-vocabularies" in line, line
