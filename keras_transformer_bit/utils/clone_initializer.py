"""A fresh copy of an initializer, for each sublayer that uses it."""

import zlib

import keras


def clone_initializer(initializer, salt=None):
    """Returns a new initializer object with the configuration of `initializer`.

    An unseeded Keras 3 initializer draws its seed once, when it is created, and
    returns the same values on every call. A layer that hands one instance to
    several sublayers therefore gives them copied weights (equal kernels of one
    shape, prefixes of one random stream across shapes). Each sublayer must get
    its own object: a clone of an unseeded initializer draws a new seed. A
    clone of a seeded one keeps the seed, so seeded models stay reproducible;
    pass `salt` (e.g. the sublayer's path) to derive a different but
    reproducible seed for each sublayer, so that seeded sublayers do not copy
    each other either.

    Args:
        initializer: an initializer object, or anything `keras.initializers.get`
            accepts (a name, a config dict).
        salt: optional str. Mixed into an integer seed: the same salt gives the
            same seed, different salts different seeds. No effect on unseeded
            initializers.

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
    config = initializer.get_config()
    seed = config.get("seed")
    if salt is not None and isinstance(seed, int) and not isinstance(seed, bool):
        config["seed"] = (seed + zlib.crc32(salt.encode("utf-8"))) % 2**31
    return initializer.__class__.from_config(config)
