"""A bilingual word lexicon by name ("ding") or from a TSV file."""

import os

from keras_transformer_bit.data.ding_corpus import DING_DE_EN_PATH, load_ding_lexicon

# Names that `load_lexicon` reads without a file of the user's.
LEXICONS = ("ding",)


def load_lexicon(name_or_path):
    """Reads a lexicon: source word to its translation.

    Args:
        name_or_path: str. `"ding"` (the Ding dictionary's German to English,
            `load_ding_lexicon`), or a UTF-8 TSV file with a source word and
            its translation on each line (later lines do not replace an
            earlier word's translation; spaces around a word or a
            translation are stripped; a byte order mark and Windows line
            ends are fine; lines without exactly one tab are refused).

    Returns:
        A dict from source word to translation.

    Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "lexicon.tsv")
    >>> _ = open(path, "w", encoding="utf-8").write("Katze\\tcat\\nHund\\tdog\\n")
    >>> load_lexicon(path)
    {'Katze': 'cat', 'Hund': 'dog'}
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            f"A lexicon is one of {list(LEXICONS)} or a TSV file's path. "
            f"Received: {type(name_or_path).__name__} {name_or_path!r}"
        )
    path = os.fspath(name_or_path)
    if path.strip().lower() == "ding":
        return load_ding_lexicon(DING_DE_EN_PATH)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Lexicon {path!r} is neither one of {list(LEXICONS)} nor a file "
            "(a UTF-8 TSV file: source word, tab, translation on each line)."
            + (" It is a directory." if os.path.isdir(path) else "")
        )
    lexicon = {}
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{path}:{number} is not valid UTF-8 ({error.reason} at byte "
                    f"{error.start}): a lexicon file must be UTF-8 text."
                ) from None
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            columns = line.split("\t")
            if len(columns) > 2:
                raise ValueError(
                    f"{path}:{number} has {len(columns)} columns; a lexicon line "
                    f"is 'word<TAB>translation': {line!r}"
                )
            word, translation = (columns + [""])[:2]
            if not word.strip() or not translation.strip():
                raise ValueError(
                    f"{path}:{number} is not 'word<TAB>translation': {line!r}"
                )
            lexicon.setdefault(word.strip(), translation.strip())
    if not lexicon:
        raise ValueError(f"Lexicon file {path} holds no entries.")
    return lexicon
