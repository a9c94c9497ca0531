"""A fresh copy of an initializer, for each sublayer that uses it."""

import keras


def clone_initializer(initializer):
    """Returns a new initializer object with the configuration of `initializer`.

    An unseeded Keras 3 initializer draws its seed once, when it is created, and
    returns the same values on every call. A layer that hands one instance to
    several sublayers therefore gives them copied weights (equal kernels of one
    shape, prefixes of one random stream across shapes). Each sublayer must get
    its own object: a clone of an unseeded initializer draws a new seed, and a
    clone of a seeded one keeps the seed, so seeded models stay reproducible.

    Args:
        initializer: an initializer object, or anything `keras.initializers.get`
            accepts (a name, a config dict).

    Returns:
        A new `keras.initializers.Initializer`.

    Example:
    >>> import numpy as np
    >>> from keras_transformer_bit.utils import clone_initializer
    >>> shared = keras.initializers.GlorotUniform()
    >>> a = clone_initializer(shared)((4, 4))
    >>> b = clone_initializer(shared)((4, 4))
    >>> bool(np.allclose(a, b))
    False
    """
    initializer = keras.initializers.get(initializer)
    if not isinstance(initializer, keras.initializers.Initializer):
        # A plain callable cannot be cloned; it is used as it is.
        return initializer
    return initializer.__class__.from_config(initializer.get_config())
