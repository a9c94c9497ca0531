"""`tf.io.gfile`, imported on first use, for every run-directory path.

Run directories may live on any file system TensorFlow knows: local disks,
`gs://` (GCS), `s3://` (with the tensorflow-io plugin), `hdfs://`, and the
in-memory `ram://` that the tests use. Plain `os`, `open` and `shutil` would
create a local directory named `gs:` instead. TensorFlow is imported on the
first call, so modules that only parse arguments (`ktb --help`) stay light.

Example:
>>> from keras_transformer_bit.utils.gfile import gfile, is_remote
>>> gfile.makedirs("ram://runs/demo")
>>> gfile.exists("ram://runs/demo"), is_remote("ram://runs/demo")
(True, True)
"""


class _LazyGfile:
    def __getattr__(self, name):
        import tensorflow as tf

        return getattr(tf.io.gfile, name)


gfile = _LazyGfile()


def is_remote(path):
    """Whether `path` names a file system other than the local one (`scheme://`)."""
    return "://" in str(path)


def remove_tree(path):
    """Deletes a directory tree if it exists (`shutil.rmtree(ignore_errors)`)."""
    if gfile.exists(path):
        gfile.rmtree(path)


def list_names(path):
    """The entries of a directory, without the trailing `/` some systems add."""
    return [name.rstrip("/") for name in gfile.listdir(path)]
