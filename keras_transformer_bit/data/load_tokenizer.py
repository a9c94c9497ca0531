"""Reading back a saved tokenizer of either kind."""

import os

from keras_transformer_bit.data import sentencepiece_tokenizer, subword_tokenizer
from keras_transformer_bit.utils.gfile import gfile

# The "tokenizer" entry of tokenizer.json → the class that reads the directory.
# WordPiece directories written before the entry existed have vocabulary.txt.
TOKENIZER_KINDS = (subword_tokenizer.KIND, sentencepiece_tokenizer.KIND)


def load_tokenizer(directory):
    """Loads the tokenizer saved in `directory`, whichever kind it is.

    The `"tokenizer"` entry of `tokenizer.json` decides: `"sentencepiece"`
    (written by `SentencePieceTokenizer.save`, with `sentencepiece.model`) or
    `"wordpiece"` (written by `SubwordTokenizer.save`, with
    `vocabulary.txt`). Directories written before the entry existed are
    SentencePiece when they hold `sentencepiece.model`, else WordPiece.

    Args:
        directory: str. A directory written by a tokenizer's `save` (any file
            system `tf.io.gfile` knows).

    Returns:
        A `SentencePieceTokenizer` or a `SubwordTokenizer`.

    Raises:
        FileNotFoundError: the directory holds neither kind.
        ValueError: `tokenizer.json` is not valid JSON or names a kind this
            package does not know.

    Example:
    >>> tokenizer.save("ram://tokenizer")  # doctest: +SKIP
    >>> load_tokenizer("ram://tokenizer").vocabulary_size  # doctest: +SKIP
    6000
    """
    config_path = os.path.join(directory, sentencepiece_tokenizer.CONFIG_FILE)
    kind = subword_tokenizer.read_config(config_path).get("tokenizer")
    if kind is not None and kind not in TOKENIZER_KINDS:
        raise ValueError(
            f"{config_path} names an unknown tokenizer. Expected one of "
            f"{list(TOKENIZER_KINDS)}. Received: tokenizer={kind!r}"
        )
    model_path = os.path.join(directory, sentencepiece_tokenizer.MODEL_FILE)
    vocabulary_path = os.path.join(directory, subword_tokenizer.VOCABULARY_FILE)
    if kind == sentencepiece_tokenizer.KIND or (
        kind is None and gfile.exists(model_path)
    ):
        return sentencepiece_tokenizer.SentencePieceTokenizer.load(directory)
    if kind == subword_tokenizer.KIND or gfile.exists(vocabulary_path):
        return subword_tokenizer.SubwordTokenizer.load(directory)
    raise FileNotFoundError(
        f"No tokenizer found in {directory}. Expected {model_path} (SentencePiece) "
        f"or {vocabulary_path} (WordPiece), as written by a tokenizer's save()."
    )
