"""Atomic directory writes shared by the SavedModel exporters."""

import os
import shutil
import tempfile

from keras_transformer_bit.utils.gfile import is_remote, remove_tree


def write_directory_atomically(path, write):
    """Writes a directory with `write(staging)`, then renames it into `path`.

    The staging directory sits next to `path` (same file system), so the final
    rename is atomic: a reader (e.g. TF Serving polling a version directory)
    sees either no export or a complete one, and a failed export leaves
    nothing behind.

    On other file systems (`gs://`, `s3://`, `hdfs://`, `ram://`) directories
    cannot be renamed atomically (object stores copy every file), so `write`
    writes `path` itself through `tf.io.gfile`, replacing what was there; a
    failed export removes what it wrote.
    """
    if is_remote(path):
        remove_tree(path)
        try:
            write(path)
        except BaseException:
            remove_tree(path)
            raise
        return
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(
            f"The export path is a file, not a directory: {path}. Choose a "
            "directory path (e.g. models/translator/1); the file is left as it is."
        )
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(path)
    staging = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    # mkdtemp makes a private (0700) directory; an export is read by a server
    # that may run as another user, so it gets the usual umask permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
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
