"""Saving a model from every worker while only the chief's copy is kept."""

import os
import shutil
import tempfile

import tensorflow as tf

from keras_transformer_bit.distribute.get_strategy import is_chief_task


def save_model_on_chief(model, path, strategy=None):
    """Saves `model` to `path` on the chief; other workers save to scratch.

    Under `MultiWorkerMirroredStrategy` every worker must take part in saving
    (reading a distributed variable may need all of them), but only one copy
    belongs on the storage they share. The chief writes `path`; every other
    worker writes the same file into a private temporary directory and deletes
    it. Without multi-worker training this is a plain save.

    The save is atomic: the model goes to a temporary file beside `path`,
    which is renamed over `path` once complete, so a process killed while
    saving leaves the previous file (or none), never a truncated one.

    Args:
        model: a `keras.Model`.
        path: str. A `.keras` file, or a `.weights.h5` file for the weights
            only. Missing parent directories are created.
        strategy: the `tf.distribute.Strategy` the model was built under, or
            `None` (not distributed over workers).

    Returns:
        `path` on the chief, `None` on the other workers.

    Example:
    >>> save_model_on_chief(model, "runs/demo/model.keras", strategy)  # doctest: +SKIP
    'runs/demo/model.keras'
    """
    if not isinstance(path, str) or not path.endswith((".keras", ".weights.h5")):
        raise ValueError(
            f"path must be a .keras or .weights.h5 file. Received: path={path!r}"
        )
    scratch = None
    if strategy is not None and not is_chief_task(strategy):
        scratch = tempfile.mkdtemp(prefix="ktb_worker_save_")
        path = os.path.join(scratch, os.path.basename(path))
    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)  # local, gs://, s3://, hdfs://, ram://
    suffix = ".weights.h5" if path.endswith(".weights.h5") else ".keras"
    # Keras picks the format from the suffix, so the temporary name keeps it.
    temporary = f"{path[: -len(suffix)]}.tmp-{os.getpid()}{suffix}"
    try:
        if suffix == ".weights.h5":
            model.save_weights(temporary)
        else:
            model.save(temporary)
        tf.io.gfile.rename(temporary, path, overwrite=True)
        if not scratch:  # what a killed save (of another process) left
            pattern = f"{path[: -len(suffix)]}.tmp-*{suffix}"
            for stale in tf.io.gfile.glob(pattern):
                tf.io.gfile.remove(stale)
    except BaseException:
        if not scratch and tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
        raise
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return None if scratch else path
