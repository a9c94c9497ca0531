"""Refuses model directories that a training command cannot use safely."""

import os
import warnings

from keras_transformer_bit.distribute.tf_config import (
    num_training_tasks,
    read_tf_config,
)
from keras_transformer_bit.utils.gfile import gfile

# Each family's run directory holds its config file; the other family's
# commands must not write into it.
FAMILY_CONFIG_FILES = {
    "ktb bit train": "bit_config.json",
    "ktb translate train": "translate_config.json",
}


def check_model_dir(model_dir, strategy_name, command):
    """Checks `--model-dir` before a training command reads any data.

    - A directory holding another family's run (its config file) is refused:
      training would overwrite that run's `model.keras`.
    - `ram://` (TensorFlow's in-memory file system) lives only as long as the
      process: with `--strategy multi_worker` each worker would write its own
      copy, so it is refused; otherwise a warning says the run does not
      outlive this process (fine for tests and notebooks that stay in one
      process, not for a one-shot `ktb` command).

    Args:
        model_dir: str. The `--model-dir` value.
        strategy_name: str. The `--strategy` value (`"auto"` counts as
            `"multi_worker"` when `TF_CONFIG` lists several tasks).
        command: str. `"ktb bit train"` or `"ktb translate train"`.

    Raises:
        ValueError: for another family's run directory, or `ram://` with
            `--strategy multi_worker`.

    Example:
    >>> check_model_dir("runs/pets", "auto", "ktb bit train")
    """
    for other, config_file in FAMILY_CONFIG_FILES.items():
        path = os.path.join(model_dir, config_file)
        if other != command and gfile.exists(path):
            raise ValueError(
                f"--model-dir {model_dir} holds a run of `{other}` ({path}); "
                f"{command} would overwrite its model.keras. Choose a new "
                "--model-dir."
            )
    if not str(model_dir).startswith("ram://"):
        return
    if strategy_name == "auto":  # multi_worker when TF_CONFIG lists several tasks
        if num_training_tasks(read_tf_config()) > 1:
            strategy_name = "multi_worker"
    if strategy_name == "multi_worker":
        raise ValueError(
            f"--model-dir {model_dir} is in memory (ram://), which every process "
            "has its own copy of, so with --strategy multi_worker the workers "
            "would not share the run and nothing would remain after training. "
            "Use a directory all hosts see (a shared disk, gs://, s3://, hdfs://)."
        )
    warnings.warn(
        f"--model-dir {model_dir} is in memory (ram://): the run does not outlive "
        "this process, so a later ktb command (evaluate, export, resume) will "
        "not find it. Use a directory on disk (or gs://, s3://, hdfs://) to keep "
        "the run.",
        UserWarning,
        stacklevel=2,
    )
