"""data."""

from keras_transformer_bit.data.fashion_mnist import load_fashion_mnist  # noqa: F401
from keras_transformer_bit.data.few_shot import few_shot_indices  # noqa: F401
from keras_transformer_bit.data.image_folder import load_image_folder  # noqa: F401
from keras_transformer_bit.data.image_pipeline import (  # noqa: F401
    image_classification_pipeline,
)
from keras_transformer_bit.data.labeled_images import LabeledImages  # noqa: F401
from keras_transformer_bit.data.mixup import mixup  # noqa: F401
from keras_transformer_bit.data.subword_tokenizer import SubwordTokenizer  # noqa: F401
from keras_transformer_bit.data.tfds_images import load_tfds_images  # noqa: F401
