import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb


def test_sums_across_replicas_and_passes_through_outside():
    assert float(ktb.distribute.sum_over_replicas(tf.constant(3.0))) == 3.0
    strategy = ktb.distribute.get_strategy("mirrored")

    @tf.function
    def replica_values():
        def step():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            return ktb.distribute.sum_over_replicas(tf.cast(replica, tf.float32) + 1.0)

        return strategy.experimental_local_results(strategy.run(step))

    assert [float(value) for value in replica_values()] == [3.0, 3.0]


def _uneven_token_batch(vocabulary_size=50):
    # Two rows: on two replicas, the first holds 32 real target tokens and the
    # second 6. A per-replica token mean weighs each of the 6 like 5 of the 32.
    rng = np.random.default_rng(0)
    lengths = [32, 6]
    sources = np.zeros((2, 32), "int32")
    decoder_inputs = np.zeros((2, 32), "int32")
    labels = np.zeros((2, 32), "int32")
    for row, length in enumerate(lengths):
        sources[row, : 10 + row] = rng.integers(4, vocabulary_size, 10 + row)
        tokens = rng.integers(4, vocabulary_size, length)
        decoder_inputs[row, :length] = np.concatenate([[2], tokens[:-1]])
        labels[row, :length] = tokens
    inputs = {"encoder_inputs": sources, "decoder_inputs": decoder_inputs}
    return inputs, labels


def _one_sgd_step(strategy, initial_weights, inputs, labels):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = ktb.models.Transformer(
            vocabulary_size=50,
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            dropout=0.0,
            max_sequence_length=32,
        )
        if initial_weights is not None:
            model.set_weights(initial_weights)
        model.compile(
            optimizer=keras.optimizers.SGD(1.0),
            loss=ktb.recipes.LabelSmoothedCrossEntropy(),
        )
    dataset = tf.data.Dataset.from_tensors((inputs, labels))
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return model, history.history["loss"][0]


@pytest.mark.large
def test_mirrored_fit_step_equals_one_device_with_uneven_tokens():
    inputs, labels = _uneven_token_batch()
    one_device = ktb.distribute.get_strategy("one_device")
    with one_device.scope():
        keras.utils.set_random_seed(0)
        initial = ktb.models.Transformer(
            vocabulary_size=50,
            num_layers=1,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
            dropout=0.0,
            max_sequence_length=32,
        )
        initial(inputs)
        initial = initial.get_weights()
    reference, reference_loss = _one_sgd_step(one_device, initial, inputs, labels)
    mirrored, mirrored_loss = _one_sgd_step(
        ktb.distribute.get_strategy("mirrored"), initial, inputs, labels
    )
    update = np.concatenate(
        [(w - w0).ravel() for w, w0 in zip(reference.get_weights(), initial)]
    )
    difference = np.concatenate(
        [
            (w - r).ravel()
            for w, r in zip(mirrored.get_weights(), reference.get_weights())
        ]
    )
    relative = np.linalg.norm(difference) / np.linalg.norm(update)
    print(f"mirrored vs one device: update differs by {relative:.3g} relative")
    assert np.linalg.norm(update) > 1e-2
    assert relative <= 1e-5
    # The reported loss is the token mean over the global batch, as on one device.
    np.testing.assert_allclose(mirrored_loss, reference_loss, rtol=1e-5)
