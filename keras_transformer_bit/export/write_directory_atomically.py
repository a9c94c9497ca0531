"""Atomic directory writes shared by the SavedModel exporters."""

import os
import shutil
import tempfile


def write_directory_atomically(path, write):
    """Writes a directory with `write(staging)`, then renames it into `path`.

    The staging directory sits next to `path` (same file system), so the final
    rename is atomic: a reader (e.g. TF Serving polling a version directory)
    sees either no export or a complete one, and a failed export leaves
    nothing behind.
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(path)
    staging = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    try:
        write(staging)
        if os.path.exists(path):
            previous = tempfile.mkdtemp(prefix=f".{name}.old-", dir=parent)
            os.rmdir(previous)
            os.replace(path, previous)
            os.replace(staging, path)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
