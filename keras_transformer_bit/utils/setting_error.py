"""`SettingError`: an error about a setting, worded in its caller's names."""

import contextlib


def _as_is(key):
    return key


class SettingError(ValueError):
    """A `ValueError` about settings that its caller can word in its own names.

    Code deep in a run (a corpus reader, the tf.data pipeline, a tokenizer
    builder) names a setting by its Python keyword, `max_length`; under `ktb`
    the user typed `--max-length`. So the message is a function of how the
    settings are named: raised, it reads in Python names; `restated(names)`
    (or `restate_setting_errors(names)` around a call) words it again in the
    caller's. Only the keys in `names` change; the rest of the message stays.

    Args:
        message: callable `name -> str`, building the message with
            `name(key)` wherever it names the setting `key`. A plain str is
            taken as it is.

    Example:
    >>> error = SettingError(
    ...     lambda name: f"{name('max_length')} must be > 1. "
    ...     f"Received: {name('max_length')}=1")
    >>> str(error)
    'max_length must be > 1. Received: max_length=1'
    >>> str(error.restated({"max_length": "--max-length"}))
    '--max-length must be > 1. Received: --max-length=1'
    """

    def __init__(self, message):
        if isinstance(message, str):
            text = message
            message = lambda name: text  # noqa: E731
        if not callable(message):
            raise TypeError(
                "message must be a str or a callable name -> str. "
                f"Received: message={message!r}"
            )
        self.message = message
        super().__init__(message(_as_is))

    def restated(self, names):
        """The same error, naming the settings as `names` (key -> name) says.

        Returns:
            A `SettingError` with this error's traceback.
        """
        names = dict(names or {})
        message = self.message
        restated = SettingError(
            lambda name: message(lambda key: names.get(key, name(key)))
        )
        return restated.with_traceback(self.__traceback__)

    def __reduce__(self):
        # The callable may be a lambda: an unpickled copy keeps the text.
        return (SettingError, (str(self),))


@contextlib.contextmanager
def restate_setting_errors(names):
    """Raises a `SettingError` from within in the caller's `names`.

    Args:
        names: dict. How the caller names the settings (`{"max_length":
            "--max-length"}`); keys it lacks keep their Python names.

    Example:
    >>> with restate_setting_errors({"data": "--data"}):  # doctest: +SKIP
    ...     load_translation_corpus("nosuch.tsv")
    Traceback (most recent call last):
    ...
    SettingError: --data must be 'ding', ... Received: --data='nosuch.tsv'
    """
    try:
        yield
    except SettingError as error:
        raise error.restated(names) from None
