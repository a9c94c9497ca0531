import keras
import numpy as np
import pytest
from keras import ops

from keras_transformer_bit.utils import clone_initializer


def values(initializer, shape=(6, 5)):
    return ops.convert_to_numpy(initializer(shape))


def test_unseeded_shared_instance_repeats_itself_and_clones_do_not():
    shared = keras.initializers.GlorotUniform()
    # The trap the clone avoids: one instance gives the same values twice.
    np.testing.assert_array_equal(values(shared), values(shared))
    assert not np.allclose(
        values(clone_initializer(shared)), values(clone_initializer(shared))
    )


def test_seeded_clone_keeps_the_seed():
    seeded = keras.initializers.RandomNormal(stddev=0.1, seed=7)
    np.testing.assert_array_equal(
        values(clone_initializer(seeded)),
        values(keras.initializers.RandomNormal(0.0, 0.1, seed=7)),
    )


@pytest.mark.parametrize(
    "spec", ["glorot_uniform", {"class_name": "Zeros", "config": {}}]
)
def test_accepts_names_and_configs(spec):
    assert isinstance(clone_initializer(spec), keras.initializers.Initializer)


def test_salted_seeded_clones_differ_and_repeat():
    seeded = keras.initializers.GlorotUniform(seed=7)
    query = values(clone_initializer(seeded, salt="layer_0/query"))
    key = values(clone_initializer(seeded, salt="layer_0/key"))
    assert not np.allclose(np.sort(query, None), np.sort(key, None))
    np.testing.assert_array_equal(
        query, values(clone_initializer(seeded, salt="layer_0/query"))
    )
    # Unseeded initializers ignore the salt and still differ per clone.
    unseeded = keras.initializers.GlorotUniform()
    assert not np.allclose(
        values(clone_initializer(unseeded, salt="a")),
        values(clone_initializer(unseeded, salt="a")),
    )
