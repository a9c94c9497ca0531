"""The one check behind every "must be a float in [0, 1]" error of the package."""

from keras_transformer_bit.utils.is_finite_number import is_finite_number
from keras_transformer_bit.utils.setting_error import SettingError


def check_fraction(name, value):
    """Returns `value` as a float in `[0, 1]`, or raises an error naming it.

    A share of something, both ends included (unlike `check_rate`'s `[0, 1)`):
    any real number (Python or NumPy) from 0 to 1 passes; booleans, strings,
    `None` and NaN do not.

    Args:
        name: str. The argument's name, as the user wrote it.
        value: the value to check.

    Returns:
        `float(value)`.

    Raises:
        SettingError: a `ValueError`, `"{name} must be a float in [0, 1].
            Received: {name}={value!r}"`.

    Example:
    >>> check_fraction("cooldown", 1)
    1.0
    >>> try:
    ...     check_fraction("cooldown", 1.5)
    ... except ValueError as error:  # a SettingError
    ...     print(error)
    cooldown must be a float in [0, 1]. Received: cooldown=1.5
    """
    if not is_finite_number(value) or not 0 <= value <= 1:
        raise SettingError(
            lambda n: (
                f"{n(name)} must be a float in [0, 1]. Received: {n(name)}={value!r}"
            )
        )
    return float(value)
