"""The one test behind the package's "must be a finite number" checks."""

import math
import numbers


def is_finite_number(value):
    """Whether `value` is a finite real number: Python or NumPy, not a bool.

    Strings, `None`, NaN and infinities are not. The checks that word an
    error (`check_fraction`, `check_rate`, `check_mbr_options`, ...) add their
    own range to it.

    Example:
    >>> is_finite_number(0.5), is_finite_number(True), is_finite_number(float("nan"))
    (True, False, False)
    """
    return (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
    )
