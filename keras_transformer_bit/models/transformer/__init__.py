"""The Transformer (Vaswani et al. 2017): the model, its presets and generation.

`Transformer` is a functional Keras model from `{"encoder_inputs",
"decoder_inputs"}` token ids to next-token logits. `Transformer.from_preset`
builds one of the presets in `transformer_presets` (`transformer_tiny`,
`transformer_small`, `transformer_base`, `transformer_big`) with keyword
overrides. `Transformer.generate` decodes with a key/value cache, compiled
once per sampler and length (generation.py).

Example:
>>> import numpy as np
>>> import keras_transformer_bit as ktb
>>> model = ktb.models.Transformer.from_preset("transformer_tiny", vocabulary_size=100)
>>> ids = np.array([[5, 6, 7, 0]])
>>> tuple(model({"encoder_inputs": ids, "decoder_inputs": ids}).shape)
(1, 4, 100)
"""

from keras_transformer_bit.models.transformer.transformer import Transformer

__all__ = ["Transformer"]
