"""Export: SavedModels for TF Serving, with the preprocessing inside.

`export_translator` writes a `Translator` (tokenizers, model and decoding
loop) as a SavedModel whose `serving_default` maps a batch of strings to a
batch of translations. `export_image_classifier` writes a classifier whose
`serving_default` takes encoded image bytes (JPEG, PNG, ...) and returns
logits. Both write into a staging directory and rename it when complete, so
TF Serving never loads a half-written version (docs/serving.md), and neither
ever replaces what is at its path: `check_new_export_path` refuses an
existing path (naming the next free version) and `next_version_path(base)`
gives the next numbered version under a TF Serving base path.

Example:
>>> import keras_transformer_bit as ktb
>>> ktb.export.export_translator(translator, "models/translator/1")  # doctest: +SKIP
>>> ktb.export.export_image_classifier(classifier, "models/bit/1")  # doctest: +SKIP
"""

from keras_transformer_bit.export.export_image_classifier import (
    export_image_classifier,
)
from keras_transformer_bit.export.export_paths import (
    check_new_export_path,
    next_version_path,
)
from keras_transformer_bit.export.export_translator import export_translator

__all__ = [
    "export_translator",
    "export_image_classifier",
    "check_new_export_path",
    "next_version_path",
]
