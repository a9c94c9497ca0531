import numpy as np
import pytest

from keras_transformer_bit.utils import check_non_negative_int


def test_counts_from_zero_pass_as_ints():
    assert check_non_negative_int("n", 0) == 0
    assert check_non_negative_int("n", np.int64(7)) == 7


@pytest.mark.parametrize("value", [-1, 1.0, True, "3", None])
def test_anything_else_is_refused_naming_it(value):
    message = rf"n must be an int >= 0\. Received: n={value!r}"
    with pytest.raises(ValueError, match=message):
        check_non_negative_int("n", value)
