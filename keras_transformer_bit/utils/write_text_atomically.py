"""Writing a small text file so that readers see the old or the new text."""

import os


def write_text_atomically(path, text):
    """Replaces the file at `path` with `text`, never leaving half of it.

    The text goes to a temporary file beside `path` (named after it and this
    process), is flushed to disk, and is then renamed over `path`, so a crash
    or a kill at any moment leaves either the previous file or the new one.

    Args:
        path: str. The file to write (its directory must exist).
        text: str. The whole new content, written as UTF-8.

    Example:
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "config.json")
    >>> write_text_atomically(path, '{"epoch": 3}\\n')
    >>> open(path).read()
    '{"epoch": 3}\\n'
    """
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
