"""README.md and docs/ are tested like code: every `ktb` command they show parses,
and the tour's own-TSV-to-`fit` snippet runs."""

import ast
import pathlib
import re
import shlex
import warnings

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


def _tour_snippet():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### From your own parallel data to `model.fit`", 1)
    assert len(section) == 2, "README.md lost its own-data section"
    return _code_blocks(section[1], "python")[0]


# The README's sizes, for a CPU minute: (as written, as tested).
_SMALLER = [
    ("test_size=100, validation_size=100", "test_size=10, validation_size=10"),
    ("vocabulary_size=10000", "vocabulary_size=300"),
    ('"transformer_small"', '"transformer_tiny"'),
    ("epochs=10", "epochs=1"),
]


@pytest.mark.large
def test_tour_from_a_tsv_file_to_fit_runs(tmp_path, monkeypatch, capsys):
    snippet = _tour_snippet()
    assert 20 <= len(snippet.strip().splitlines()) <= 50
    for written, tested in _SMALLER:
        assert snippet.count(written) == 1, f"README snippet lost {written!r}"
        snippet = snippet.replace(written, tested)
    numbers = "null eins zwei drei vier fünf sechs sieben acht neun".split()
    english = "zero one two three four five six seven eight nine".split()
    lines = [
        f"Ich habe {numbers[n % 10]} Katzen und {numbers[n // 10]} Hunde.\t"
        f"I have {english[n % 10]} cats and {english[n // 10]} dogs."
        for n in range(100)
    ]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(snippet, "README.md", "exec"), {"__name__": "__readme__"})
    # `fit` knows the number of batches: no "Your input ran out of data".
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    output = capsys.readouterr().out
    assert (tmp_path / "runs/mine/model.keras").exists()
    for side in ("source", "target"):
        assert (tmp_path / f"runs/mine/{side}_tokenizer").is_dir()
    translations = ast.literal_eval(output.strip().splitlines()[-1])
    assert isinstance(translations, list) and len(translations) == 3
    assert all(isinstance(text, str) for text in translations)
