"""Layers: the building blocks of the Transformer and of BiT, one per file.

Transformer (Vaswani et al. 2017): `MultiHeadAttention` (Keras' layer with a
key/value cache for generation), `TransformerEncoderLayer`,
`TransformerDecoderLayer`, `TokenAndPositionEmbedding`, and the two position
signals it can add, `SinePositionEncoding` (fixed) and `PositionEmbedding`
(learned).

BiT (Kolesnikov et al. 2019): `StandardizedConv2D` (weight standardization),
`GroupNormalization` (Keras' layer, computed faster channels-last) and
`BiTBottleneckUnit`, the pre-activation ResNet-v2 unit built from them.

Every layer uses `keras.ops` only, serializes with `get_config` and reloads
from a `.keras` file.

Example:
>>> import keras
>>> import keras_transformer_bit as ktb
>>> layer = ktb.layers.TransformerEncoderLayer(16, intermediate_dim=32, num_heads=2)
>>> tuple(layer(keras.ops.zeros((2, 5, 16))).shape)
(2, 5, 16)
"""

from keras_transformer_bit.layers.bit_bottleneck_unit import BiTBottleneckUnit
from keras_transformer_bit.layers.group_normalization import GroupNormalization
from keras_transformer_bit.layers.multi_head_attention import MultiHeadAttention
from keras_transformer_bit.layers.position_embedding import PositionEmbedding
from keras_transformer_bit.layers.sine_position_encoding import SinePositionEncoding
from keras_transformer_bit.layers.standardized_conv2d import StandardizedConv2D
from keras_transformer_bit.layers.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)
from keras_transformer_bit.layers.transformer_decoder_layer import (
    TransformerDecoderLayer,
)
from keras_transformer_bit.layers.transformer_encoder_layer import (
    TransformerEncoderLayer,
)

__all__ = [
    # Transformer
    "MultiHeadAttention",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TokenAndPositionEmbedding",
    "SinePositionEncoding",
    "PositionEmbedding",
    # BiT
    "StandardizedConv2D",
    "GroupNormalization",
    "BiTBottleneckUnit",
]
