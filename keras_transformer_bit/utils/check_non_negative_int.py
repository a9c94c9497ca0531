"""The check behind "must be an int >= 0" errors: counts that may be zero."""

import numbers

from keras_transformer_bit.utils.setting_error import SettingError


def check_non_negative_int(name, value):
    """Returns `value` as an int, or raises an error naming it.

    Any integral number (Python or NumPy) of at least 0 passes; booleans,
    floats, strings and `None` do not. `check_positive_int` is its twin for
    counts that must be at least 1.

    Args:
        name: str. The argument's name, as the user wrote it.
        value: the value to check.

    Returns:
        `int(value)`.

    Example:
    >>> check_non_negative_int("phrase_pairs", 0)
    0
    >>> try:
    ...     check_non_negative_int("phrase_pairs", -1)
    ... except ValueError as error:  # a SettingError
    ...     print(error)
    phrase_pairs must be an int >= 0. Received: phrase_pairs=-1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise SettingError(
            lambda n: f"{n(name)} must be an int >= 0. Received: {n(name)}={value!r}"
        )
    return int(value)
