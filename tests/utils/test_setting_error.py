import pickle

import pytest

from keras_transformer_bit.utils import SettingError, restate_setting_errors


def _too_long(max_length):
    raise SettingError(
        lambda name: (
            f"Every pair is longer than {name('max_length')}={max_length}. "
            f"Raise {name('max_length')} (tokens_per_batch stays)."
        )
    )


def test_reads_in_python_names_and_restates_in_the_callers():
    with pytest.raises(ValueError) as error:
        _too_long(2)
    assert str(error.value) == (
        "Every pair is longer than max_length=2. Raise max_length "
        "(tokens_per_batch stays)."
    )
    restated = error.value.restated({"max_length": "--max-length", "seed": "--s"})
    assert isinstance(restated, SettingError)
    assert str(restated) == (
        "Every pair is longer than --max-length=2. Raise --max-length "
        "(tokens_per_batch stays)."
    )
    assert restated.__traceback__ is error.value.__traceback__


def test_the_context_restates_setting_errors_only():
    names = {"max_length": "--max-length"}
    with pytest.raises(SettingError, match=r"^Every pair is longer than --max-len"):
        with restate_setting_errors(names):
            _too_long(3)
    with pytest.raises(ValueError, match=r"^max_length"):
        with restate_setting_errors(names):
            raise ValueError("max_length stays: not a SettingError")


def test_a_text_is_taken_as_it_is_and_survives_pickling():
    error = SettingError("max_length=2 is too short")
    assert str(error.restated({"max_length": "--max-length"})) == str(error)
    copy = pickle.loads(pickle.dumps(SettingError(lambda name: f"{name('a')}=1")))
    assert str(copy) == "a=1"


def test_a_message_that_is_neither_text_nor_callable_is_refused():
    with pytest.raises(TypeError, match=r"message must be a str or a callable"):
        SettingError(3)


def test_the_shared_checks_raise_setting_errors_a_caller_can_restate():
    from keras_transformer_bit.utils import (
        check_non_negative_int,
        check_positive_int,
        check_rate,
        check_seed,
    )

    calls = [
        (check_positive_int, 0, "must be a positive int"),
        (check_non_negative_int, -1, "must be an int >= 0"),
        (check_rate, 1.5, "must be a float in [0, 1)"),
        (lambda name, seed: check_seed(seed, name), -1, "must be an int in [0, 2**32"),
    ]
    for check, bad, says in calls:
        with pytest.raises(SettingError) as error:
            check("beam_size", bad)
        assert str(error.value).startswith(f"beam_size {says}")
        restated = str(error.value.restated({"beam_size": "--beam-size"}))
        assert restated.startswith(f"--beam-size {says}")
        assert f"Received: --beam-size={bad!r}" in restated
        assert "beam_size" not in restated
