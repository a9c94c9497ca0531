"""Scale out: strategies, the multi-worker training loop, TF_CONFIG, speed switches.

Strategies. `get_strategy(name)` returns a `tf.distribute.Strategy` for one
of `STRATEGY_NAMES` (`"auto"`, `"one_device"`, `"mirrored"`,
`"multi_worker"`); `describe_strategy`, `is_distributed`, `is_multi_worker`
and `is_chief_task` describe it. Keras `fit` does not run under
MultiWorkerMirroredStrategy (keras-team/keras#20585):
`needs_custom_training_loop` says when to train with `CustomTrainingLoop`
instead (`strategy.run`, losses averaged over the global batch, chief-only
checkpoints under `CHECKPOINT_DIRNAME`), and `check_strategy_supports_fit`
refuses that strategy where only `fit` is available.

Batches and losses. `global_batch_size`, `per_replica_batch_size`,
`scale_learning_rate`, `average_loss` and `sum_over_replicas` keep a step
the same whatever the number of replicas.

Clusters. `make_tf_config`, `read_tf_config`, `validate_tf_config`,
`is_chief` and `free_ports` handle TF_CONFIG; `LocalCluster` runs a cluster
of worker processes on one machine (tests, rehearsals). A lost worker raises
`ClusterError`, and the `ktb` commands then exit with
`WORKER_FAILURE_EXIT_CODE` (75), the status a scheduler restarts on.

Surviving crashes. `training_callbacks(model_dir)` returns TensorBoard and
`AtomicBackupAndRestore` (a backup under `BACKUP_DIRNAME` that a kill during
a save cannot corrupt); `save_model_on_chief` saves where only the chief may
write; `model_signature` and `check_same_model` refuse to restore a run
directory written by a different model. `InterruptBetweenSteps` makes
Ctrl-C stop training between two steps (inside one, TensorFlow can turn it
into a `SystemError` or swallow it). `set_mixed_precision` and
`resolve_jit_compile` pick the speed switches a device supports, and
`GradientAccumulation` splits each batch into parts that fit in memory (one
optimizer update per batch, under every strategy).

Example:
>>> import keras_transformer_bit as ktb
>>> strategy = ktb.distribute.get_strategy("auto")
>>> ktb.distribute.global_batch_size(32, strategy) >= 32
True
"""

from keras_transformer_bit.distribute.atomic_backup_and_restore import (  # noqa: F401
    AtomicBackupAndRestore,
)
from keras_transformer_bit.distribute.batch_scaling import (  # noqa: F401
    average_loss,
    global_batch_size,
    per_replica_batch_size,
    scale_learning_rate,
)
from keras_transformer_bit.distribute.cluster_error import (  # noqa: F401
    WORKER_FAILURE_EXIT_CODE,
    ClusterError,
)
from keras_transformer_bit.distribute.custom_training_loop import (  # noqa: F401
    CHECKPOINT_DIRNAME,
    CustomTrainingLoop,
)
from keras_transformer_bit.distribute.get_strategy import (  # noqa: F401
    STRATEGY_NAMES,
    check_strategy_supports_fit,
    describe_strategy,
    get_strategy,
    is_chief_task,
    is_distributed,
    is_multi_worker,
    needs_custom_training_loop,
)
from keras_transformer_bit.distribute.gradient_accumulation import (  # noqa: F401
    GradientAccumulation,
)
from keras_transformer_bit.distribute.interrupt_between_steps import (  # noqa: F401
    InterruptBetweenSteps,
)
from keras_transformer_bit.distribute.local_cluster import LocalCluster  # noqa: F401
from keras_transformer_bit.distribute.mixed_precision import (  # noqa: F401
    resolve_jit_compile,
    set_mixed_precision,
)
from keras_transformer_bit.distribute.model_signature import (  # noqa: F401
    check_same_model,
    model_signature,
)
from keras_transformer_bit.distribute.save_model_on_chief import (  # noqa: F401
    save_model_on_chief,
)
from keras_transformer_bit.distribute.sum_over_replicas import (  # noqa: F401
    sum_over_replicas,
)
from keras_transformer_bit.distribute.tf_config import (  # noqa: F401
    free_ports,
    is_chief,
    make_tf_config,
    read_tf_config,
    validate_tf_config,
)
from keras_transformer_bit.distribute.training_callbacks import (  # noqa: F401
    BACKUP_DIRNAME,
    training_callbacks,
)
from keras_transformer_bit.distribute.wait_for_chief import (  # noqa: F401
    wait_for_chief,
)

__all__ = [
    "get_strategy",
    "STRATEGY_NAMES",
    "describe_strategy",
    "is_distributed",
    "is_multi_worker",
    "is_chief_task",
    "needs_custom_training_loop",
    "check_strategy_supports_fit",
    "CustomTrainingLoop",
    "CHECKPOINT_DIRNAME",
    "global_batch_size",
    "per_replica_batch_size",
    "scale_learning_rate",
    "average_loss",
    "sum_over_replicas",
    "make_tf_config",
    "read_tf_config",
    "validate_tf_config",
    "is_chief",
    "free_ports",
    "LocalCluster",
    "ClusterError",
    "WORKER_FAILURE_EXIT_CODE",
    "training_callbacks",
    "AtomicBackupAndRestore",
    "BACKUP_DIRNAME",
    "save_model_on_chief",
    "wait_for_chief",
    "model_signature",
    "check_same_model",
    "set_mixed_precision",
    "resolve_jit_compile",
    "GradientAccumulation",
    "InterruptBetweenSteps",
]
