"""data."""

from keras_transformer_bit.data.ding_corpus import load_ding_de_en  # noqa: F401
from keras_transformer_bit.data.fashion_mnist import load_fashion_mnist  # noqa: F401
from keras_transformer_bit.data.few_shot import few_shot_indices  # noqa: F401
from keras_transformer_bit.data.image_folder import load_image_folder  # noqa: F401
from keras_transformer_bit.data.image_pipeline import (  # noqa: F401
    image_classification_pipeline,
)
from keras_transformer_bit.data.labeled_images import LabeledImages  # noqa: F401
from keras_transformer_bit.data.load_translation_corpus import (  # noqa: F401
    load_translation_corpus,
)
from keras_transformer_bit.data.mixup import mixup  # noqa: F401
from keras_transformer_bit.data.parallel_corpus import ParallelCorpus  # noqa: F401
from keras_transformer_bit.data.subword_tokenizer import SubwordTokenizer  # noqa: F401
from keras_transformer_bit.data.sword_corpus import load_sword_en_es  # noqa: F401
from keras_transformer_bit.data.text_file_corpus import (  # noqa: F401
    read_aligned_corpus,
    read_tsv_corpus,
)
from keras_transformer_bit.data.tfds_corpus import load_tfds_corpus  # noqa: F401
from keras_transformer_bit.data.tfds_images import load_tfds_images  # noqa: F401
from keras_transformer_bit.data.translation_pipeline import (  # noqa: F401
    make_translation_dataset,
    padding_statistics,
)
