"""The shared German/English tokenizer of the translation benchmarks."""

import os

from keras_transformer_bit.data import (
    SentencePieceTokenizer,
    SubwordTokenizer,
    load_tokenizer,
)

# kind → (class, build options)
KINDS = {
    "wordpiece": (SubwordTokenizer, {}),
    "sentencepiece": (SentencePieceTokenizer, {"model_type": "unigram"}),
    "sentencepiece-bpe": (SentencePieceTokenizer, {"model_type": "bpe"}),
}


def load_or_build_tokenizer(corpus, directory, vocabulary_size, kind="wordpiece"):
    """Loads the tokenizer saved in `directory`, or builds it from `corpus.train`.

    Building a WordPiece vocabulary on Ding takes about a minute, so benchmarks
    that are run repeatedly keep it in `directory` (when given). `kind` is
    `"wordpiece"`, `"sentencepiece"` (unigram) or `"sentencepiece-bpe"`; a
    directory that holds another kind is refused rather than silently used.
    """
    if kind not in KINDS:
        raise ValueError(
            f"kind must be one of {sorted(KINDS)}. Received: kind={kind!r}"
        )
    cls, options = KINDS[kind]
    if directory and os.path.exists(directory):
        tokenizer = load_tokenizer(directory)
        model_type = options.get("model_type")
        if not isinstance(tokenizer, cls) or (
            model_type and tokenizer.model_type != model_type
        ):
            raise ValueError(
                f"{directory} holds a {type(tokenizer).__name__}, not the {kind} "
                "tokenizer asked for: pass another --tokenizer-dir."
            )
        return tokenizer
    tokenizer = cls.build(
        [sentence for pair in corpus.train for sentence in pair],
        vocabulary_size,
        **options,
    )
    if directory:
        tokenizer.save(directory)
    return tokenizer
