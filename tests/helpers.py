"""Shared checks for layers and models.

`run_layer_test` puts a layer through everything a user will do with it: build it,
call it symbolically and eagerly, check that no two kernels start as copies, take
a training step in which every trainable weight gets a gradient, run it under
`mixed_bfloat16` and `mixed_float16`, feed it a Keras implicit mask when it says
it supports masking, and save/reload it inside a `.keras` model with equal
outputs. `run_model_saving_test` does the save/reload round trip for a whole
model, `run_precision_test` the mixed precision checks for a layer or a model,
and `assert_no_copied_kernels` the copy check for anything that holds weights.
"""

import inspect
import json
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf
from keras import ops

MIXED_PRECISION_POLICIES = ("mixed_bfloat16", "mixed_float16")

# A prefix this long of two independent random kernels has |correlation| above
# _COPY_CORRELATION with probability below 1e-12; a shared unseeded initializer
# gives exactly 1.
_MIN_PREFIX = 16
_COPY_CORRELATION = 0.99


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


def _is_float_dtype(dtype):
    return "float" in keras.backend.standardize_dtype(dtype)


def _kernels(layer):
    """(path, flattened float64 values) of each random weight of rank >= 2."""
    kernels, seen = [], set()
    for weight in layer.weights:
        if id(weight) in seen:  # a tied weight is one weight
            continue
        seen.add(id(weight))
        if len(weight.shape) < 2 or not _is_float_dtype(weight.dtype):
            continue
        values = ops.convert_to_numpy(ops.cast(weight.value, "float32"))
        values = values.astype("float64").ravel()
        if values.std() == 0:  # zeros or ones by design, not a random draw
            continue
        kernels.append((weight.path, values))
    return kernels


def _copy_relation(a, b):
    """How kernel `b` is a copy of kernel `a`, or None when they are independent."""
    if a.size == b.size and np.array_equal(a, b):
        return "identical values"
    if a.size == b.size and a.size >= 4:
        sorted_a = np.sort(a)
        sorted_b = np.sort(b)
        standardized_a = (sorted_a - sorted_a.mean()) / sorted_a.std()
        standardized_b = (sorted_b - sorted_b.mean()) / sorted_b.std()
        if np.abs(standardized_a - standardized_b).max() < 1e-4:
            return "the same values (up to scale) in another order"
    length = min(a.size, b.size)
    if length >= _MIN_PREFIX:
        prefix_a, prefix_b = a[:length], b[:length]
        if prefix_a.std() > 0 and prefix_b.std() > 0:
            correlation = np.corrcoef(prefix_a, prefix_b)[0, 1]
            if abs(correlation) > _COPY_CORRELATION:
                return (
                    f"prefixes of one random stream (correlation {correlation:.4f} "
                    f"over the first {length} values)"
                )
    return None


def find_copied_kernels(layer):
    """Pairs of kernels of `layer` that are copies of each other.

    A kernel is a float weight of rank 2 or more whose values are not all equal.
    Two kernels are copies when they hold identical values, the same values
    (up to scale) in another order, or prefixes of one random stream (the
    flattened prefixes of equal length have |correlation| above 0.99). A shared
    unseeded Keras 3 initializer gives all three.

    Args:
        layer: a built layer or model.

    Returns:
        A list of `"path_a / path_b: how"` strings, empty when no kernel is a copy.
    """
    kernels = _kernels(layer)
    copies = []
    for index, (path_a, a) in enumerate(kernels):
        for path_b, b in kernels[index + 1 :]:
            relation = _copy_relation(a, b)
            if relation:
                copies.append(f"{path_a} / {path_b}: {relation}")
    return copies


def assert_no_copied_kernels(layer):
    """Fails when two kernels of a built `layer` or model are copies.

    See `find_copied_kernels` for what counts as a copy. Call it right after
    build: independent initial kernels are what training starts from.
    """
    assert layer.built, f"{layer.name} is not built; build or call it first"
    copies = find_copied_kernels(layer)
    assert not copies, (
        f"{len(copies)} pair(s) of kernels of {layer.name} start as copies "
        "(give each sublayer its own initializer):\n  "
        + "\n  ".join(copies[:12])
        + (f"\n  ... and {len(copies) - 12} more" if len(copies) > 12 else "")
    )


