"""BiT, Big Transfer (Kolesnikov et al. 2019): models, presets and official weights.

`BiTBackbone` is the ResNet-v2 feature extractor with weight-standardized
convolutions and group normalization; `BiTClassifier` adds a zero-initialised
head. `PRESETS` maps each preset name (`bit_m_r50x1`, `bit_s_r101x3`, ...,
`bit_tiny`) to its constructor arguments, parameter count and official
weights file; `count_parameters` computes a configuration's size without
building it.

Official checkpoints: `download_weights` fetches a file once and checks its
SHA-256, `read_bit_checkpoint` reads an official `.npz`, `load_bit_checkpoint`
fills a model from one (checking every key and shape) and
`save_bit_checkpoint` writes one back. `fold_weight_standardization` returns
an inference copy with plain convolutions, for faster serving.

Example:
>>> import keras_transformer_bit as ktb
>>> clf = ktb.models.BiTClassifier.from_preset("bit_tiny", num_classes=10)
>>> ktb.models.bit.PRESETS["bit_m_r50x1"]["parameter_count"]
25549352
"""

from keras_transformer_bit.models.bit.bit_backbone import BiTBackbone, count_parameters
from keras_transformer_bit.models.bit.bit_checkpoint import (
    download_weights,
    load_bit_checkpoint,
    read_bit_checkpoint,
    save_bit_checkpoint,
)
from keras_transformer_bit.models.bit.bit_classifier import BiTClassifier
from keras_transformer_bit.models.bit.bit_presets import PRESETS
from keras_transformer_bit.models.bit.fold_weight_standardization import (
    fold_weight_standardization,
)

__all__ = [
    "BiTBackbone",
    "BiTClassifier",
    "PRESETS",
    "count_parameters",
    "download_weights",
    "read_bit_checkpoint",
    "load_bit_checkpoint",
    "save_bit_checkpoint",
    "fold_weight_standardization",
]
