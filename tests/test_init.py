"""Saved models load whatever the import order; the `ktb` command starts light."""

import os
import subprocess
import sys

import keras
import numpy as np

import keras_transformer_bit as ktb


def _run(code, **env):
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_ktb_command_loads_no_tensorflow_and_subpackages_load_on_use():
    output = _run(
        "import sys\n"
        "sys.argv[0] = '/usr/local/bin/ktb'  # as the console script runs\n"
        "import keras_transformer_bit as ktb\n"
        "print('before', 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
        "print('dir', all(n in dir(ktb) for n in ktb.__all__))\n"
        "print('models', ktb.models.Transformer.__name__)\n"
    )
    assert "before False False" in output
    assert "dir True" in output
    assert "models Transformer" in output


def test_on_the_jax_backend_the_package_trains_and_decodes_without_tensorflow():
    """Layers, models, samplers and recipes are backend-neutral: on JAX,
    importing the package, training, generating and a `.keras` round trip
    never import TensorFlow (only data/, export/, distribute/ and the CLI do)."""
    output = _run(
        "import sys, tempfile, os\n"
        "import numpy as np\n"
        "import keras\n"
        "import keras_transformer_bit as ktb\n"
        "print('backend', keras.backend.backend())\n"
        "print('after import', 'tensorflow' in sys.modules)\n"
        "model = ktb.models.Transformer.from_preset(\n"
        "    'transformer_tiny', vocabulary_size=40, num_layers=1)\n"
        "model.compile(optimizer=keras.optimizers.Adam(\n"
        "    ktb.recipes.NoamSchedule(model.hidden_dim, warmup_steps=10)),\n"
        "    loss=ktb.recipes.LabelSmoothedCrossEntropy())\n"
        "ids = np.random.default_rng(0).integers(3, 40, size=(8, 6)).astype('int32')\n"
        "x = {'encoder_inputs': ids, 'decoder_inputs': ids}\n"
        "model.fit(x, ids, epochs=1, batch_size=4, verbose=0)\n"
        "out = model.generate(ids[:2], max_length=5, method='beam', beam_size=2)\n"
        "print('after fit and generate', 'tensorflow' in sys.modules)\n"
        "path = os.path.join(tempfile.mkdtemp(), 'm.keras')\n"
        "model.save(path)\n"
        "again = keras.saving.load_model(path)\n"
        "same = np.allclose(keras.ops.convert_to_numpy(model(x)),\n"
        "    keras.ops.convert_to_numpy(again(x)), atol=1e-5)\n"
        "print('round trip', same)\n",
        KERAS_BACKEND="jax",
    )
    assert "backend jax" in output
    assert "after import False" in output
    assert "after fit and generate False" in output
    # Keras's own `.keras` serializer imports TensorFlow when it is installed
    # (it checks for TF types); the package's code does not.
    assert "round trip True" in output


def test_any_import_of_the_package_registers_the_keras_classes(tmp_path):
    """`from keras_transformer_bit.data import ...` then `load_model`: the
    classes must be registered although no model class was named."""
    model = ktb.models.Transformer.from_preset(
        "transformer_tiny", vocabulary_size=50, num_layers=1
    )
    path = tmp_path / "model.keras"
    model.save(path)
    for first_import in (
        "from keras_transformer_bit.data import SubwordTokenizer",
        "from keras_transformer_bit.utils import clone_initializer",
        "import keras_transformer_bit",
    ):
        output = _run(
            f"{first_import}\n"
            "import keras\n"
            f"print('loaded', type(keras.saving.load_model({str(path)!r})).__name__)\n"
        )
        assert "loaded Transformer" in output, first_import


def test_saved_model_loads_after_importing_keras_then_the_package(tmp_path):
    model = ktb.models.Transformer.from_preset(
        "transformer_tiny", vocabulary_size=50, num_layers=1
    )
    model.compile(
        optimizer=keras.optimizers.Adam(ktb.recipes.NoamSchedule(model.hidden_dim)),
        loss=ktb.recipes.LabelSmoothedCrossEntropy(),
    )
    path = tmp_path / "model.keras"
    model.save(path)
    ids = np.array([[5, 6, 7, 0]], "int32")
    expected = keras.ops.convert_to_numpy(
        model({"encoder_inputs": ids, "decoder_inputs": ids})
    )
    np.save(tmp_path / "expected.npy", expected)
    # The usual order in a script (isort puts keras first): nothing else needed.
    output = _run(
        "import keras\n"
        "import numpy as np\n"
        "import keras_transformer_bit\n"
        f"model = keras.saving.load_model({str(path)!r})\n"
        "ids = np.array([[5, 6, 7, 0]], 'int32')\n"
        "logits = model({'encoder_inputs': ids, 'decoder_inputs': ids})\n"
        f"expected = np.load({str(tmp_path / 'expected.npy')!r})\n"
        "print('close', np.allclose(keras.ops.convert_to_numpy(logits), expected, "
        "atol=1e-5))\n"
        "print('schedule', type(model.optimizer.learning_rate).__name__)\n"
    )
    assert "close True" in output
    assert "schedule" in output


def test_saved_model_loads_after_importing_the_package_then_keras(tmp_path):
    """The other order: the package first, then Keras."""
    model = ktb.models.Transformer.from_preset(
        "transformer_tiny", vocabulary_size=50, num_layers=1
    )
    path = tmp_path / "model.keras"
    model.save(path)
    output = _run(
        "import sys\n"
        "import keras_transformer_bit as ktb\n"
        "import tensorflow as tf\n"
        "import keras\n"
        f"model = keras.saving.load_model({str(path)!r})\n"
        "print('loaded', type(model).__name__)\n"
    )
    assert "loaded Transformer" in output


def test_keras_first_imported_inside_the_package_builds_and_loads(tmp_path):
    """`ktb translate train` in a fresh process: Keras first comes in through
    keras_transformer_bit.utils, in the middle of the package's own import."""
    model = ktb.models.Transformer.from_preset(
        "transformer_tiny", vocabulary_size=50, num_layers=1
    )
    path = tmp_path / "model.keras"
    model.save(path)
    output = _run(
        "import keras_transformer_bit as ktb\n"
        "from keras_transformer_bit.utils import check_positive_int\n"
        "model = ktb.models.Transformer.from_preset(\n"
        "    'transformer_tiny', vocabulary_size=50, num_layers=1)\n"
        "print('built', type(model).__name__)\n"
        "import keras\n"
        f"print('loaded', type(keras.saving.load_model({str(path)!r})).__name__)\n"
    )
    assert "built Transformer" in output
    assert "loaded Transformer" in output
