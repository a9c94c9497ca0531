"""keras_transformer_bit: the Transformer and BiT for Keras 3 / TensorFlow.

Subpackages: `layers`, `models` (`Transformer`, `BiTBackbone`,
`BiTClassifier`), `samplers` (greedy, beam, top-k, top-p), `recipes`
(schedules, losses, metrics, the BiT-HyperRule), `data` (corpora, tokenizers,
tf.data pipelines), `export` (SavedModels for TF Serving), `distribute`
(strategies, the multi-worker loop), `tuning` (KerasTuner) and `cli` (the
`ktb` command); `Translator` turns strings into translations.

Importing the package is quick: each subpackage loads on first use
(`ktb.models`, `ktb.data`, ...), so that `ktb --help` does not wait for
TensorFlow. The Keras parts (`layers`, `models`, `samplers`, `recipes`) load
as soon as Keras itself is imported, before or after this package, which
registers their classes for `keras.saving.load_model` whatever the order of
the imports.

Example:
>>> import keras_transformer_bit as ktb
>>> model = ktb.models.Transformer.from_preset("transformer_tiny", vocabulary_size=100)
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys

# Layers and models are written with keras.ops, but the data pipelines, export
# and distribution code are TensorFlow, so the package pins Keras to its TF backend.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_transformer_bit.version import __version__  # noqa: E402

_SUBPACKAGES = (
    "layers",
    "models",
    "samplers",
    "recipes",
    "data",
    "export",
    "distribute",
    "tuning",
    "cli",
    "utils",
)
# The subpackages whose Keras classes `keras.saving.load_model` looks up.
_KERAS_SUBPACKAGES = ("layers", "models", "samplers", "recipes")

__all__ = [*_SUBPACKAGES, "Translator", "__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"keras_transformer_bit.{name}")
        _register_if_pending()
        return module
    if name == "Translator":
        from keras_transformer_bit.translator import Translator

        _register_if_pending()
        return Translator
    raise AttributeError(f"module 'keras_transformer_bit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _register_keras_classes():
    for name in _KERAS_SUBPACKAGES:
        importlib.import_module(f"keras_transformer_bit.{name}")


# Set when Keras was first imported by a module of this package.
_registration_pending = False


def _importing_this_package():
    """Whether a module of this package is being executed (imported) now."""
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if name == __name__ or name.startswith(__name__ + ".")
    )


def _register_or_defer():
    # Registering means importing layers, models, ...; in the middle of one of
    # this package's own imports (utils/clone_initializer.py importing Keras,
    # say) those would see half-initialized modules (`from
    # keras_transformer_bit.utils import clone_initializer` returned the
    # module, not the function). Then it waits for the next subpackage access.
    global _registration_pending
    if _importing_this_package():
        _registration_pending = True
    else:
        _registration_pending = False
        _register_keras_classes()


def _register_if_pending():
    if _registration_pending:
        _register_or_defer()


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """Imports the Keras parts right after the first `import keras`.

    `keras.saving.load_model` finds only the classes registered by then, so
    they must be registered however the user's imports are ordered; importing
    them here, up front, would make `import keras_transformer_bit` (and so
    `ktb --help`) wait for TensorFlow.
    """

    searching = False

    def find_spec(self, name, path=None, target=None):
        # TensorFlow also asks for the spec of keras without importing it, so
        # the finder stays in place until keras is actually loaded.
        if name != "keras" or self.searching:
            return None
        self.searching = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self.searching = False
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _ThenRegister(spec.loader, self)
        return spec


class _ThenRegister(importlib.abc.Loader):
    def __init__(self, loader, finder):
        self.loader = loader
        self.finder = finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        self.loader.exec_module(module)
        _register_or_defer()


if "keras" in sys.modules:
    # Keras is paid for already: register the classes now.
    _register_keras_classes()
else:
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())
