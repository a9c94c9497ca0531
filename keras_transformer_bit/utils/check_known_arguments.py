"""Refuse misspelled keyword arguments, naming them and the valid ones."""

import difflib


def check_known_arguments(who, arguments, valid):
    """Raises a `TypeError` when `arguments` has a name outside `valid`.

    Keras' `Functional.__init__` drops keyword arguments it does not know, and
    a dict merged into a preset's config is never checked, so a misspelled
    `depht=50` would be ignored without a word.

    Args:
        who: str. What is being called, for the message (e.g. `"BiTBackbone"`).
        arguments: the names received (a dict or any iterable of str).
        valid: the names accepted.

    Example:
    >>> check_known_arguments("f", {"depht": 50}, ["depth", "width"])
    Traceback (most recent call last):
    ...
    TypeError: f got an unknown argument 'depht' (did you mean 'depth'?). ...
    """
    valid = sorted(valid)
    unknown = [name for name in arguments if name not in valid]
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1)
        hints.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    noun = "an unknown argument" if len(unknown) == 1 else "unknown arguments"
    raise TypeError(f"{who} got {noun} {', '.join(hints)}. Valid arguments: {valid}")
