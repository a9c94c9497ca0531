"""Models: the Transformer for translation and BiT for image classification.

`Transformer` is the encoder-decoder of Vaswani et al. (2017): token ids in,
logits out, with `generate` for cached greedy, beam, top-k and top-p
decoding. `BiTBackbone` is the ResNet-v2 feature extractor of Big Transfer
(Kolesnikov et al. 2019) and `BiTClassifier` puts a zero-initialised head on
it. Each has `from_preset(name, **overrides)`; the BiT presets can load the
official `.npz` checkpoints. More BiT tools (checkpoint files, parameter
counts, weight-standardization folding) are in `models.bit`.

Example:
>>> import keras_transformer_bit as ktb
>>> model = ktb.models.Transformer.from_preset("transformer_tiny", vocabulary_size=100)
>>> model.count_params() > 0
True
"""

from keras_transformer_bit.models.bit import BiTBackbone, BiTClassifier
from keras_transformer_bit.models.transformer import Transformer

__all__ = ["Transformer", "BiTBackbone", "BiTClassifier"]
