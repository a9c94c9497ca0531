"""The shared German/English tokenizer of the translation benchmarks."""

import os

from keras_transformer_bit.data import SubwordTokenizer


def load_or_build_tokenizer(corpus, directory, vocabulary_size):
    """Loads the tokenizer saved in `directory`, or builds it from `corpus.train`.

    Building a WordPiece vocabulary on Ding takes about a minute, so benchmarks
    that are run repeatedly keep it in `directory` (when given).
    """
    if directory and os.path.exists(directory):
        return SubwordTokenizer.load(directory)
    tokenizer = SubwordTokenizer.build(
        [sentence for pair in corpus.train for sentence in pair], vocabulary_size
    )
    if directory:
        tokenizer.save(directory)
    return tokenizer
