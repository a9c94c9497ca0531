import numpy as np
import pytest

from keras_transformer_bit.utils import check_positive_int


def test_integral_values_pass_as_python_ints():
    assert check_positive_int("n", 1) == 1
    value = check_positive_int("n", np.int64(7))
    assert value == 7 and type(value) is int


@pytest.mark.parametrize("bad", [0, -3, 2.0, True, "4", None, np.float32(3)])
def test_everything_else_is_named_in_the_error(bad):
    with pytest.raises(ValueError) as error:
        check_positive_int("batch_size", bad, meaning="examples per step")
    assert str(error.value) == (
        "batch_size must be a positive int (examples per step). "
        f"Received: batch_size={bad!r}"
    )


def _positive_int_arguments():
    """(argument name, a call taking that argument) for every public check."""
    import tensorflow as tf

    from keras_transformer_bit.data.few_shot import few_shot_indices
    from keras_transformer_bit.distribute import AtomicBackupAndRestore
    from keras_transformer_bit.distribute.batch_scaling import (
        global_batch_size,
        per_replica_batch_size,
    )
    from keras_transformer_bit.models import BiTBackbone, BiTClassifier
    from keras_transformer_bit.samplers import BeamSampler, TopKSampler, get_sampler

    small = {"base_width": 8, "norm_groups": 4}
    strategy = tf.distribute.get_strategy()
    return {
        "beam_size": lambda v: BeamSampler(beam_size=v),
        "num_return_sequences": lambda v: BeamSampler(num_return_sequences=v),
        "k": lambda v: TopKSampler(k=v),
        "top_k": lambda v: get_sampler("top_k", top_k=v),
        "num_classes": lambda v: BiTClassifier(
            BiTBackbone(block_depths=[1], **small), num_classes=v
        ),
        "block_depths[1]": lambda v: BiTBackbone(block_depths=[1, v], **small),
        "few_shot num_classes": lambda v: few_shot_indices(
            [0, 1, 0], shots=1, num_classes=v
        ),
        "save_freq": lambda v: AtomicBackupAndRestore("backup", save_freq=v),
        "per_replica_batch_size": lambda v: _plain_int(global_batch_size(v, strategy)),
        "global_batch_size": lambda v: _plain_int(per_replica_batch_size(v, strategy)),
    }


def _plain_int(value):
    assert type(value) is int, type(value)


@pytest.mark.parametrize("name", sorted(_positive_int_arguments()))
def test_every_positive_int_argument_takes_numpy_ints_and_names_itself(name):
    call = _positive_int_arguments()[name]
    call(np.int64(1))  # NumPy integers are integers
    argument = name.split()[-1]
    with pytest.raises(ValueError) as error:
        call(0)
    assert f"{argument} must be a positive int" in str(error.value)
    assert f"Received: {argument}=0" in str(error.value)


def test_numpy_sizes_build_working_layers():
    # The checked value is the one used: Keras' own layers refuse NumPy ints.
    import keras

    from keras_transformer_bit.layers import (
        BiTBottleneckUnit,
        TokenAndPositionEmbedding,
    )
    from keras_transformer_bit.models import BiTBackbone

    embedding = TokenAndPositionEmbedding(np.int64(10), np.int64(8), np.int64(4))
    assert embedding(np.zeros((1, 5), "int32")).shape == (1, 5, 4)
    assert type(embedding.get_config()["vocabulary_size"]) is int
    unit = BiTBottleneckUnit(np.int64(4), strides=np.int64(1), norm_groups=np.int64(4))
    assert unit(keras.ops.zeros((1, 8, 8, 16))).shape == (1, 8, 8, 16)
    backbone = BiTBackbone(
        block_depths=[1],
        width_factor=np.int64(1),
        base_width=np.int64(8),
        norm_groups=np.int64(4),
    )
    assert type(backbone.get_config()["base_width"]) is int
