"""Small helpers shared across the package (argument checks).

Example:
>>> from keras_transformer_bit.utils import check_positive_int
>>> check_positive_int("batch_size", 32)
32
"""

from keras_transformer_bit.utils.check_positive_int import (  # noqa: F401
    check_positive_int,
)
