"""Public layers: one per file. Add one import line per layer."""

from keras_transformer_bit.layers.bit_bottleneck_unit import BiTBottleneckUnit  # noqa: F401
from keras_transformer_bit.layers.group_normalization import (  # noqa: F401
    GroupNormalization,
)
from keras_transformer_bit.layers.multi_head_attention import (  # noqa: F401
    MultiHeadAttention,
)
from keras_transformer_bit.layers.position_embedding import (  # noqa: F401
    PositionEmbedding,
)
from keras_transformer_bit.layers.sine_position_encoding import (  # noqa: F401
    SinePositionEncoding,
)
from keras_transformer_bit.layers.standardized_conv2d import StandardizedConv2D  # noqa: F401
from keras_transformer_bit.layers.token_and_position_embedding import (  # noqa: F401
    TokenAndPositionEmbedding,
)
from keras_transformer_bit.layers.transformer_decoder_layer import (  # noqa: F401
    TransformerDecoderLayer,
)
from keras_transformer_bit.layers.transformer_encoder_layer import (  # noqa: F401
    TransformerEncoderLayer,
)
