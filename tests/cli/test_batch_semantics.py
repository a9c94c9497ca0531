"""The batch flags of the `ktb` commands and docs/scaling.md say the same."""

import pathlib

from keras_transformer_bit.cli import main as cli_main

SCALING_DOC = pathlib.Path(__file__).parents[2] / "docs" / "scaling.md"


def _help_of(command, flag):
    parser = cli_main.build_parser()
    for action in parser._subparsers._group_actions[0].choices[command[0]]._actions:
        if action.choices and command[1] in action.choices:
            subparser = action.choices[command[1]]
            break
    (option,) = [a for a in subparser._actions if flag in a.option_strings]
    return option.help


def test_tokens_per_batch_is_global_in_flags_and_docs():
    for command in (("translate", "train"), ("tune", "transformer")):
        assert "global batch" in _help_of(command, "--tokens-per-batch"), command
    doc = " ".join(SCALING_DOC.read_text().split())
    assert "is the token budget of one *global* batch" in doc
    # The scaling that goes with keeping the per-GPU batch instead.
    assert "`--learning-rate-scale` by the square root" in doc
