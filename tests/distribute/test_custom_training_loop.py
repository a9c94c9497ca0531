import numpy as np
import pytest

import keras_transformer_bit as ktb
from tests.distribute import toy_tasks


def _train(task, strategy, steps_per_epoch=2, epochs=2, model_dir=None, weights=None):
    with strategy.scope():
        model = toy_tasks.make_model(task)
        if weights is not None:
            model.set_weights(weights)
        optimizer = toy_tasks.make_optimizer(task)
    loop = ktb.distribute.CustomTrainingLoop(
        model,
        optimizer,
        toy_tasks.make_loss(task),
        strategy=strategy,
        model_dir=model_dir,
    )
    dataset = toy_tasks.make_dataset(
        task, global_batch_size=8, num_examples=8 * steps_per_epoch
    )
    history = loop.fit(dataset, epochs=epochs, verbose=0)
    return loop, history


@pytest.mark.parametrize("task", ["dense", "transformer", "bit"])
def test_mirrored_equals_one_device(task):
    mirrored = ktb.distribute.get_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    one = ktb.distribute.get_strategy("one_device")
    with one.scope():
        initial = toy_tasks.make_model(task).get_weights()
    reference, ref_history = _train(task, one, weights=initial)
    loop, history = _train(task, mirrored, weights=initial)
    diff = max(
        np.max(np.abs(a - b)) for a, b in zip(reference.weights(), loop.weights())
    )
    moved = max(np.max(np.abs(a - b)) for a, b in zip(initial, loop.weights()))
    print(task, "max abs diff", diff, "moved", moved, ref_history, history)
    assert moved > 1e-3
    assert diff <= 1e-5
    np.testing.assert_allclose(history["loss"], ref_history["loss"], atol=1e-5)
