"""A WordPiece subword tokenizer built from a corpus with tensorflow-text."""

import hashlib
import json
import os
import warnings

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer
from tensorflow_text.tools.wordpiece_vocab import (
    wordpiece_tokenizer_learner_lib as learner,
)

from keras_transformer_bit.utils import (
    SettingError,
    check_positive_int,
    write_text_atomically,
)
from keras_transformer_bit.utils.gfile import gfile

RESERVED_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]")
NORMALIZATION_FORMS = (None, "NFC", "NFKC", "NFD", "NFKD")
VOCABULARY_FILE = "vocabulary.txt"
CONFIG_FILE = "tokenizer.json"
# The value of "tokenizer" in tokenizer.json, which `load_tokenizer` reads.
KIND = "wordpiece"
# What `SentencePieceTokenizer.save` writes; `save` removes it, so that a
# directory never holds two tokenizers.
SENTENCEPIECE_MODEL_FILE = "sentencepiece.model"
# Longer words are [UNK] (tensorflow-text's default of 100 bytes lost long
# compounds and numbers).
MAX_BYTES_PER_WORD = 1000

# Symbols (emoji, currency, maths) are not punctuation to WordPiece's
# pre-tokenizer, so "great😀" was one word, unknown as a whole, and vanished.
# Split off, only the symbol is unknown.
_SPLIT_OFF = (r"([\p{S}\p{Co}])", r" \1 ")
# Invisible characters (format characters such as the soft hyphen, word
# joiner and byte order mark; variation selectors; fillers) are dropped, as
# `comparison_key` ignores them: "Zeit\u00adung" is "Zeitung", not "Zeit
# [UNK] ung". The zero-width space, a word break, becomes a space.
_INVISIBLE = (
    r"[\p{Cf}\x{034F}\x{115F}\x{1160}\x{17B4}\x{17B5}\x{180B}-\x{180F}"
    r"\x{3164}\x{FE00}-\x{FE0F}\x{FFA0}\x{E0100}-\x{E01EF}]"
)

# Characters every built vocabulary can spell, whether or not the corpus had
# them: printable ASCII, Latin-1 and common typographic punctuation. A word of
# these characters is never [UNK] (at worst it is spelled letter by letter).
BASE_ALPHABET = (
    "".join(chr(code) for code in range(0x21, 0x7F))
    + "".join(chr(code) for code in range(0xA1, 0x100) if code != 0xAD)
    + "‐‑‒–—―‘’‚‛“”„‟‹›…•·′″‰†‡€™№"
)

# WordPiece splits punctuation off words and forgets the spaces, so a plain
# join gives "here ." and "don ' t". These rewrites restore the spacing most
# common in the Ding corpus (where both occur, the majority wins: "a/b" over
# "a / b", "wait …" over "wait…"). sacreBLEU scores detokenized text. Applied
# in order; a rule is repeated where one match may hide the next ("a - b - c").
_WORD = r"[\p{L}\p{N}]"
PUNCTUATION_REWRITES = (
    # A suffix piece a model emits first (or after a space) keeps its "##".
    (r"(^| )##", r"\1"),
    # No space before closing punctuation, none after opening punctuation.
    (r" ([.,!?;:%)\]}»])", r"\1"),
    (r"([(\[{«¿¡„‚]) ", r"\1"),
    # Currency signs before amounts: "$60", "£5".
    (r"([$£]) (\p{Nd})", r"\1\2"),
    # Initials: "6 a.m.", "A.D.", "e.g.".
    (r"(^|[ (])(\p{L})\. (\p{L})\.", r"\1\2.\3."),
    # Numbers keep their separators: "1,000.50", "1.000,50", "10:30".
    # (A comma only before two digits or more: "6, 7" is more likely a list.)
    (r"(\p{Nd})([.:]) (\p{Nd})", r"\1\2\3"),
    (r"(\p{Nd})([.:]) (\p{Nd})", r"\1\2\3"),
    (r"(\p{Nd}), (\p{Nd}\p{Nd})", r"\1,\2"),
    # A hyphen that stands for a suspended word: "Hin- und Her", "pre- or".
    (
        r"(\p{L}) - ((?:und|oder|bzw|sowie|bis|zum|zur|and|or|nor|to)(?: [^-]|$))",
        r"\1- \2",
    ),
    # Hyphens and slashes inside words: "well-known", "gut/schlecht".
    (r"(" + _WORD + r") ([-/]) (" + _WORD + r")", r"\1\2\3"),
    (r"(" + _WORD + r") ([-/]) (" + _WORD + r")", r"\1\2\3"),
    # E-mail addresses and the scheme and host of URLs:
    # "name@example.co.uk", "https://example.org".
    (r"(" + _WORD + r") @ (" + _WORD + r")", r"\1@\2"),
    (r"(?i:(https?|ftp)): / / ", r"\1://"),
    (r"((?:@|://)[\p{L}\p{N}.-]+)\. (" + _WORD + r")", r"\1.\2"),
    (r"((?:@|://)[\p{L}\p{N}.-]+)\. (" + _WORD + r")", r"\1.\2"),
    # Apostrophes of clitics: "don't", "it’s", "we'll", "geht’s", "o’clock".
    (
        r"(" + _WORD + r") (['’]) ((?i:s|t|m|d|re|ve|ll|clock))( |$|[^\p{L}\p{N}])",
        r"\1\2\3\4",
    ),
    # Quotation marks hug what they quote: "x", „x“, “x”, 'x', ‚x‘, ‘x’.
    (r'" (.*?) "', r'"\1"'),
    (r"„(.*?) “", r"„\1“"),
    (r"“ (.*?) ”", r"“\1”"),
    (r"‚(.*?) ‘", r"‚\1‘"),
    (r"‘ (.*?) ’", r"‘\1’"),
    (r"(^| )' (.*?) '", r"\1'\2'"),
    # A lone apostrophe left over ends a word: "the Grimms’ tales".
    (r"(" + _WORD + r") (['’])( |$)", r"\1\2\3"),
    (r"^ +| +$", r""),
)