def _check_config_round_trip(layer_cls, init_kwargs):
    """A layer built from `init_kwargs` whose config records them and revives."""
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config, "get_config/from_config do not round-trip"
    for name, value in init_kwargs.items():
        if not isinstance(value, (keras.layers.Layer, keras.initializers.Initializer)):
            assert name in config, f"get_config() does not record `{name}`"
    return layer


def _check_eager_output(eager_output, expected_output_shape):
    if expected_output_shape is not None:
        actual_shapes = [tuple(x.shape) for x in _flatten(eager_output)]
        expected_shapes = _flatten_shapes(expected_output_shape)
        assert actual_shapes == expected_shapes, (
            f"output shapes {actual_shapes} != expected {expected_shapes}"
        )
    for value in _to_numpy(eager_output):
        if value.dtype.kind == "f":
            assert np.all(np.isfinite(value)), "eager output is not finite"


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
    run_masking_check=True,
    run_saving_check=True,
    atol=1e-5,
):
    """Checks build, call, copies, training, precision, masking and saving.

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
            weight to get a finite gradient that is not zero everywhere.
        run_mixed_precision_check: bool. Run `run_precision_test` under
            `mixed_bfloat16` and `mixed_float16`.
        run_masking_check: bool. When the layer sets `supports_masking` and takes
            sequences, require it to honour a Keras implicit mask.
        run_saving_check: bool. Save/reload a model holding the layer.
        atol: float. Tolerance of the saving round trip.

    Returns:
        The eager output of the float32 layer (inference mode).
    """
    call_kwargs = dict(call_kwargs or {})

    layer = _check_config_round_trip(layer_cls, init_kwargs)
    eager_output = _call(layer, input_data, call_kwargs, training=False)
    _check_eager_output(eager_output, expected_output_shape)
    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
    assert_no_copied_kernels(layer)

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

    if run_mixed_precision_check:
        run_precision_test(layer_cls, init_kwargs, input_data, call_kwargs)

    if run_masking_check and layer.supports_masking:
        _check_implicit_mask(layer, input_data, call_kwargs)

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


def _readout_loss(outputs, rng):
    """A random linear read-out of every float output, summed.

    Its gradient reaches every output element with a non-zero weight, which a
    squared loss on a normalized output or on a zero-initialised head does not.
    """
    floats = [
        ops.cast(x, "float32") for x in _flatten(outputs) if "float" in str(x.dtype)
    ]
    return sum(
        ops.sum(x * rng.standard_normal(tuple(x.shape)).astype("float32"))
        for x in floats
    )


