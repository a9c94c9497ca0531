import os

import keras
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.distribute import (
    get_strategy,
    resolve_jit_compile,
    set_mixed_precision,
)


def test_mixed_precision_on_cpu():
    assert set_mixed_precision("auto") == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    with pytest.raises(ValueError, match="mixed_float16 needs a GPU"):
        set_mixed_precision("mixed_float16")
    with pytest.raises(ValueError, match="precision must be one of"):
        set_mixed_precision("float8")
    assert set_mixed_precision("float32") == "float32"


def test_xla_refused_with_a_strategy_on_cpu():
    mirrored = get_strategy("mirrored")
    with pytest.raises(ValueError, match="XLA \\(jit_compile=True\\) does not work"):
        resolve_jit_compile(True, mirrored)
    assert resolve_jit_compile("auto", mirrored) is False
    assert resolve_jit_compile("auto", tf.distribute.get_strategy()) is True
    assert resolve_jit_compile(True, None) is True
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'"):
        resolve_jit_compile("yes", None)


def test_batch_and_learning_rate_scaling():
    mirrored = get_strategy("mirrored")
    assert ktb.distribute.global_batch_size(16, mirrored) == 32
    assert ktb.distribute.per_replica_batch_size(32, mirrored) == 16
    with pytest.raises(ValueError, match="divisible by the number of replicas \\(2\\)"):
        ktb.distribute.per_replica_batch_size(33, mirrored)
    scale = ktb.distribute.scale_learning_rate
    assert scale(0.003, 1024, 512) == pytest.approx(0.006)
    assert scale(1e-3, 2048, 512, rule="sqrt") == pytest.approx(2e-3)
    assert scale(1e-3, 2048, 512, rule="none") == 1e-3
    with pytest.raises(ValueError, match="rule must be one of"):
        scale(1e-3, 2048, 512, rule="cubic")
    losses = tf.constant([1.0, 2.0, 3.0])
    assert float(ktb.distribute.average_loss(losses, global_batch_size=6)) == 1.0


def test_training_callbacks_live_under_the_model_dir(tmp_path):
    backup, board = ktb.distribute.training_callbacks(str(tmp_path))
    assert isinstance(backup, ktb.distribute.AtomicBackupAndRestore)
    assert backup.backup_dir == os.path.join(str(tmp_path), "backup")
    assert isinstance(board, keras.callbacks.TensorBoard)
    assert board.log_dir == os.path.join(str(tmp_path), "logs")
    with pytest.raises(ValueError, match="model_dir must be a non-empty path"):
        ktb.distribute.training_callbacks("")