def _count_capturing_groups(pattern):
    """Counts the capturing groups of an RE2 pattern."""
    count, index, in_class = 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern[index + 1 : index + 2] == "^":
                index += 1
            if pattern[index + 1 : index + 2] == "]":  # "[]...]" holds a "]"
                index += 1
        elif char == "(":
            if not pattern.startswith("?", index + 1) or pattern.startswith(
                ("?P<", "?<"), index + 1
            ):
                count += 1
        index += 1
    return count


def check_rewrite(pattern, rewrite):
    r"""Raises unless RE2 accepts `rewrite` as the rewrite of `pattern`.

    RE2 (behind `tf.strings.regex_replace`) knows only `\0`-`\9` and `\\` after
    a backslash. Given any other escape, such as `\"`, it logs `invalid rewrite
    pattern` to the C++ stderr and leaves the match out of the result; given a
    group the pattern lacks, it silently replaces nothing. Neither stops the
    program, so every rewrite of the detokenizer is checked on import.

    Args:
        pattern: str. An RE2 regular expression.
        rewrite: str. Its replacement.

    Raises:
        ValueError: naming the rewrite and what RE2 expects.

    Example:
    >>> check_rewrite(r"(a)(b)", r"\2\1")
    >>> check_rewrite(r"(a)", r"\"\1\"")
    Traceback (most recent call last):
    ...
    ValueError: RE2 refuses the rewrite '\\"\\1\\"' of pattern '(a)': \" is not ...
    """
    groups = _count_capturing_groups(pattern)
    index = 0
    while index < len(rewrite):
        if rewrite[index] == "\\":
            escaped = rewrite[index + 1 : index + 2]
            if escaped.isdigit() and int(escaped) > groups:
                problem = f"the pattern has no group {escaped} (it has {groups})"
            elif not escaped.isdigit() and escaped != "\\":
                problem = (
                    f"\\{escaped} is not a rewrite escape; only \\0-\\9 and "
                    "\\\\ are (write other characters as themselves)"
                )
            else:
                index += 2
                continue
            raise ValueError(
                f"RE2 refuses the rewrite {rewrite!r} of pattern {pattern!r}: "
                f"{problem}."
            )
        index += 1


for _pattern, _rewrite in PUNCTUATION_REWRITES:
    check_rewrite(_pattern, _rewrite)


def check_texts(texts):
    """Raises unless `texts` is an iterable of sentences (not one string)."""
    if isinstance(texts, (str, bytes)) or (
        isinstance(texts, tf.Tensor) and texts.shape.rank == 0
    ):
        raise TypeError(
            "texts must be an iterable of sentences, not one string (a string "
            "is an iterable of characters). Wrap it in a list. Received: texts "
            f"of type {type(texts).__name__}"
        )


