import numpy as np
import pytest

from keras_transformer_bit.utils import SettingError, check_fraction


@pytest.mark.parametrize("value", [0, 0.0, 0.3, 1, 1.0, np.float32(0.5), np.int64(1)])
def test_fractions_pass_as_floats(value):
    checked = check_fraction("cooldown", value)
    assert type(checked) is float and checked == float(value)


@pytest.mark.parametrize(
    "value, shown",
    [(-0.01, "-0.01"), (1.01, "1.01"), (float("nan"), "nan"), (float("inf"), "inf"),
     (True, "True"), ("0.5", "'0.5'"), (None, "None")],
)  # fmt: skip
def test_others_are_refused_by_name(value, shown):
    with pytest.raises(SettingError) as caught:
        check_fraction("cooldown", value)
    assert str(caught.value) == (
        f"cooldown must be a float in [0, 1]. Received: cooldown={shown}"
    )
    restated = caught.value.restated({"cooldown": "--cooldown"})
    assert "--cooldown must be a float in [0, 1]" in str(restated)
