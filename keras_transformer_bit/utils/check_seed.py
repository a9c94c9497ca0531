"""The one check behind every random seed argument of the package."""

import numbers

from keras_transformer_bit.utils.setting_error import SettingError

MAX_SEED = 2**32 - 1  # NumPy's and `keras.utils.set_random_seed`'s range


def check_seed(seed, name="seed", allow_none=True):
    """Returns `seed` as an int in `[0, 2**32 - 1]` (or None), or raises.

    Args:
        seed: the value to check.
        name: str. The argument's name, as the user wrote it (`"--seed"`).
        allow_none: bool. Whether `None` (no seed) passes. Defaults to `True`.

    Returns:
        `int(seed)`, or `None`.

    Raises:
        SettingError: a `ValueError`, `"{name} must be an int in [0,
            2**32 - 1] (a random seed). Received: {name}={seed!r}"`.

    Example:
    >>> check_seed(7)
    7
    >>> try:
    ...     check_seed(-1, "--seed")
    ... except ValueError as error:  # a SettingError
    ...     print(error)
    --seed must be an int in [0, 2**32 - 1] (a random seed). Received: --seed=-1
    """
    if seed is None and allow_none:
        return None
    if (
        isinstance(seed, bool)
        or not isinstance(seed, numbers.Integral)
        or not 0 <= seed <= MAX_SEED
    ):
        raise SettingError(
            lambda n: (
                f"{n(name)} must be an int in [0, 2**32 - 1] (a random seed). "
                f"Received: {n(name)}={seed!r}"
            )
        )
    return int(seed)
