"""Shared checks for layers and models.

`run_layer_test` puts a layer through everything a user will do with it: build it,
call it symbolically and eagerly, take a training step, run it under
`mixed_bfloat16`, and save/reload it inside a `.keras` model with equal outputs.
`run_model_saving_test` does the save/reload round trip for a whole model.
"""

import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf
from keras import ops


def _flatten(structure):
    return keras.tree.flatten(structure)


def _to_numpy(structure):
    return [ops.convert_to_numpy(x) for x in _flatten(structure)]


def _call(layer, input_data, call_kwargs, **extra):
    if isinstance(input_data, dict):
        return layer(**input_data, **call_kwargs, **extra)
    return layer(input_data, **call_kwargs, **extra)


def _symbolic_inputs(input_data):
    def make(x, name=None):
        x = np.asarray(x)
        # Named inputs keep dict-input models from warning that keys and names differ.
        return keras.Input(shape=x.shape[1:], dtype=str(x.dtype), name=name)

    if isinstance(input_data, dict):
        return {name: make(x, name) for name, x in input_data.items()}
    return make(input_data)


def _wrap_in_model(layer, input_data, call_kwargs):
    inputs = _symbolic_inputs(input_data)
    outputs = _call(layer, inputs, call_kwargs)
    return keras.Model(inputs, outputs)


def _assert_all_close(actual, expected, atol, what):
    actual, expected = _to_numpy(actual), _to_numpy(expected)
    assert len(actual) == len(expected), f"{what}: different number of outputs"
    for a, e in zip(actual, expected):
        assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
        np.testing.assert_allclose(a, e, atol=atol, rtol=0, err_msg=what)


def _is_float(x):
    return "float" in str(ops.convert_to_numpy(x).dtype) or "bfloat" in str(x.dtype)


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    call_kwargs=None,
    expected_output_shape=None,
    expected_num_trainable_weights=None,
    expected_num_non_trainable_weights=None,
    run_training_check=True,
    run_mixed_precision_check=True,
    run_saving_check=True,
    atol=1e-5,
):
    """Checks build, symbolic + eager call, training, mixed precision and saving.

    Args:
        layer_cls: the layer class.
        init_kwargs: dict. Constructor arguments.
        input_data: an array (first positional argument) or a dict of arrays
            (keyword arguments of `call`).
        call_kwargs: dict. Non-tensor keyword arguments of `call`.
        expected_output_shape: a shape or a structure of shapes for the eager call.
        expected_num_trainable_weights: int, checked after build when given.
        expected_num_non_trainable_weights: int, checked after build when given.
        run_training_check: bool. Take one SGD step and require every trainable
            weight to get a finite, non-zero-everywhere gradient.
        run_mixed_precision_check: bool. Run under `mixed_bfloat16`.
        run_saving_check: bool. Save/reload a model holding the layer.
        atol: float. Tolerance of the saving round trip.

    Returns:
        The eager output of the float32 layer (inference mode).
    """
    call_kwargs = dict(call_kwargs or {})

    # Config round trip.
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config, "get_config/from_config do not round-trip"
    for name, value in init_kwargs.items():
        if not isinstance(value, (keras.layers.Layer, keras.initializers.Initializer)):
            assert name in config, f"get_config() does not record `{name}`"

    # Eager call.
    eager_output = _call(layer, input_data, call_kwargs, training=False)
    if expected_output_shape is not None:
        actual_shapes = [tuple(x.shape) for x in _flatten(eager_output)]
        expected_shapes = _flatten_shapes(expected_output_shape)
        assert actual_shapes == expected_shapes, (
            f"output shapes {actual_shapes} != expected {expected_shapes}"
        )
    for value in _to_numpy(eager_output):
        if value.dtype.kind == "f":
            assert np.all(np.isfinite(value)), "eager output is not finite"
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights

    # Symbolic call: a fresh layer on keras.Input gives the same ranks and shapes
    # (batch dimension unknown).
    symbolic_layer = layer_cls(**init_kwargs)
    symbolic_output = _call(symbolic_layer, _symbolic_inputs(input_data), call_kwargs)
    for sym, eag in zip(_flatten(symbolic_output), _flatten(eager_output)):
        assert tuple(sym.shape)[1:] == tuple(eag.shape)[1:], (
            f"symbolic shape {sym.shape} != eager shape {eag.shape}"
        )

    # Training step.
    if run_training_check and layer.trainable_weights:
        _check_training_step(layer, input_data, call_kwargs)

    # Mixed precision.
    if run_mixed_precision_check:
        mp_kwargs = {**init_kwargs, "dtype": "mixed_bfloat16"}
        mp_layer = layer_cls(**mp_kwargs)
        mp_output = _call(mp_layer, input_data, call_kwargs, training=False)
        for weight in mp_layer.weights:
            if _is_float(weight.value):
                assert weight.dtype == "float32", (
                    f"weight {weight.path} is {weight.dtype} under mixed_bfloat16"
                )
        for value in _flatten(mp_output):
            if "float" in str(value.dtype):
                assert np.all(
                    np.isfinite(ops.convert_to_numpy(ops.cast(value, "float32")))
                )

    # Saving round trip.
    if run_saving_check:
        model = _wrap_in_model(layer, input_data, call_kwargs)
        run_model_saving_test(model, input_data, atol=atol)

    return eager_output


def _flatten_shapes(shapes):
    if isinstance(shapes, tuple) and all(
        isinstance(d, (int, type(None))) for d in shapes
    ):
        return [shapes]
    result = []
    for item in shapes if not isinstance(shapes, dict) else shapes.values():
        result.extend(_flatten_shapes(item))
    return result


def _check_training_step(layer, input_data, call_kwargs):
    before = [w.numpy().copy() for w in layer.trainable_weights]
    with tf.GradientTape() as tape:
        output = _call(layer, input_data, call_kwargs, training=True)
        loss = tf.add_n(
            [
                tf.reduce_mean(tf.square(tf.cast(x, "float32")))
                for x in _flatten(output)
                if x.dtype.is_floating
            ]
        )
    grads = tape.gradient(loss, layer.trainable_weights)
    for weight, grad in zip(layer.trainable_weights, grads):
        assert grad is not None, f"no gradient reaches {weight.path}"
        grad = tf.convert_to_tensor(grad)
        assert bool(tf.reduce_all(tf.math.is_finite(grad))), (
            f"gradient of {weight.path} is not finite"
        )
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    optimizer.apply_gradients(zip(grads, layer.trainable_weights))
    changed = [
        not np.array_equal(b, w.numpy())
        for b, w in zip(before, layer.trainable_weights)
    ]
    assert any(changed), "a training step changed no weight"


def _normalized(config):
    # JSON turns tuples into lists, as a saved-and-reloaded config does.
    return json.loads(json.dumps(config, default=str))


def run_model_saving_test(model, input_data, atol=1e-5, call_kwargs=None):
    """Saves `model` to `.keras`, reloads it and compares outputs and configs.

    Args:
        model: a built Keras model.
        input_data: what `model(...)` takes (array, list or dict of arrays).
        atol: float. Tolerance on the outputs.
        call_kwargs: dict. Extra keyword arguments of the call.

    Returns:
        The reloaded model.
    """
    call_kwargs = dict(call_kwargs or {})
    expected = model(input_data, training=False, **call_kwargs)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    actual = reloaded(input_data, training=False, **call_kwargs)
    _assert_all_close(actual, expected, atol, "reloaded .keras model output")
    assert _normalized(reloaded.get_config()) == _normalized(model.get_config()), (
        "reloaded config differs"
    )
    for a, b in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    return reloaded
