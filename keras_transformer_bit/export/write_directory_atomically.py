"""Atomic directory writes shared by the SavedModel exporters."""

import os
import shutil
import tempfile

from keras_transformer_bit.export.export_paths import check_new_export_path
from keras_transformer_bit.utils.gfile import is_remote, remove_tree


def write_directory_atomically(path, write):
    """Writes a directory with `write(staging)`, then renames it into `path`.

    An export never replaces or deletes what is at `path`: an existing path
    is refused (`check_new_export_path`: it names the next free version),
    before `write` runs and again just before the rename, in case another
    export wrote `path` meanwhile.

    The staging directory sits next to `path` (same file system), so the final
    rename is atomic: a reader (e.g. TF Serving polling a version directory)
    sees either no export or a complete one, and a failed export leaves
    nothing behind.

    On other file systems (`gs://`, `s3://`, `hdfs://`, `ram://`) directories
    cannot be renamed atomically (object stores copy every file), so `write`
    writes `path` itself through `tf.io.gfile`; a failed export removes what
    it wrote.
    """
    check_new_export_path(path)
    if is_remote(path):
        try:
            write(path)
        except BaseException:
            remove_tree(path)
            raise
        return
    path = os.path.abspath(path)
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
        check_new_export_path(path)
        os.rename(staging, path)  # fails rather than replace a new directory
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
