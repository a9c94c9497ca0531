import numpy as np
import pytest

from keras_transformer_bit.utils import check_rate


def test_rates_pass_as_python_floats():
    assert check_rate("dropout", 0) == 0.0
    value = check_rate("dropout", np.float32(0.25))
    assert value == 0.25 and type(value) is float


@pytest.mark.parametrize("bad", [1, 1.0, -0.1, True, "0.1", None, float("nan")])
def test_everything_else_is_named_in_the_error(bad):
    with pytest.raises(ValueError) as error:
        check_rate("attention_dropout", bad)
    assert str(error.value) == (
        f"attention_dropout must be a float in [0, 1). Received: "
        f"attention_dropout={bad}"
    )


def test_the_layers_use_it():
    from keras_transformer_bit.layers import TransformerEncoderLayer

    with pytest.raises(ValueError, match=r"dropout must be a float in \[0, 1\)"):
        TransformerEncoderLayer(
            hidden_dim=8, intermediate_dim=16, num_heads=2, dropout=1
        )
