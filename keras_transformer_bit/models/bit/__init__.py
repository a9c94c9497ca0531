"""BiT (Kolesnikov et al. 2019): backbone, classifier, presets, official weights."""

from keras_transformer_bit.models.bit.bit_backbone import (  # noqa: F401
    BiTBackbone,
    count_parameters,
)
from keras_transformer_bit.models.bit.bit_checkpoint import (  # noqa: F401
    download_weights,
    load_bit_checkpoint,
    read_bit_checkpoint,
    save_bit_checkpoint,
)
from keras_transformer_bit.models.bit.bit_classifier import BiTClassifier  # noqa: F401
from keras_transformer_bit.models.bit.bit_presets import PRESETS  # noqa: F401
from keras_transformer_bit.models.bit.fold_weight_standardization import (  # noqa: F401
    fold_weight_standardization,
)