def _gradients(layer, input_data, call_kwargs):
    """d(read-out loss)/d(trainable weights) of one training-mode call, as
    NumPy arrays (None where no gradient reaches), on the Keras backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        with tf.GradientTape() as tape:
            outputs = _call(layer, input_data, call_kwargs, training=True)
            loss = _readout_loss(outputs, np.random.default_rng(0))
        grads = tape.gradient(loss, layer.trainable_weights)
        return [None if g is None else tf.convert_to_tensor(g).numpy() for g in grads]
    if backend == "jax":
        import jax

        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_of(trainable):
            args, kwargs = (
                ((), dict(input_data))
                if isinstance(input_data, dict)
                else (
                    (input_data,),
                    {},
                )
            )
            if "training" in inspect.signature(layer.call).parameters:
                kwargs["training"] = True
            outputs, _ = layer.stateless_call(
                trainable, non_trainable, *args, **kwargs, **call_kwargs
            )
            return _readout_loss(outputs, np.random.default_rng(0))

        grads = jax.grad(loss_of)([v.value for v in layer.trainable_variables])
        return [np.asarray(g) for g in grads]
    raise NotImplementedError(f"no gradient check for the {backend} backend")


def _check_training_step(layer, input_data, call_kwargs):
    before = [np.array(w.numpy()) for w in layer.trainable_weights]
    grads = _gradients(layer, input_data, call_kwargs)
    for weight, grad in zip(layer.trainable_weights, grads):
        assert grad is not None, f"no gradient reaches {weight.path}"
    largest = max(float(np.abs(grad).max()) for grad in grads)
    for weight, grad in zip(layer.trainable_weights, grads):
        assert np.all(np.isfinite(grad)), f"gradient of {weight.path} is not finite"
        if weight.path.endswith("key/bias"):
            # Softmax ignores a shift shared by all keys of a query: the key
            # bias's gradient is zero up to rounding, by design.
            continue
        # Rounding noise (~1e-7 of the largest gradient) is not a gradient.
        assert np.abs(grad).max() > 1e-5 * largest, (
            f"gradient of {weight.path} is zero everywhere (largest |gradient| "
            f"{np.abs(grad).max():.2e}, against {largest:.2e} for the layer)"
        )
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    optimizer.apply_gradients(
        zip([ops.convert_to_tensor(g) for g in grads], layer.trainable_weights)
    )
    for weight, value in zip(layer.trainable_weights, before):
        assert not np.array_equal(value, np.array(weight.numpy())), (
            f"a training step did not change {weight.path}"
        )


def run_precision_test(
    layer_cls, init_kwargs, input_data, call_kwargs=None, expected_output_dtype=None
):
    """Checks a layer or model under `mixed_bfloat16` and `mixed_float16`.

    For each policy, a fresh instance built with `dtype=policy` must keep float32
    weights, give every sublayer the policy, and return floats of the compute
    dtype (or of `expected_output_dtype`, for a model that returns float32
    logits on purpose) from both an eager and a symbolic call; the eager output
    must be finite.

    Args:
        layer_cls: the layer or model class; its constructor takes `dtype`.
        init_kwargs: dict. Constructor arguments.
        input_data: an array or a dict of arrays (keyword arguments of `call`;
            a model gets the dict itself).
        call_kwargs: dict. Non-tensor keyword arguments of `call`.
        expected_output_dtype: str. The dtype of every float output. Defaults
            to the policy's compute dtype.
    """
    call_kwargs = dict(call_kwargs or {})
    for policy_name in MIXED_PRECISION_POLICIES:
        policy = keras.dtype_policies.get(policy_name)
        expected = expected_output_dtype or policy.compute_dtype
        make = lambda: layer_cls(**{**init_kwargs, "dtype": policy_name})  # noqa: E731
        layer = make()
        is_model = isinstance(layer, keras.Model)
        if is_model:
            output = layer(input_data, training=False, **call_kwargs)
            symbolic_output = make()(_symbolic_inputs(input_data), **call_kwargs)
        else:
            output = _call(layer, input_data, call_kwargs, training=False)
            symbolic_output = _call(make(), _symbolic_inputs(input_data), call_kwargs)
        for kind, values in (("eager", output), ("symbolic", symbolic_output)):
            for value in _flatten(values):
                if _is_float_dtype(value.dtype):
                    dtype = keras.backend.standardize_dtype(value.dtype)
                    assert dtype == expected, (
                        f"{kind} output of {layer_cls.__name__} under {policy_name} "
                        f"is {dtype}, expected {expected}"
                    )
        for value in _flatten(output):
            if _is_float_dtype(value.dtype):
                value = ops.convert_to_numpy(ops.cast(value, "float32"))
                assert np.all(np.isfinite(value)), (
                    f"output of {layer_cls.__name__} under {policy_name} is not finite"
                )
        for weight in layer.weights:
            if _is_float_dtype(weight.dtype):
                assert weight.dtype == policy.variable_dtype, (
                    f"weight {weight.path} is {weight.dtype} under {policy_name}"
                )
        for sublayer in layer._flatten_layers():
            if isinstance(sublayer, keras.layers.InputLayer):
                continue
            assert sublayer.compute_dtype == policy.compute_dtype or is_model, (
                f"sublayer {sublayer.name} computes in {sublayer.compute_dtype} "
                f"under {policy_name}: it does not get the layer's dtype policy"
            )


class _AttachMask(keras.layers.Layer):
    """Passes `values` through with the Keras mask `mask`, as `Embedding` would."""

    def call(self, inputs):
        values, _ = inputs
        return values

    def compute_mask(self, inputs, previous_mask=None):
        _, mask = inputs
        return ops.cast(mask, "bool")


def _sequence_mask(batch_size, length):
    """The first row is all real; the others end with padding."""
    mask = np.ones((batch_size, length), bool)
    mask[1:, length - length // 2 :] = False
    return mask


def _masked_input_names(layer, input_data):
    """The sequence inputs (rank 2 ids or rank 3 floats) that get a mask."""
    items = input_data.items() if isinstance(input_data, dict) else [(None, input_data)]
    names = []
    for name, value in items:
        value = np.asarray(value)
        is_sequence = value.ndim == 3 or (value.ndim == 2 and value.dtype.kind in "iu")
        if is_sequence and value.shape[1] >= 2 and not (name or "").endswith("mask"):
            names.append(name)
    return names


def _check_implicit_mask(layer, input_data, call_kwargs):
    """A Keras mask on the inputs: outputs at real positions ignore the padding.

    Each sequence input gets a mask (padding at the end of all rows but the
    first), explicit `*_mask` inputs are dropped, and the padded positions are
    filled with other values: the outputs at real positions (all outputs, for
    outputs that are not per position) must not change.
    """
    names = _masked_input_names(layer, input_data)
    if not names:
        return
    data = (
        {k: v for k, v in input_data.items() if not k.endswith("mask")}
        if isinstance(input_data, dict)
        else {None: input_data}
    )
    masks = {name: _sequence_mask(*np.shape(data[name])[:2]) for name in names}
    rng = np.random.default_rng(1)
    padded = {}
    for name, value in data.items():
        value = np.array(value, copy=True)
        if name in masks:
            fill = ~masks[name]
            if value.dtype.kind == "f":
                value[fill] = rng.standard_normal(value[fill].shape) * 3
            else:
                value[fill] = rng.choice(np.unique(value), size=int(fill.sum()))
        padded[name] = value

    # A functional model: Input -> mask attached -> the layer, as a user builds it.
    symbolic = {
        name: keras.Input(np.shape(value)[1:], dtype=str(np.asarray(value).dtype))
        for name, value in data.items()
    }
    symbolic_masks = {
        name: keras.Input(mask.shape[1:], dtype="bool") for name, mask in masks.items()
    }
    masked = {
        name: _AttachMask()([x, symbolic_masks[name]]) if name in masks else x
        for name, x in symbolic.items()
    }
    if None in masked:  # one positional input
        outputs = layer(masked[None], **call_kwargs)
        model = keras.Model([symbolic[None], symbolic_masks[None]], outputs)
        reference = model([data[None], masks[None]], training=False)
        perturbed = model([padded[None], masks[None]], training=False)
    else:
        outputs = layer(**masked, **call_kwargs)
        model = keras.Model([symbolic, symbolic_masks], outputs)
        reference = model([data, masks], training=False)
        perturbed = model([padded, masks], training=False)

    main_mask = masks[names[0]]
    pairs = zip(_to_numpy(reference), _to_numpy(perturbed))
    for index, (a, b) in enumerate(pairs):
        if a.shape[:2] == main_mask.shape:
            a, b = a[main_mask], b[main_mask]
        np.testing.assert_allclose(
            a,
            b,
            atol=1e-5,
            err_msg=(
                f"{type(layer).__name__} sets supports_masking but output {index} at "
                "real positions changes with the values at masked positions: the "
                "Keras mask is ignored"
            ),
        )


def _normalized(config):
    # JSON turns tuples into lists, as a saved-and-reloaded config does.
    return json.loads(json.dumps(config, default=str))


def run_model_saving_test(
    model, input_data, atol=1e-5, call_kwargs=None, check_copied_kernels=True
):
    """Saves `model` to `.keras`, reloads it and compares outputs and configs.

    Args:
        model: a built Keras model.
        input_data: what `model(...)` takes (array, list or dict of arrays).
        atol: float. Tolerance on the outputs.
        call_kwargs: dict. Extra keyword arguments of the call.
        check_copied_kernels: bool. Also require that no two kernels of `model`
            are copies (`assert_no_copied_kernels`). Turn it off for a model
            whose weights a test set by hand.

    Returns:
        The reloaded model.
    """
    call_kwargs = dict(call_kwargs or {})
    expected = model(input_data, training=False, **call_kwargs)
    if check_copied_kernels:
        assert_no_copied_kernels(model)
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


class LearningRates(keras.callbacks.Callback):
    """Records the learning rate each training update is made with."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        rate = ops.convert_to_numpy(self.model.optimizer.learning_rate)
        self.rates.append(float(rate))


def run_script(path, *flags, cwd, timeout):
    """Runs a tutorial or bench script in a fresh Python, quietly, on the CPU."""
    return subprocess.run(
        [sys.executable, str(path), *flags],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""},
        timeout=timeout,
    )
