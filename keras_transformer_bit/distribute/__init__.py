"""Scale out: strategies, the multi-worker training loop, TF_CONFIG, speed switches.

Example:
>>> strategy = keras_transformer_bit.distribute.get_strategy("auto")
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
from keras_transformer_bit.distribute.local_cluster import LocalCluster  # noqa: F401
from keras_transformer_bit.distribute.mixed_precision import (  # noqa: F401
    resolve_jit_compile,
    set_mixed_precision,
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
