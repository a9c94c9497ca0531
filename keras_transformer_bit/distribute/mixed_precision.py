"""Mixed precision and XLA switches with checks of what works where.

`mixed_bfloat16` is the CPU choice (bfloat16 keeps float32's exponent range, no
loss scaling is needed); `mixed_float16` needs a GPU (and loss scaling, which
Keras and `CustomTrainingLoop` apply). Keeping softmax and logits in float32 is
the models' job: their last layers run with `dtype="float32"`.
"""

import keras
import tensorflow as tf

from keras_transformer_bit.distribute.get_strategy import is_distributed

PRECISIONS = ("auto", "mixed_bfloat16", "mixed_float16", "float32")


def _has_gpu():
    return bool(tf.config.list_physical_devices("GPU"))


def set_mixed_precision(precision="auto"):
    """Sets the global Keras dtype policy and returns its name.

    Call it before building the model.

    Args:
        precision: str. `"auto"` (`mixed_float16` with a GPU, else
            `mixed_bfloat16`), `"mixed_bfloat16"`, `"mixed_float16"` or
            `"float32"` (turns mixed precision off). Defaults to `"auto"`.

    Raises:
        ValueError: for an unknown name, or `mixed_float16` without a GPU.

    Example:
    >>> set_mixed_precision("mixed_bfloat16")
    'mixed_bfloat16'
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {PRECISIONS}. Received: precision={precision!r}"
        )
    if precision == "auto":
        precision = "mixed_float16" if _has_gpu() else "mixed_bfloat16"
    if precision == "mixed_float16" and not _has_gpu():
        raise ValueError(
            "mixed_float16 needs a GPU (float16 math on CPU is slow and "
            "unsupported by many kernels); use precision='mixed_bfloat16' on CPU. "
            f"Received: precision={precision!r} with no GPU visible"
        )
    keras.config.set_dtype_policy(precision)
    return precision


def resolve_jit_compile(jit_compile, strategy=None):
    """Decides whether to compile with XLA, refusing combinations that fail.

    XLA together with a `tf.distribute` strategy fails on CPU (the collective
    ops have no XLA CPU kernels), so `jit_compile=True` is refused there with a
    clear message and `"auto"` turns XLA off.

    Args:
        jit_compile: bool or `"auto"`. `"auto"` means XLA on GPU, off on CPU
            when a strategy is used.
        strategy: the `tf.distribute.Strategy` training will use, or None.

    Returns:
        bool.

    Raises:
        ValueError: for `jit_compile=True` with a strategy on a CPU-only machine.

    Example:
    >>> resolve_jit_compile("auto", tf.distribute.get_strategy())
    True
    """
    if jit_compile not in (True, False, "auto"):
        raise ValueError(
            "jit_compile must be True, False or 'auto'. "
            f"Received: jit_compile={jit_compile!r}"
        )
    distributed_on_cpu = (
        strategy is not None and is_distributed(strategy) and not _has_gpu()
    )
    if jit_compile == "auto":
        return not distributed_on_cpu
    if jit_compile and distributed_on_cpu:
        raise ValueError(
            "XLA (jit_compile=True) does not work with a tf.distribute strategy "
            f"on CPU ({type(strategy).__name__} with "
            f"{strategy.num_replicas_in_sync} replica(s)): the collective ops "
            "have no XLA CPU kernels. Use jit_compile=False (or 'auto'), or "
            "train on one device without a strategy. "
            f"Received: jit_compile={jit_compile!r}"
        )
    return bool(jit_compile)
