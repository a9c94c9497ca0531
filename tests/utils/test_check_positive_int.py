import numpy as np
import pytest

from keras_transformer_bit.utils import check_positive_int


def test_integral_values_pass_as_python_ints():
    assert check_positive_int("n", 1) == 1
    value = check_positive_int("n", np.int64(7))
    assert value == 7 and type(value) is int


@pytest.mark.parametrize("bad", [0, -3, 2.0, True, "4", None, np.float32(3)])
def test_everything_else_is_named_in_the_error(bad):
    with pytest.raises(ValueError) as error:
        check_positive_int("batch_size", bad, meaning="examples per step")
    assert str(error.value) == (
        "batch_size must be a positive int (examples per step). "
        f"Received: batch_size={bad!r}"
    )
