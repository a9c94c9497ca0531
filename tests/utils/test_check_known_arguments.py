import pytest

from keras_transformer_bit.utils.check_known_arguments import check_known_arguments


def test_unknown_names_are_refused_with_the_valid_ones():
    check_known_arguments("f", {"depth": 1}, ["depth", "width_factor"])
    with pytest.raises(TypeError) as error:
        check_known_arguments("f", {"depht": 50, "zzz": 1}, ["width_factor", "depth"])
    assert str(error.value) == (
        "f got unknown arguments 'depht' (did you mean 'depth'?), 'zzz'. "
        "Valid arguments: ['depth', 'width_factor']"
    )
