"""export."""

from keras_transformer_bit.export.export_image_classifier import (  # noqa: F401
    export_image_classifier,
)
from keras_transformer_bit.export.export_translator import export_translator  # noqa: F401
