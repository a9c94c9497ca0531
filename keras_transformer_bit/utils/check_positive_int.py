"""The one check behind every "must be a positive int" error of the package."""

import numbers

from keras_transformer_bit.utils.setting_error import SettingError


def check_positive_int(name, value, meaning=None):
    """Returns `value` as an int, or raises an error naming it.

    Any integral number (Python or NumPy) of at least 1 passes; booleans,
    floats (even `2.0`), strings and `None` do not.

    Args:
        name: str. The argument's name, as the user wrote it.
        value: the value to check.
        meaning: optional str, what the number counts (goes in the message).

    Returns:
        `int(value)`.

    Raises:
        SettingError: a `ValueError`, `"{name} must be a positive int
            ({meaning}). Received: {name}={value!r}"`.

    Example:
    >>> check_positive_int("shots", 5)
    5
    >>> try:
    ...     check_positive_int("shots", 0)
    ... except ValueError as error:  # a SettingError
    ...     print(error)
    shots must be a positive int. Received: shots=0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        what = f" ({meaning})" if meaning else ""
        raise SettingError(
            lambda n: (
                f"{n(name)} must be a positive int{what}. Received: {n(name)}={value!r}"
            )
        )
    return int(value)
