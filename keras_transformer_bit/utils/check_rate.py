"""The one check behind every "must be a rate in [0, 1)" error of the package."""

from keras_transformer_bit.utils.is_finite_number import is_finite_number
from keras_transformer_bit.utils.setting_error import SettingError


def check_rate(name, value):
    """Returns `value` as a float in `[0, 1)`, or raises an error naming it.

    Dropout rates and the like: any real number (Python or NumPy) from 0 up
    to, not including, 1 passes; booleans, strings, `None` and NaN do not.

    Args:
        name: str. The argument's name, as the user wrote it.
        value: the value to check.

    Returns:
        `float(value)`.

    Raises:
        SettingError: a `ValueError`, `"{name} must be a float in [0, 1).
            Received: {name}={value}"`.

    Example:
    >>> check_rate("dropout", 0.1)
    0.1
    >>> try:
    ...     check_rate("dropout", 1.0)
    ... except ValueError as error:  # a SettingError
    ...     print(error)
    dropout must be a float in [0, 1). Received: dropout=1.0
    """
    if not is_finite_number(value) or not 0 <= value < 1:
        raise SettingError(
            lambda n: (
                f"{n(name)} must be a float in [0, 1). Received: {n(name)}={value}"
            )
        )
    return float(value)
