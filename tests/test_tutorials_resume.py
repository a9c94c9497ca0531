"""docs/scaling.md: every tutorial that trains with `fit` can resume after a kill."""

import ast
import pathlib

import pytest

TUTORIALS = sorted((pathlib.Path(__file__).parents[1] / "tutorials").glob("*.py"))


def _fit_calls(tree):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "fit"
            and any(keyword.arg == "callbacks" for keyword in node.keywords)
        ):
            yield node


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda path: path.name)
def test_every_keras_fit_of_a_tutorial_passes_the_backup_callbacks(path):
    source = path.read_text()
    tree = ast.parse(source)
    for call in _fit_calls(tree):
        callbacks = next(k.value for k in call.keywords if k.arg == "callbacks")
        text = ast.get_source_segment(source, callbacks)
        # The list may name a variable that holds training_callbacks(...).
        names = {n.id for n in ast.walk(callbacks) if isinstance(n, ast.Name)}
        assigned = [
            ast.get_source_segment(source, node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id in names for t in node.targets)
        ]
        assert any(
            "training_callbacks(" in part or "AtomicBackupAndRestore(" in part
            for part in [text, *assigned]
        ), f"{path.name}:{call.lineno}: fit(callbacks={text}) cannot resume"
