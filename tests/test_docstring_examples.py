"""Every module's docstring examples run and print what they say.

Examples run in a temporary working directory with `keras`, `np`,
`keras_transformer_bit` and `ktb` defined. An example that needs what a test
cannot have (a user's dataset, a file, a cluster, a long training run) carries
`# doctest: +SKIP` in its docstring.
"""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest

import keras_transformer_bit

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(
        keras_transformer_bit.__path__, prefix="keras_transformer_bit."
    )
)
# Modules whose examples build and call models or load data: several seconds each.
SLOW_MODULES = {
    "keras_transformer_bit.data",
    "keras_transformer_bit.data.subword_tokenizer",
    "keras_transformer_bit.export.export_image_classifier",
    "keras_transformer_bit.models",
    "keras_transformer_bit.models.bit.fold_weight_standardization",
    "keras_transformer_bit.models.transformer",
    "keras_transformer_bit.models.transformer.transformer",
    "keras_transformer_bit.recipes.bit_fine_tune",
    "keras_transformer_bit.recipes.translation_recipe",
}


def test_every_module_is_collected():
    assert "keras_transformer_bit.layers.sine_position_encoding" in MODULES
    assert "keras_transformer_bit.cli.translate" in MODULES
    assert SLOW_MODULES <= set(MODULES), SLOW_MODULES - set(MODULES)


@pytest.mark.parametrize(
    "module",
    [
        pytest.param(name, marks=pytest.mark.large) if name in SLOW_MODULES else name
        for name in MODULES
    ],
)
def test_docstring_examples(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    globs = {
        "keras": keras,
        "np": np,
        "keras_transformer_bit": keras_transformer_bit,
        "ktb": keras_transformer_bit,
    }
    for test in finder.find(importlib.import_module(module), extraglobs=globs):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {module} fail"
