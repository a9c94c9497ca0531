import numpy as np
import pytest

from keras_transformer_bit.utils import check_seed


def test_seeds_pass_as_python_ints_and_none_when_allowed():
    assert check_seed(0) == 0 and check_seed(2**32 - 1) == 2**32 - 1
    value = check_seed(np.int64(5))
    assert value == 5 and type(value) is int
    assert check_seed(None) is None
    with pytest.raises(ValueError, match="Received: --seed=None"):
        check_seed(None, "--seed", allow_none=False)


@pytest.mark.parametrize("bad", [-1, 2**32, 1.0, True, "3"])
def test_everything_else_is_named_in_the_error(bad):
    with pytest.raises(ValueError) as error:
        check_seed(bad, "--seed")
    assert str(error.value) == (
        f"--seed must be an int in [0, 2**32 - 1] (a random seed). "
        f"Received: --seed={bad!r}"
    )


def test_the_bit_recipe_and_the_bit_command_use_it():
    from keras_transformer_bit.cli.bit import bit_run
    from keras_transformer_bit.cli.main import build_parser
    from keras_transformer_bit.recipes.bit_fine_tune import check_seed as recipe_check

    assert recipe_check is check_seed
    args = build_parser().parse_args(
        ["bit", "train", "--data", "x", "--model-dir", "y", "--seed", "-3"]
    )
    with pytest.raises(ValueError, match=r"--seed must be .*--seed=-3"):
        bit_run(args).check_settings()
