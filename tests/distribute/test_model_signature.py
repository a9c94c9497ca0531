import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.distribute import AtomicBackupAndRestore, model_signature


def _dense_model(units, activation=None):
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(units, activation=activation)]
    )
    model.compile("sgd", "mse")
    return model


def _fit(model, backup_dir):
    x = np.ones((4, 3), "float32")
    y = np.ones((4, model.output_shape[-1]), "float32")
    backup = AtomicBackupAndRestore(backup_dir, delete_checkpoint=False)
    return model.fit(x, y, epochs=1, callbacks=[backup], verbose=0)


def test_signature_ignores_generated_names():
    first, second = _dense_model(4), _dense_model(4)
    assert first.name != second.name
    assert model_signature(first) == model_signature(second)
    assert model_signature(first) != model_signature(_dense_model(4, "relu"))


def test_a_backup_of_another_model_is_refused_before_restoring(tmp_path):
    _fit(_dense_model(4), tmp_path)
    # Same class and weight shapes, another activation: it used to resume
    # silently from weights trained for another function.
    same_shapes = _dense_model(4, "relu")
    kernel = same_shapes.get_weights()[0].copy()
    with pytest.raises(ValueError, match="holds a backup of a different model"):
        _fit(same_shapes, tmp_path)
    np.testing.assert_array_equal(same_shapes.get_weights()[0], kernel)
    # Other shapes: named up front, not as a shape error from the weights file.
    with pytest.raises(
        ValueError, match=r"layers\[1\].config.units=4 there, .*=3 here"
    ):
        _fit(_dense_model(3), tmp_path)
    # The model the backup belongs to resumes (a fresh instance of it).
    history = _fit(_dense_model(4), tmp_path)
    assert history.epoch == []  # the backed-up epoch was the last one


@pytest.mark.large
def test_transformer_backup_names_both_configs(tmp_path):
    def transformer(num_layers):
        keras.utils.set_random_seed(0)
        model = ktb.models.Transformer(
            vocabulary_size=20,
            num_layers=num_layers,
            num_heads=2,
            hidden_dim=8,
            intermediate_dim=16,
            max_sequence_length=8,
        )
        model.compile("sgd", ktb.recipes.LabelSmoothedCrossEntropy())
        return model

    ids = np.array([[5, 6, 7, 0]] * 4, "int32")
    inputs = {"encoder_inputs": ids, "decoder_inputs": ids}
    for num_layers in (2, 1):
        model = transformer(num_layers)
        model(inputs)
        backup = AtomicBackupAndRestore(tmp_path, delete_checkpoint=False)
        if num_layers == 2:
            model.fit(inputs, ids, epochs=1, callbacks=[backup], verbose=0)
            continue
        with pytest.raises(ValueError) as error:
            model.fit(inputs, ids, epochs=2, callbacks=[backup], verbose=0)
    message = str(error.value)
    assert "Transformer" in message
    assert "num_layers=2" in message and "num_layers=1" in message


def test_checkpoints_of_another_model_are_refused_before_restoring(tmp_path):
    strategy = ktb.distribute.get_strategy("one_device")
    x = np.ones((8, 3), "float32")
    y = np.zeros((8,), "int32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)

    def loop(units, activation=None):
        with strategy.scope():
            model = keras.Sequential(
                [keras.Input((3,)), keras.layers.Dense(units, activation=activation)]
            )
            optimizer = keras.optimizers.SGD(0.1)
        return ktb.distribute.CustomTrainingLoop(
            model,
            optimizer,
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            strategy=strategy,
            model_dir=str(tmp_path),
        )

    loop(4).fit(dataset, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="holds a backup of a different model"):
        loop(4, "relu").fit(dataset, epochs=2, verbose=0)
    with pytest.raises(ValueError, match=r"units=4 there, .*units=5 here"):
        loop(5).fit(dataset, epochs=2, verbose=0)
    resumed = loop(4)
    resumed.fit(dataset, epochs=2, verbose=0)
    assert int(resumed.epoch.numpy()) == 2