def check_strings(strings):
    """`strings` as a string tensor of rank 1, or an error that says so.

    A `tf.function` with an input signature says only "Binding inputs to
    tf.function failed" when given one sentence, a 2-D batch or numbers.
    """
    expected = "strings must be a 1-D batch of strings (wrap one sentence in a list)."
    if strings is None or isinstance(strings, tf.RaggedTensor):
        raise TypeError(f"{expected} Received: {strings!r}")
    try:
        strings = tf.convert_to_tensor(strings)
    except (TypeError, ValueError):
        raise TypeError(
            f"{expected} Received: a value of type {type(strings).__name__}"
        ) from None
    if strings.dtype != tf.string:
        raise TypeError(f"{expected} Received: dtype {strings.dtype.name}")
    if strings.shape.rank is not None and strings.shape.rank != 1:
        raise ValueError(f"{expected} Received: shape {tuple(strings.shape.as_list())}")
    return strings


def check_token_ids(token_ids):
    """`token_ids` (a tensor or ragged tensor) checked to be integer `(N, T)`."""
    if not isinstance(token_ids, tf.RaggedTensor):
        token_ids = tf.convert_to_tensor(token_ids)
    if not token_ids.dtype.is_integer:
        raise TypeError(
            f"token_ids must be integer ids. Received: dtype {token_ids.dtype.name}"
        )
    if token_ids.shape.rank is not None and token_ids.shape.rank != 2:
        raise ValueError(
            "token_ids must have shape (N, T): a batch of id sequences. "
            f"Received: shape {tuple(token_ids.shape.as_list())}"
        )
    return token_ids


def spelled_ids(token_ids, vocabulary_size):
    """The ids a detokenizer spells: ragged int64 `(N, None)`.

    Everything from the first `[END]` on is dropped, as are the reserved ids
    and ids outside the vocabulary. Checked in int64: cast to int32 first,
    2**32 + 29 would be id 29.
    """
    if isinstance(token_ids, tf.RaggedTensor):
        token_ids = token_ids.to_tensor(default_value=RESERVED_TOKENS.index("[PAD]"))
    token_ids = tf.cast(token_ids, tf.int64)
    is_end = tf.equal(token_ids, RESERVED_TOKENS.index("[END]"))
    before_end = tf.equal(tf.cumsum(tf.cast(is_end, tf.int32), axis=1), 0)
    in_vocabulary = tf.logical_and(
        token_ids >= len(RESERVED_TOKENS), token_ids < vocabulary_size
    )
    return tf.ragged.boolean_mask(token_ids, tf.logical_and(before_end, in_vocabulary))


