"""Writing a small text file so that readers see the old or the new text."""

import os

from keras_transformer_bit.utils.gfile import gfile, is_remote


def write_text_atomically(path, text):
    """Replaces the file at `path` with `text`, never leaving half of it.

    The text goes to a temporary file beside `path` (named after it and this
    process), is flushed to disk, and is then renamed over `path`, so a crash
    or a kill at any moment leaves either the previous file or the new one.

    A `scheme://` path (gs://, s3://, hdfs://, ram://) goes through
    `tf.io.gfile`: a temporary object, then a rename (atomic where the file
    system's rename is; object stores copy, which still never exposes a
    partial file under `path`).

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
    if is_remote(path):
        with gfile.GFile(temporary, "w") as file:
            file.write(text)
        gfile.rename(temporary, path, overwrite=True)
        return
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
