"""Data: corpora, tokenizers and tf.data pipelines for translation and images.

Translation. A corpus becomes a `ParallelCorpus` (train, validation and test
pairs of strings): `load_translation_corpus` takes the CLI's `--data` names,
or call a reader directly: `read_tsv_corpus` (one tab-separated pair a line),
`read_aligned_corpus` (two line-aligned files), `load_ding_de_en` (German to
English, Debian trans-de-en; `load_ding_phrases` reads its word and phrase
pairs, for extra training data), `load_sword_en_es` (Bible verses) and
`load_tfds_corpus` (TensorFlow Datasets). `SubwordTokenizer.build` learns a
WordPiece vocabulary from the training sentences, `SentencePieceTokenizer.build`
a reversible SentencePiece model (unigram or BPE), and `load_tokenizer` reads
back whichever kind a directory holds; `make_translation_dataset`
tokenizes pairs and batches them by length under a token budget for
`model.fit`; `padding_statistics` measures how much of those batches is
padding.

Images. A collection becomes `LabeledImages`: `load_image_folder` (one
subfolder per class), `load_fashion_mnist` (Debian dataset-fashion-mnist) or
`load_tfds_images`. `few_shot_indices` picks k examples per class,
`image_classification_pipeline` decodes, crops, flips and batches, and
`mixup` mixes a batch with a shuffled copy of itself.

Example:
>>> import keras_transformer_bit as ktb
>>> pairs = [(f"Ich habe {n} Katzen.", f"I have {n} cats.") for n in range(40)]
>>> corpus = ktb.data.ParallelCorpus.from_pairs(pairs, test_size=4, validation_size=4)
>>> len(corpus.test), len(corpus.validation)
(4, 4)
>>> tokenizer = ktb.data.SubwordTokenizer.build(
...     [source for source, _ in corpus.train], vocabulary_size=60
... )
"""

from keras_transformer_bit.data.ding_corpus import (
    load_ding_de_en,
    load_ding_lexicon,
    load_ding_phrases,
)
from keras_transformer_bit.data.fashion_mnist import load_fashion_mnist
from keras_transformer_bit.data.few_shot import few_shot_indices
from keras_transformer_bit.data.image_folder import load_image_folder
from keras_transformer_bit.data.image_pipeline import image_classification_pipeline
from keras_transformer_bit.data.labeled_images import LabeledImages
from keras_transformer_bit.data.load_lexicon import load_lexicon
from keras_transformer_bit.data.load_tokenizer import load_tokenizer
from keras_transformer_bit.data.load_translation_corpus import load_translation_corpus
from keras_transformer_bit.data.mixup import mixup
from keras_transformer_bit.data.parallel_corpus import ParallelCorpus
from keras_transformer_bit.data.pretrained_word_embeddings import (
    PretrainedWordEmbeddings,
)
from keras_transformer_bit.data.sentencepiece_tokenizer import SentencePieceTokenizer
from keras_transformer_bit.data.subword_tokenizer import SubwordTokenizer
from keras_transformer_bit.data.sword_corpus import load_sword_en_es
from keras_transformer_bit.data.text_file_corpus import (
    read_aligned_corpus,
    read_tsv_corpus,
)
from keras_transformer_bit.data.tfds_corpus import load_tfds_corpus
from keras_transformer_bit.data.tfds_images import load_tfds_images
from keras_transformer_bit.data.translation_pipeline import (
    make_translation_dataset,
    padding_statistics,
)

__all__ = [
    # Translation
    "ParallelCorpus",
    "load_translation_corpus",
    "read_tsv_corpus",
    "read_aligned_corpus",
    "load_ding_de_en",
    "load_ding_phrases",
    "load_ding_lexicon",
    "load_lexicon",
    "load_sword_en_es",
    "load_tfds_corpus",
    "SubwordTokenizer",
    "SentencePieceTokenizer",
    "load_tokenizer",
    "make_translation_dataset",
    "padding_statistics",
    "PretrainedWordEmbeddings",
    # Images
    "LabeledImages",
    "load_image_folder",
    "load_fashion_mnist",
    "load_tfds_images",
    "few_shot_indices",
    "image_classification_pipeline",
    "mixup",
]
