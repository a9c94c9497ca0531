"""Every subpackage says what it holds: `help(ktb.data)` lists its public names."""

import ast
import importlib
import inspect
import pathlib
import pydoc
import re

import pytest

import keras_transformer_bit

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUBPACKAGES = [
    "cli",
    "data",
    "distribute",
    "export",
    "layers",
    "models",
    "models.bit",
    "models.transformer",
    "recipes",
    "samplers",
    "training",
    "tuning",
    "utils",
]


def _public_names(module):
    """The names a subpackage's `__init__` binds, submodules left out."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_subpackage_has_all_and_documents_every_name(subpackage):
    module = importlib.import_module(f"keras_transformer_bit.{subpackage}")
    docstring = inspect.getdoc(module) or ""
    summary, _, details = docstring.partition("\n\n")
    assert len(summary.split()) >= 4, f"{subpackage}: summary {summary!r}"
    assert details, f"{subpackage}: a one-line module docstring"
    assert isinstance(module.__all__, list) and module.__all__
    assert len(set(module.__all__)) == len(module.__all__)
    assert set(module.__all__) == _public_names(module)
    for name in module.__all__:
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isroutine(value):
            assert (inspect.getdoc(value) or "").strip(), f"{subpackage}.{name}"
        else:
            # Constants have no docstring of their own: the module's says what they are.
            assert name in docstring, f"{subpackage}.{name} is not described"


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_help_lists_the_public_names(subpackage):
    module = importlib.import_module(f"keras_transformer_bit.{subpackage}")
    text = pydoc.render_doc(module, renderer=pydoc.plaintext)
    # The listing sections, after the module docstring (which may name anything).
    sections = re.split(r"^(?:CLASSES|FUNCTIONS|DATA)$", text, flags=re.MULTILINE)
    listing = "".join(sections[1:])
    missing = [
        name
        for name in sorted(_public_names(module))
        if not re.search(rf"^ +(class )?{name}\b", listing, flags=re.MULTILINE)
    ]
    assert not missing, f"help(ktb.{subpackage}) does not list {missing}"


def test_no_internal_tracker_numbers_in_the_package():
    # "(added by issue 3)" means nothing to a user reading help(); upstream
    # references (keras-team/keras#20585) say where to read more and stay.
    package = pathlib.Path(keras_transformer_bit.__file__).parent
    found = [
        f"{path.relative_to(package)}:{number}: {line.strip()}"
        for path in sorted(package.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bissues? \d+\b", line, flags=re.IGNORECASE)
    ]
    assert not found, found


def _package_imports(path):
    """`(module, name)` for each `from keras_transformer_bit... import name`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("keras_transformer_bit")
        for alias in node.names
    ]


@pytest.mark.parametrize(
    "tutorial",
    sorted(path.name for path in (ROOT / "tutorials").glob("*.py")),
)
def test_tutorials_import_public_names_only(tutorial):
    # A name is public when a subpackage lists it in __all__ (or it is one).
    for module_name, name in _package_imports(ROOT / "tutorials" / tutorial):
        module = importlib.import_module(module_name)
        assert module.__name__.count(".") <= 2 and hasattr(module, "__path__"), (
            f"{tutorial}: from {module_name} import {name} reaches into a module; "
            "import the subpackage's public name"
        )
        assert name in module.__all__, f"{tutorial}: {module_name}.{name} is not public"