class TokenizerBase:
    """What both tokenizers share (a mixin of their `tf.Module`).

    A subclass keeps its tokens in `_vocabulary` and defines the traced
    `_tokenize(strings)` and `_detokenize(token_ids)`. `tokenize` and
    `detokenize` check their input in Python, then call those; a SavedModel
    of the tokenizer serves the traced functions under the public names.
    """

    @property
    def vocabulary(self):
        return list(self._vocabulary)

    @property
    def vocabulary_size(self):
        return len(self._vocabulary)

    @property
    def fingerprint(self):
        """16 hex digits of the SHA-256 of what turns text into ids.

        The vocabulary in id order, the text settings (`get_config()`: case,
        Unicode form) and, for a SentencePiece tokenizer, its model. Two
        tokenizers with the same fingerprint give the same text the same ids.
        A model built for a tokenizer records it
        (`Transformer(vocabulary_fingerprints=...)`, which
        `ktb.training.TranslationRun` fills in), and `ktb.Translator` refuses
        a tokenizer whose fingerprint differs.

        Example:
        >>> a = SubwordTokenizer(["[PAD]", "[UNK]", "[START]", "[END]", "a"])
        >>> b = SubwordTokenizer(["[PAD]", "[UNK]", "[START]", "[END]", "b"])
        >>> len(a.fingerprint), a.fingerprint == b.fingerprint
        (16, False)
        """
        parts = {
            "kind": type(self).__name__,
            "config": self.get_config(),
            "vocabulary": [str(token) for token in self._vocabulary],
            **self._fingerprint_parts(),
        }
        text = json.dumps(parts, sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _fingerprint_parts(self):
        """What else decides the ids, as JSON-ready values (subclasses)."""
        return {}

    def tokenize(self, strings):
        """Splits strings into token ids.

        Works eagerly, in `tf.data` and inside `tf.function`s; a SavedModel of
        the tokenizer holds it as `tokenize`.

        Args:
            strings: string tensor (or list of str) of shape `(N,)`; wrap one
                sentence in a list.

        Returns:
            `tf.RaggedTensor` of int64 ids, shape `(N, None)`; no start or end
            tokens are added.

        Raises:
            TypeError: `strings` are not strings.
            ValueError: `strings` are not a 1-D batch.
        """
        return self._tokenize(check_strings(strings))

    def detokenize(self, token_ids):
        """Turns ids back into text.

        Everything from the first `[END]` on is dropped, as are the other
        reserved tokens (padding, `[UNK]`, `[START]`) and ids outside the
        vocabulary (negative or at least `vocabulary_size`), which a model may
        emit but no tokenizer can spell.

        Args:
            token_ids: int tensor or `tf.RaggedTensor` of shape `(N, T)`.

        Returns:
            string tensor of shape `(N,)`.

        Raises:
            TypeError: the ids are not integers.
            ValueError: the ids are not of shape `(N, T)`.
        """
        return self._detokenize(check_token_ids(token_ids))

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "savedmodel":
            children["tokenize"] = self._tokenize
            children["detokenize"] = self._detokenize
        return children


def check_ids_in_range(token_ids, vocabulary_size):
    """`token_ids` as an int64 tensor, or an error naming the first id outside
    `[0, vocabulary_size)` (tensorflow-text's ops crash on such ids)."""
    token_ids = tf.convert_to_tensor(token_ids)
    if not token_ids.dtype.is_integer:
        raise TypeError(
            f"token_ids must be integer ids. Received: dtype {token_ids.dtype.name}"
        )
    token_ids = tf.cast(token_ids, tf.int64)
    expected = f"token_ids must be in [0, {vocabulary_size})"
    if tf.executing_eagerly():
        values = token_ids.numpy()
        outside = np.argwhere((values < 0) | (values >= vocabulary_size))
        if outside.size:
            index = tuple(int(i) for i in outside[0])
            position = ", ".join(str(i) for i in index)
            raise ValueError(
                f"{expected}, the ids of the vocabulary. Received: "
                f"token_ids[{position}]={values[index]}"
            )
        return token_ids
    checks = [
        tf.debugging.assert_non_negative(token_ids, message=expected),
        tf.debugging.assert_less(
            token_ids, tf.constant(vocabulary_size, tf.int64), message=expected
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(token_ids)


def read_config(path):
    """The dict in the `tokenizer.json` at `path` ({} when there is none)."""
    if not gfile.exists(path):
        return {}
    with gfile.GFile(path, "r") as file:
        text = file.read()
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); it should be the "
            "tokenizer.json that a tokenizer's save() writes."
        ) from None
    if not isinstance(config, dict):
        raise ValueError(
            f"{path} must hold a JSON object. Received: {type(config).__name__}"
        )
    return config


def remove_if_present(path):
    if gfile.exists(path):
        gfile.remove(path)


# The WordPiece learner lands this share below the vocabulary size asked, or
# closer (a vocabulary further below means the corpus has no more subwords).
SIZE_SLACK = 0.05


def _learner_params(vocabulary_size):
    return learner.Params(
        upper_thresh=None,
        lower_thresh=1,
        num_iterations=4,
        max_input_tokens=int(5e6),
        max_token_length=50,
        max_unique_chars=1000,
        vocab_size=vocabulary_size,
        slack_ratio=SIZE_SLACK,
        include_joiner_token=True,
        joiner="##",
        reserved_tokens=list(RESERVED_TOKENS),
    )


def _learner_words(word_counts):
    """The `(word, count)` list the WordPiece learner chooses subwords from."""
    params = _learner_params(1)
    words = learner.get_input_words(
        list(word_counts.items()), params.reserved_tokens, params.max_token_length
    )
    return learner.filter_input_words(
        words,
        learner.get_allowed_chars(words, params.max_unique_chars),
        params.max_input_tokens,
    )


def _smallest_vocabulary_size(words):
    """The reserved tokens plus a token and a `##` suffix token for each
    character of `words` (`(word, count)` pairs): the learner keeps them all,
    so no WordPiece vocabulary of these words is smaller."""
    return len(RESERVED_TOKENS) + 2 * len(learner.extract_char_tokens(words))


def _learn_wordpiece(words, vocabulary_size, min_count, max_calls=8):
    """tensorflow-text's WordPiece learner with a faster threshold search.

    `bert_vocab_from_dataset` bisects the subword count threshold between
    `min_count` and the top word count, re-learning the vocabulary at every
    step (minutes for 20k sentence pairs on a CPU). The vocabulary size falls
    roughly as 1 / threshold, so stepping by that ratio (then bisecting in log
    space once the target is bracketed) needs a handful of steps instead.
    `words` are `_learner_words`.
    """
    params = _learner_params(vocabulary_size)._replace(lower_thresh=min_count)
    lowest_size = vocabulary_size * (1 - params.slack_ratio)
    total = sum(count for _, count in words)
    threshold = max(min_count, total // vocabulary_size)
    too_big, too_small = {}, {}  # threshold -> vocabulary
    for _ in range(max_calls):
        vocabulary = learner.learn_with_thresh(words, threshold, params)
        if lowest_size <= len(vocabulary) <= vocabulary_size:
            return vocabulary
        (too_big if len(vocabulary) > vocabulary_size else too_small)[threshold] = (
            vocabulary
        )
        low = max(too_big, default=None)  # highest threshold still too big
        high = min(too_small, default=None)  # lowest threshold too small
        if low is not None and high is not None:
            if high - low <= 1:
                break
            threshold = max(low + 1, min(high - 1, round((low * high) ** 0.5)))
        elif low is not None:
            threshold = max(low + 1, round(low * len(vocabulary) / vocabulary_size))
        else:
            if high <= min_count:
                break
            threshold = max(
                min_count,
                min(high - 1, round(high * len(vocabulary) / vocabulary_size)),
            )
    if too_small:
        return too_small[min(too_small)]
    # Every threshold tried left subwords beyond the size: the characters
    # alone fit (`build` refuses sizes below `_smallest_vocabulary_size`).
    # A subword such as "##er" recurs across words, so no count of a word
    # bounds its count; the corpus' number of characters does.
    characters = sum(count * len(word) for word, count in words)
    return learner.learn_with_thresh(words, characters + 1, params)


def _normalize(strings, lower_case, normalization_form):
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    # Invalid UTF-8 becomes U+FFFD, as in SentencePiece (the normalisers below
    # would drop it silently).
    strings = tf.strings.unicode_transcode(
        strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
    )
    # A zero-width space marks a word break (Thai, Khmer): a space.
    strings = tf.strings.regex_replace(strings, "\u200b", " ")
    strings = tf.strings.regex_replace(strings, _INVISIBLE, "")
    if lower_case:
        # case_fold_utf8 also applies NFKC; an explicit form is applied after it.
        strings = tf_text.case_fold_utf8(strings)
    if normalization_form is not None:
        strings = tf_text.normalize_utf8(strings, normalization_form)
    return strings


def _split_off_symbols(strings):
    return tf.strings.regex_replace(strings, *_SPLIT_OFF)


def _base_tokens(lower_case, normalization_form):
    """The tokens that spell every character of `BASE_ALPHABET`."""
    normalized = _normalize([BASE_ALPHABET], lower_case, normalization_form)
    characters = dict.fromkeys(normalized.numpy()[0].decode())  # ordered, unique
    tokens = []
    for character in characters:
        tokens.append(character)
        if character.isalnum():  # punctuation and symbols always stand alone
            tokens.append("##" + character)
    return tokens


def _too_small_message(name, vocabulary_size, smallest):
    characters = (smallest - len(RESERVED_TOKENS)) // 2
    return (
        f"{name('vocabulary_size')}={vocabulary_size} is smaller than this corpus "
        f"needs: use at least {smallest}, the {len(RESERVED_TOKENS)} reserved "
        f"tokens and 2 for each of its {characters} characters (the character "
        "and its ## suffix form), which spell every word in characters; "
        "subwords need more."
    )


class SubwordTokenizer(TokenizerBase, tf.Module):
    """WordPiece tokenizer with reserved tokens, traceable into a SavedModel.

    Text is Unicode-normalised (optionally lower-cased), split on whitespace,
    punctuation and symbols (emoji, currency signs), and cut into subwords with
    `tensorflow_text.FastWordpieceTokenizer`. The first four ids are reserved:
    `[PAD]`=0, `[UNK]`=1, `[START]`=2, `[END]`=3. `tokenize` and `detokenize` use
    only TensorFlow and tensorflow-text ops, so they trace into `tf.function`s and
    SavedModels (load those with `import tensorflow_text` so the ops are
    registered).

    Build one from text with `SubwordTokenizer.build`, save it with `save` and
    reload it with `SubwordTokenizer.load`.

    What a round trip, `detokenize(tokenize(text))`, keeps. A word here is a
    maximal run of letters and digits after the normalisation.
    - Every word, in order, when each of its characters is in the vocabulary. A
      vocabulary from `build` spells all of printable ASCII, Latin-1 and common
      typographic punctuation (`BASE_ALPHABET`), whatever its corpus held.
    - The text exactly (after the normalisation and collapsing whitespace) when
      it is in the spacing the detokenizer restores: no space before
      `. , ! ? ; : % ) ] } »`, none after `( [ { « ¿ ¡ „ ‚ $ £`, quotation marks
      hugging what they quote (`"x"`, `„x“`, `“x”`, `‘x’`, `‚x‘`, `'x'`), and
      none around hyphens, slashes, clitic apostrophes (`don't`, `it’s`) and
      number separators (`1,000.50`, `1.000,50`, `10:30`) between words. Text
      that `detokenize` returns is always in that spacing. On the Ding
      dictionary's 4,000 test and validation sentences, 97% come back exactly.

    What it cannot keep.
    - Spacing around punctuation: WordPiece splits punctuation off and forgets
      the spaces, so the detokenizer follows the corpus's majority:
      `over / at` -> `over/at`, `A - B` -> `A-B`, `pummel(l)ed` -> `pummel (l) ed`,
      `wait…` -> `wait …`, `5€` -> `5 €`, `a.m` -> `a. m`; URLs keep their
      scheme and host (`https://example.org/a`) but not the query's spacing.
    - Characters outside the vocabulary become `[UNK]`, which detokenizes to
      nothing: a lone symbol or emoji (`great😀` -> `great`), and a whole word
      when it holds a letter outside the vocabulary (`Привет` in a Latin
      vocabulary, a ligature such as `ﬁ`, a letter with a combining accent
      that has no composed form) or is over 1,000 bytes long. Case, with
      `lower_case=True`.
    `SentencePieceTokenizer` round-trips text exactly.

    Args:
        vocabulary: list of str. The subword vocabulary; it must start with
            `"[PAD]", "[UNK]", "[START]", "[END]"`. Suffix pieces carry the
            `"##"` prefix.
        lower_case: bool. Case-fold text before tokenizing (accents are kept).
            Defaults to `False`.
        normalization_form: str or `None`. Unicode normalisation applied before
            tokenizing: one of `"NFC"`, `"NFKC"`, `"NFD"`, `"NFKD"` or `None`.
            Defaults to `"NFC"`.
        name: str. Name of the module. Defaults to `None`.

    Example:
    >>> tokenizer = SubwordTokenizer.build(
    ...     ["Ich bin hier.", "Du bist dort."], vocabulary_size=60)
    >>> ids = tokenizer.tokenize(["Ich bin dort."])
    >>> tokenizer.detokenize(ids.to_tensor()).numpy()
    array([b'Ich bin dort.'], dtype=object)
    """

    pad_id = 0
    unknown_id = 1
    start_id = 2
    end_id = 3

    def __init__(
        self, vocabulary, lower_case=False, normalization_form="NFC", name=None
    ):
        super().__init__(name=name)
        vocabulary = [str(token) for token in vocabulary]
        if tuple(vocabulary[: len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise ValueError(
                "vocabulary must start with the reserved tokens "
                f"{list(RESERVED_TOKENS)}. Received: "
                f"vocabulary[:4]={vocabulary[: len(RESERVED_TOKENS)]}"
            )
        if len(set(vocabulary)) != len(vocabulary):
            raise ValueError("vocabulary must not contain duplicate tokens.")
        if normalization_form not in NORMALIZATION_FORMS:
            raise ValueError(
                f"normalization_form must be one of {NORMALIZATION_FORMS}. "
                f"Received: normalization_form={normalization_form!r}"
            )
        # A tuple, so tf.Module does not wrap it in a tracking list.
        self._vocabulary = tuple(vocabulary)
        self.lower_case = bool(lower_case)
        self.normalization_form = normalization_form
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocabulary,
            suffix_indicator="##",
            unknown_token="[UNK]",
            token_out_type=tf.int64,
            support_detokenization=True,
            max_bytes_per_word=MAX_BYTES_PER_WORD,
        )
        self._tokens = tf.constant(vocabulary, dtype=tf.string)

    def normalize(self, strings):
        """Applies the Unicode normalisation and case folding to `strings`."""
        return _normalize(strings, self.lower_case, self.normalization_form)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def _tokenize(self, strings):
        return self._wordpiece.tokenize(_split_off_symbols(self.normalize(strings)))

    @tf.function(reduce_retracing=True)
    def _detokenize(self, token_ids):
        # Subwords are joined into words and the usual spacing around
        # punctuation is restored.
        text = self._wordpiece.detokenize(spelled_ids(token_ids, self.vocabulary_size))
        for pattern, rewrite in PUNCTUATION_REWRITES:
            text = tf.strings.regex_replace(text, pattern, rewrite)
        return text

    def id_to_token(self, token_ids):
        """Maps ids to their subword strings (for inspection).

        Raises:
            ValueError: an id is outside `[0, vocabulary_size)` (eagerly; an
                `InvalidArgumentError` in a graph).
        """
        return tf.gather(
            self._tokens, check_ids_in_range(token_ids, self.vocabulary_size)
        )

    def token_to_id(self, token):
        """Returns the id of a vocabulary entry (e.g. `"[END]"`)."""
        try:
            return self._vocabulary.index(token)
        except ValueError:
            raise ValueError(
                f"token is not in the vocabulary. Received: token={token!r}"
            ) from None

    def get_config(self):
        return {
            "lower_case": self.lower_case,
            "normalization_form": self.normalization_form,
            "vocabulary_size": self.vocabulary_size,
        }

    def save(self, directory):
        """Writes `vocabulary.txt` and `tokenizer.json` into `directory`.

        `tokenizer.json` records `"tokenizer": "wordpiece"`, and a
        `sentencepiece.model` left by an earlier `SentencePieceTokenizer.save`
        is removed, so the directory holds this tokenizer only.
        """
        gfile.makedirs(directory)  # gs://, ram://, ... too
        vocabulary_path = os.path.join(directory, VOCABULARY_FILE)
        config_path = os.path.join(directory, CONFIG_FILE)
        config = {"tokenizer": KIND, **self.get_config()}
        for path, content in (
            (vocabulary_path, "".join(token + "\n" for token in self._vocabulary)),
            (config_path, json.dumps(config, indent=2) + "\n"),
        ):
            write_text_atomically(path, content)  # never a half-written file
        # After the config names the kind, so a crash between leaves a
        # directory that `load_tokenizer` still reads as WordPiece.
        remove_if_present(os.path.join(directory, SENTENCEPIECE_MODEL_FILE))

    @classmethod
    def load(cls, directory):
        """Reads a tokenizer written by `save`."""
        vocabulary_path = os.path.join(directory, VOCABULARY_FILE)
        config_path = os.path.join(directory, CONFIG_FILE)
        if not gfile.exists(vocabulary_path):
            raise FileNotFoundError(
                f"No tokenizer vocabulary found. Expected the file {vocabulary_path}"
            )
        with gfile.GFile(vocabulary_path, "r") as file:
            vocabulary = file.read().split("\n")
        if vocabulary and vocabulary[-1] == "":
            vocabulary.pop()
        config = read_config(config_path)
        kind = config.pop("tokenizer", KIND)
        if kind != KIND:
            raise ValueError(
                f"{config_path} records a {kind!r} tokenizer, not {KIND!r}: "
                "load it with load_tokenizer()."
            )
        expected_size = config.pop("vocabulary_size", len(vocabulary))
        if expected_size != len(vocabulary):
            raise ValueError(
                f"{vocabulary_path} has {len(vocabulary)} tokens but {config_path} "
                f"records vocabulary_size={expected_size}."
            )
        return cls(vocabulary, **config)

    @classmethod
    def build(
        cls,
        texts,
        vocabulary_size=8000,
        lower_case=False,
        normalization_form="NFC",
        min_count=2,
        base_alphabet=True,
    ):
        """Learns a WordPiece vocabulary from text.

        Words are split as BERT does and counted, then tensorflow-text's
        WordPiece learner (`tensorflow_text.tools.wordpiece_vocab`, the engine
        of `bert_vocab_from_dataset`) chooses the subwords.

        Args:
            texts: iterable of str (sentences, not one string), or a
                `tf.data.Dataset` of scalar strings.
            vocabulary_size: int. The largest vocabulary size wanted (the learner
                lands within 5% below it, or below when the text is small).
                Every character of the corpus gets a token (and a `##` suffix
                token), so a size below the reserved tokens and those is
                refused, naming the smallest. Defaults to `8000`.
            lower_case: bool. See the class. Defaults to `False`.
            normalization_form: str or `None`. See the class. Defaults to `"NFC"`.
            min_count: int. Words seen fewer times are ignored when choosing
                subwords. Defaults to `2`.
            base_alphabet: bool. Also give tokens to every character of
                `BASE_ALPHABET` (printable ASCII, Latin-1, common typographic
                punctuation) that the corpus lacks, so that no word made of
                them is ever `[UNK]`. They count in `vocabulary_size`, and are
                left out when they would take more than a quarter of it
                (vocabularies below about 1,200). Defaults to `True`.

        Returns:
            A `SubwordTokenizer`.

        Raises:
            TypeError: `texts` is one string.
            ValueError: a bad size or form, or a corpus without words; a
                size below the corpus' alphabet is a `SettingError`, which a
                caller may restate in its names (`--vocabulary-size`).

        Warns:
            UserWarning: the vocabulary is larger than `vocabulary_size`
                (not expected: a safety net).
        """
        check_texts(texts)
        vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
        requested_size = vocabulary_size
        if vocabulary_size <= len(RESERVED_TOKENS):
            raise SettingError(
                lambda name: (
                    f"{name('vocabulary_size')} must be an int greater "
                    f"than {len(RESERVED_TOKENS)}. Received: "
                    f"{name('vocabulary_size')}={vocabulary_size}"
                )
            )
        if isinstance(texts, tf.data.Dataset):
            dataset = texts
        else:
            texts = list(texts)
            if not texts:
                raise ValueError(
                    "Cannot build a vocabulary from an empty corpus. Received: texts=[]"
                )
            dataset = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
        if normalization_form not in NORMALIZATION_FORMS:
            raise ValueError(
                f"normalization_form must be one of {NORMALIZATION_FORMS}. "
                f"Received: normalization_form={normalization_form!r}"
            )
        dataset = dataset.batch(1024).map(
            lambda strings: _split_off_symbols(
                _normalize(strings, lower_case, normalization_form)
            )
        )
        try:
            word_counts = learner.count_words(
                dataset.map(BasicTokenizer(lower_case=False).tokenize)
            )
        except StopIteration:  # count_words peeks at the first word
            word_counts = {}
        if not word_counts:
            raise ValueError("Cannot build a vocabulary from an empty corpus.")
        words = _learner_words(word_counts)
        smallest = _smallest_vocabulary_size(words)
        if vocabulary_size < smallest:
            # Refused, not built larger than asked: the size is the model's.
            raise SettingError(
                lambda name: _too_small_message(name, vocabulary_size, smallest)
            )
        base_tokens = []
        if base_alphabet:
            corpus_characters = set("".join(word_counts))
            base_tokens = _base_tokens(lower_case, normalization_form)
            missing = [t for t in base_tokens if t[-1] not in corpus_characters]
            if (
                len(missing) > vocabulary_size // 4
                or vocabulary_size - len(missing) < smallest
            ):
                base_tokens = []  # too small a vocabulary to hold them
            else:
                vocabulary_size -= len(missing)
        vocabulary = _learn_wordpiece(words, vocabulary_size, min_count)
        if len(vocabulary) <= len(RESERVED_TOKENS):
            raise ValueError(
                "The corpus produced no subwords: it holds no words seen at least "
                f"min_count={min_count} times."
            )
        learned = set(vocabulary)
        vocabulary += [token for token in base_tokens if token not in learned]
        if len(vocabulary) > requested_size:
            warnings.warn(
                f"vocabulary_size={requested_size} is smaller than this corpus "
                f"allows: the vocabulary has {len(vocabulary)} tokens, the "
                "reserved ones and one (plus a ## suffix token) for every "
                "character of the corpus.",
                stacklevel=2,
            )
        return cls(vocabulary, lower_case, normalization_form)
