"""Checks and message helpers shared by `TranslationRun` and `BiTRun`.

A run names a setting the way its caller does: by its keyword in Python,
by its flag under `ktb` (the CLI passes `names={"seed": "--seed", ...}`).
"""

import os

from keras_transformer_bit.layers.transformer_block_parts import (
    check_block_arguments,
)
from keras_transformer_bit.utils import check_positive_int
from keras_transformer_bit.utils.gfile import gfile


def describe_setting(key, value):
    """`max_length=16`: a setting in a message (the CLI names its flags).

    A model override (`"model_overrides.num_layers"`) is named by its own
    key; `None` there means the preset's value.

    Example:
    >>> describe_setting("model_overrides.dropout", None)
    "dropout=(the preset's)"
    """
    if key.startswith("model_overrides."):
        key = key.split(".", 1)[1]
        return f"{key}=(the preset's)" if value is None else f"{key}={value!r}"
    return f"{key}={value!r}"


def check_model_dir_not_a_file(model_dir, name="model_dir"):
    """Refuses a run directory that is a file (`name`: how to call it)."""
    if gfile.exists(model_dir) and not gfile.isdir(model_dir):
        raise ValueError(
            f"{name} {model_dir} is a file, not a directory: choose a directory "
            "for the run."
        )


def holds_training_state(model_dir):
    """Whether a run directory holds what a rerun resumes from: fit's backup
    or the multi-worker loop's checkpoints (the epochs trained so far)."""
    from keras_transformer_bit import distribute

    names = (distribute.BACKUP_DIRNAME, distribute.CHECKPOINT_DIRNAME)
    return any(gfile.exists(os.path.join(model_dir, name)) for name in names)


def check_positive_number(name, value, unit="", allow_none=False):
    """Refuses a `value` that is not a number > 0 (a bool, NaN, a string;
    `None` unless `allow_none`); `unit` follows the bound in the message
    (`" seconds"`)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be > 0{unit}. Received: {name}={value!r}")


def check_model_overrides(model_config, names):
    """Refuses model sizes a `Transformer` would refuse, naming them as the
    caller does, before any data is read (the layers' own check, with the
    caller's names).

    Args:
        model_config: dict. The preset's constructor arguments with the
            overrides applied.
        names: dict. How messages name the keys (absent: by key).
    """
    check_positive_int(
        names.get("num_layers", "num_layers"), model_config["num_layers"]
    )
    check_block_arguments(
        model_config["hidden_dim"],
        model_config["intermediate_dim"],
        model_config["num_heads"],
        model_config["dropout"],
        model_config.get("attention_dropout", 0.0),
        names=names,
    )


def smaller_vocabulary_note(setting, asked, sizes, slack=0.0):
    """The note a run prints on stderr when its vocabularies came out
    smaller than asked (a corpus with few words that repeat has no more
    subwords to give); `None` when they are within `slack` of the size.

    Args:
        setting: str. The size setting as the caller names it, with its
            value (`"--vocabulary-size 8000"`).
        asked: int. The size asked.
        sizes: list of int. The vocabularies built: one (shared) or the
            source's and the target's.
        slack: float. The share below `asked` that the tokenizer's learner
            may land at anyway.

    Example:
    >>> smaller_vocabulary_note("vocabulary_size=400", 400, [390], slack=0.05)
    >>> print(smaller_vocabulary_note("vocabulary_size=400", 400, [79]))
    ... # doctest: +ELLIPSIS
    Note: vocabulary_size=400, but this corpus gave 79 subwords: ...
    """
    if min(sizes) >= asked * (1 - slack):
        return None
    gave = (
        f"{sizes[0]}"
        if len(sizes) == 1
        else f"{sizes[0]} (source) and {sizes[1]} (target)"
    )
    return (
        f"Note: {setting}, but this corpus gave {gave} subwords: no more of "
        "its subwords repeat often enough to be kept. The model is sized to "
        "the vocabularies built; a larger corpus gives larger ones."
    )
