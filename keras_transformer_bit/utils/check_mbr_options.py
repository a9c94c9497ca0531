"""The one check of the minimum-Bayes-risk decoding settings."""

from keras_transformer_bit.utils.is_finite_number import is_finite_number
from keras_transformer_bit.utils.setting_error import SettingError

# The utilities an MBR choice can maximise (`keras_transformer_bit.mbr_choice`).
MBR_UTILITIES = ("chrf",)
# Beyond these, scores divided in float32 underflow or overflow; the samplers'
# temperature has the same bounds.
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-3, 1e3


def check_mbr_options(utility, temperature):
    """Returns `(utility, float(temperature))`, or raises an error naming them.

    Args:
        utility: `None` (beam search's top-1) or a name in `MBR_UTILITIES`.
        temperature: a real number in `[1e-3, 1e3]`; it divides the beam
            scores before the softmax that weighs the candidates.

    Returns:
        `(utility, float(temperature))`.

    Raises:
        SettingError: a `ValueError` naming the setting and its value.

    Example:
    >>> check_mbr_options("chrf", 0.5)
    ('chrf', 0.5)
    >>> try:
    ...     check_mbr_options("chrf", 0)
    ... except ValueError as error:  # a SettingError
    ...     print(error)  # doctest: +ELLIPSIS
    mbr_temperature must be a finite number > 0, in [0.001, 1000] ...=0
    """
    if utility is not None and utility not in MBR_UTILITIES:
        raise SettingError(
            lambda n: (
                f"{n('mbr_utility')} must be None (beam search's top-1) or one of "
                f"{list(MBR_UTILITIES)}. Received: {n('mbr_utility')}={utility!r}"
            )
        )
    if (
        not is_finite_number(temperature)
        or not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE
    ):
        raise SettingError(
            lambda n: (
                f"{n('mbr_temperature')} must be a finite number > 0, in "
                f"[{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] (it divides the beam "
                "scores before the softmax, in float32). Received: "
                f"{n('mbr_temperature')}={temperature!r}"
            )
        )
    return utility, float(temperature)
