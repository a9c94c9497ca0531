"""A hypermodel that trains in milliseconds, for exercising the tuners."""

import keras
import keras_tuner
import numpy as np


class DenseHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        units = hp.Choice("units", [4, 8, 16])
        learning_rate = hp.Float("learning_rate", 1e-3, 1e-1, sampling="log")
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(units, "relu"),
                keras.layers.Dense(1),
            ]
        )
        model.compile(keras.optimizers.SGD(learning_rate), "mse")
        return model


def regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)
