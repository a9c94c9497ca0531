"""The shared checks of tests/helpers.py catch what they promise to catch."""

import keras
import numpy as np
import pytest

from tests import helpers


def _dense_stack(kernel_initializer="glorot_uniform"):
    inputs = keras.Input((12,))
    x = inputs
    for width in (24, 24, 12):
        x = keras.layers.Dense(width, kernel_initializer=kernel_initializer)(x)
    return keras.Model(inputs, x)


def test_fresh_dense_stack_has_no_copied_kernels():
    helpers.assert_no_copied_kernels(_dense_stack())


def test_shared_unseeded_initializer_is_caught():
    # One unseeded instance for all layers: (12, 24) and (24, 24) kernels are
    # prefixes of one stream, and (24, 12) is the first one's values again.
    model = _dense_stack(keras.initializers.GlorotUniform())
    copies = helpers.find_copied_kernels(model)
    assert len(copies) == 3
    assert any("identical values" in copy for copy in copies)
    with pytest.raises(AssertionError, match="3 pair"):
        helpers.assert_no_copied_kernels(model)


def _reordered(kernel):
    return np.random.default_rng(1).permutation(kernel.ravel()) * 0.5


@pytest.mark.parametrize(
    "second_width, make_copy, how",
    [
        (16, lambda kernel: kernel, "identical"),
        (16, _reordered, "another order"),
        (8, lambda kernel: -2.0 * kernel.ravel()[:128], "one random stream"),
    ],
)
def test_each_kind_of_copy_is_caught(second_width, make_copy, how):
    inputs = keras.Input((16,))
    first = keras.layers.Dense(16, use_bias=False)
    second = keras.layers.Dense(second_width, use_bias=False)
    model = keras.Model(inputs, [first(inputs), second(inputs)])
    assert helpers.find_copied_kernels(model) == []
    copied = make_copy(first.kernel.numpy()).reshape(second.kernel.shape)
    second.kernel.assign(copied)
    copies = helpers.find_copied_kernels(model)
    assert len(copies) == 1 and how in copies[0], copies


def test_constant_and_tied_weights_are_not_copies():
    inputs = keras.Input((8,))
    zeros = keras.layers.Dense(8, kernel_initializer="zeros")
    ones = keras.layers.Dense(8, kernel_initializer="ones")
    model = keras.Model(inputs, [zeros(inputs), ones(inputs), zeros(inputs)])
    assert helpers.find_copied_kernels(model) == []


def test_find_copied_kernels_needs_a_built_layer():
    with pytest.raises(AssertionError, match="not built"):
        helpers.assert_no_copied_kernels(keras.layers.Dense(3))


class _Float32Output(keras.layers.Layer):
    """Computes in the policy's dtype but hands back float32."""

    def build(self, input_shape):
        self.dense = keras.layers.Dense(4, dtype=self.dtype_policy)
        self.dense.build(input_shape)

    def call(self, inputs):
        return keras.ops.cast(self.dense(inputs), "float32")


class _UnusedWeight(keras.layers.Layer):
    """A trainable weight that no output depends on."""

    def build(self, input_shape):
        self.dense = keras.layers.Dense(4, dtype=self.dtype_policy)
        self.dense.build(input_shape)
        self.unused = self.add_weight(shape=(4,), name="unused")

    def call(self, inputs):
        return self.dense(inputs) + 0.0 * self.unused


class _MeanOverTime(keras.layers.Layer):
    """Adds the mean over all positions to each position."""

    def __init__(self, use_mask=False, **kwargs):
        super().__init__(**kwargs)
        self.use_mask = use_mask
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if self.use_mask and mask is not None:
            weights = keras.ops.cast(mask, inputs.dtype)[..., None]
            mean = keras.ops.sum(inputs * weights, axis=1, keepdims=True)
            mean = mean / keras.ops.sum(weights, axis=1, keepdims=True)
        else:
            mean = keras.ops.mean(inputs, axis=1, keepdims=True)
        return inputs + mean

    def get_config(self):
        return {**super().get_config(), "use_mask": self.use_mask}


INPUTS = np.random.default_rng(0).standard_normal((2, 6, 8)).astype("float32")


def test_run_layer_test_refuses_float32_outputs_under_mixed_precision():
    with pytest.raises(AssertionError, match="under mixed_bfloat16 is float32"):
        helpers.run_layer_test(_Float32Output, {}, INPUTS, run_saving_check=False)


def test_run_layer_test_refuses_a_weight_without_gradient():
    with pytest.raises(AssertionError, match="unused is zero everywhere"):
        helpers.run_layer_test(_UnusedWeight, {}, INPUTS, run_saving_check=False)


def test_run_layer_test_refuses_an_ignored_implicit_mask():
    with pytest.raises(AssertionError, match="Keras mask is ignored"):
        helpers.run_layer_test(_MeanOverTime, {}, INPUTS, run_saving_check=False)
    helpers.run_layer_test(
        _MeanOverTime, {"use_mask": True}, INPUTS, run_saving_check=False
    )
