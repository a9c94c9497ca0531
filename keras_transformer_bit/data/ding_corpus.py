"""German→English example sentences from the Ding dictionary (Debian trans-de-en)."""

import os
import random
import re

from keras_transformer_bit.data.parallel_corpus import ParallelCorpus
from keras_transformer_bit.data.parallel_corpus import comparison_key as _key
from keras_transformer_bit.utils import check_non_negative_int

DING_DE_EN_PATH = "/usr/share/trans/de-en"
DING_INSTALL_COMMAND = "sudo apt-get install trans-de-en"

# Dictionary annotations: grammar {f} {pl} {vt}, usage and field labels [Br.]
# [med.], search keys <...> and abbreviations /ABBR/ (" /Abl./").
_ANNOTATION = re.compile(r"\{[^}]*\}|\[[^\]]*\]|<[^>]*>|(?<!\S)/[^/\s]+/(?!\S)")
_SPACES = re.compile(r"\s+")
_SENTENCE_START = re.compile(r"^[\"'„“‘(¿¡]*[^\W\d_]")
_SENTENCE_END = re.compile(r"[.!?…][\"'“”’)]*$")


def strip_annotations(text):
    """Removes Ding annotations and squeezes whitespace.

    Example:
    >>> strip_annotations("Aal {m} [cook.] /A./")
    'Aal'
    """
    text = _ANNOTATION.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return re.sub(r" ([.,!?;:])", r"\1", text)


def is_sentence(text, min_words=3):
    """Whether `text` looks like a sentence: several words, starting with a
    capital letter, ending with sentence punctuation."""
    if len(text.split()) < min_words or not _SENTENCE_END.search(text):
        return False
    start = _SENTENCE_START.match(text)
    return bool(start) and start.group(0)[-1].isupper()


def aligned_entries(line):
    """The aligned `(German, English)` sub-entries of one dictionary line, as
    written (alternatives and annotations kept); `[]` for a blank or comment
    line, `None` for a malformed one (no " :: ", or another number of
    sub-entries on each side).

    Example:
    >>> aligned_entries("Haus {n} | Häuser {pl} :: house | houses")
    [('Haus {n}', 'house'), ('Häuser {pl}', 'houses')]
    """
    line = line.strip()
    if not line or line.startswith("#"):
        return []
    sides = line.split(" :: ")
    if len(sides) != 2:
        return None
    german_entries = sides[0].split(" | ")
    english_entries = sides[1].split(" | ")
    if len(german_entries) != len(english_entries):
        return None
    return list(zip(german_entries, english_entries))


def parse_ding_line(line, min_words=3):
    """Returns the sentence pairs of one dictionary line.

    A line reads `German :: English`; `|` separates sub-entries that align one to
    one across the sides and `;` separates alternatives, of which the first is
    kept. Only pairs where both sides are sentences are returned.

    Args:
        line: str. One line of the dictionary.
        min_words: int. Fewest words on each side. Defaults to `3`.

    Returns:
        A list of (german, english) tuples, or `None` for a malformed line (no
        `::`, or a different number of sub-entries on the two sides).

    Example:
    >>> parse_ding_line("Haus {n} | Das Haus ist alt. :: house | The house is old.")
    [('Das Haus ist alt.', 'The house is old.')]
    """
    entries = _sentence_entries(line, min_words)
    return None if entries is None else [first for first, _ in entries]


def _sentence_entries(line, min_words, with_others=False):
    """`(first_pair, other_pairs)` for each aligned sub-entry of `line` whose
    first German and first English alternatives are sentences; `None` for a
    malformed line. `other_pairs` (computed only `with_others`, else `[]`)
    are the other combinations of a German and an English alternative that
    are sentences."""
    entries = aligned_entries(line)
    if entries is None:
        return None
    found = []
    for german, english in entries:
        germans, englishes = german.split("; "), english.split("; ")
        first = (strip_annotations(germans[0]), strip_annotations(englishes[0]))
        if not all(is_sentence(text, min_words) for text in first):
            continue
        others = []
        if with_others and (len(germans) > 1 or len(englishes) > 1):
            germans = [first[0]] + _sentences(germans[1:], min_words)
            englishes = [first[1]] + _sentences(englishes[1:], min_words)
            others = [(g, e) for g in germans for e in englishes if (g, e) != first]
        found.append((first, others))
    return found


def _sentences(alternatives, min_words):
    texts = (strip_annotations(text) for text in alternatives)
    return [text for text in texts if is_sentence(text, min_words)]


def load_ding_de_en(
    path=DING_DE_EN_PATH,
    test_size=None,
    validation_size=None,
    seed=1234,
    min_words=3,
    max_words=40,
    phrase_pairs=0,
    alternative_pairs=False,
):
    """Reads the Ding German→English example sentences as a `ParallelCorpus`.

    The split is deterministic: pairs are deduplicated by German side, sorted and
    shuffled with `seed`, then the first `test_size` go to test and the next
    `validation_size` to validation.

    With `phrase_pairs`, the training split also gets that many of the
    dictionary's word and phrase pairs (`load_ding_phrases`), a sample drawn
    with `seed`, appended after the sentences. None shares a side with a test
    or validation pair, and the held-out splits are the same as without them.

    With `alternative_pairs`, a training pair whose line gives other
    wordings of its sentence ("Ich fürchte nein." :: "I'm afraid it
    isn't.; I'm afraid it doesn't.") also brings every other combination of
    a German and an English wording (`parse_ding_alternatives`). Only the
    alternatives of training pairs join, so a test sentence's paraphrase
    never does, and none shares a side with a test or validation pair.

    Args:
        path: str. The Ding dictionary file. Defaults to the Debian location
            `/usr/share/trans/de-en` (package `trans-de-en`).
        test_size: int or `None`. Defaults to `None`: a tenth of the pairs,
            at most 1000 (see `ParallelCorpus.from_pairs`).
        validation_size: int or `None`. Likewise. Defaults to `None`.
        seed: int. Defaults to `1234`.
        min_words: int. Fewest words on each side. Defaults to `3`.
        max_words: int. Most words on each side. Defaults to `40`.
        phrase_pairs: int. Dictionary word and phrase pairs to add to the
            training split (all of them, about 300k, when it holds fewer).
            Defaults to `0`.
        alternative_pairs: bool. Add the other wordings of the training
            sentences (about 2,200 pairs). Defaults to `False`.

    Returns:
        A `ParallelCorpus` with source language "de" and target language "en".

    Example:
    >>> corpus = load_ding_de_en()  # doctest: +SKIP
    >>> len(corpus.test)  # doctest: +SKIP
    1000
    """
    check_non_negative_int("phrase_pairs", phrase_pairs)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The Ding German-English dictionary was not found at {path}. On "
            f"Debian or Ubuntu install it with: {DING_INSTALL_COMMAND}"
        )
    pairs, alternatives = [], {}
    num_malformed = 0
    with open(path, "rb") as file:
        for line_number, raw_line in enumerate(file, start=1):
            try:
                line = raw_line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ValueError(
                    f"{path}:{line_number} is not valid UTF-8 ({error.reason} at "
                    f"byte {error.start})."
                ) from None
            entries = _sentence_entries(line, min_words, alternative_pairs)
            if entries is None:
                num_malformed += 1
                continue
            for (german, english), others in entries:
                if others:
                    alternatives.setdefault(_key(german), others)
                if max(len(german.split()), len(english.split())) <= max_words:
                    pairs.append((german, english))
    corpus = ParallelCorpus.from_pairs(
        pairs,
        test_size=test_size,
        validation_size=validation_size,
        seed=seed,
        source_language="de",
        target_language="en",
        name="ding_de_en",
        num_malformed=num_malformed,
    )
    if alternative_pairs:
        _join_alternatives(corpus, alternatives, max_words)
    if phrase_pairs:
        phrases = load_ding_phrases(path, exclude=corpus.test + corpus.validation)
        if phrase_pairs < len(phrases):
            phrases = random.Random(seed).sample(phrases, phrase_pairs)
        corpus.train = corpus.train + phrases
        corpus.num_phrase_pairs = len(phrases)
    return corpus


def _join_alternatives(corpus, alternatives, max_words):
    """Appends the other wordings of `corpus`'s training pairs to its training
    split: `alternatives` maps a first German wording's key to its pairs.
    None repeats a training pair or shares a side with a held-out pair."""
    held_out = {_key(side) for pair in corpus.test + corpus.validation for side in pair}
    seen = {(_key(german), _key(english)) for german, english in corpus.train}
    extra = []
    for german, _ in corpus.train:
        for pair in alternatives.get(_key(german), ()):
            keys = (_key(pair[0]), _key(pair[1]))
            too_long = max(len(side.split()) for side in pair) > max_words
            if keys in seen or held_out.intersection(keys) or too_long:
                continue
            seen.add(keys)
            extra.append(pair)
    corpus.train = corpus.train + extra
    corpus.num_alternative_pairs = len(extra)


def parse_ding_alternatives(line, min_words=3):
    """Returns the other wordings of the sentence pairs of one line.

    For each aligned sub-entry whose first German and first English
    alternatives are sentences (the pair `parse_ding_line` returns), every
    other combination of a German and an English sentence alternative.

    Returns:
        A list of `(first_pair, other_pairs)`, only for sub-entries that have
        other wordings.

    Example:
    >>> [(first, others)] = parse_ding_alternatives(
    ...     "Ich fürchte nein. :: I'm afraid not.; I'm afraid it isn't.")
    >>> first
    ('Ich fürchte nein.', "I'm afraid not.")
    >>> others
    [('Ich fürchte nein.', "I'm afraid it isn't.")]
    """
    entries = _sentence_entries(line, min_words, with_others=True) or []
    return [(first, others) for first, others in entries if others]


def parse_ding_phrases(line, max_words=6):
    """Returns the word and phrase pairs of one dictionary line.

    The aligned sub-entries of `parse_ding_line`, but those that are not
    sentences: words and phrases (`der Aachener Dom` / `the Aachen
    Cathedral`), first alternative of each side, annotations removed, at most
    `max_words` words a side.

    Example:
    >>> parse_ding_phrases(
    ...     "Aachener {adj} | der Aachener Dom :: Aachen | the Aachen Cathedral")
    [('Aachener', 'Aachen'), ('der Aachener Dom', 'the Aachen Cathedral')]
    """
    pairs = []
    for german, english in aligned_entries(line) or []:
        german = strip_annotations(german.split("; ")[0])
        english = strip_annotations(english.split("; ")[0])
        if not german or not english or is_sentence(german) or is_sentence(english):
            continue
        if len(german.split()) <= max_words and len(english.split()) <= max_words:
            pairs.append((german, english))
    return pairs


def load_ding_phrases(path=DING_DE_EN_PATH, exclude=(), max_words=6, max_pairs=None):
    """Reads the Ding dictionary's word and phrase pairs, for extra training data.

    Besides its ~20k example sentences (`load_ding_de_en`), Ding aligns about
    390k words and phrases. They are short and not sentences, but they teach
    vocabulary the sentences never show. Pairs whose German or English side
    equals (ignoring case and spacing) a side of a pair in `exclude` are left
    out, so that passing the test and validation splits keeps them from
    leaking into training; the rest are deduplicated by German side, in file
    order.

    Args:
        path: str. The Ding dictionary file.
        exclude: iterable of (german, english) pairs, e.g.
            `corpus.test + corpus.validation`.
        max_words: int. Most words on each side. Defaults to `6`.
        max_pairs: int or `None`. Stop after this many pairs.

    Returns:
        A list of (german, english) pairs.

    Example:
    >>> corpus = load_ding_de_en(test_size=1000, validation_size=1000)  # doctest: +SKIP
    >>> phrases = load_ding_phrases(
    ...     exclude=corpus.test + corpus.validation)  # doctest: +SKIP
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The Ding German-English dictionary was not found at {path}. On "
            f"Debian or Ubuntu install it with: {DING_INSTALL_COMMAND}"
        )
    excluded = {_key(side) for pair in exclude for side in pair}
    seen, pairs = set(), []
    with open(path, encoding="utf-8", errors="replace") as file:
        for line in file:
            for german, english in parse_ding_phrases(line, max_words):
                key = _key(german)
                if key in seen or key in excluded or _key(english) in excluded:
                    continue
                seen.add(key)
                pairs.append((german, english))
                if max_pairs is not None and len(pairs) >= max_pairs:
                    return pairs
    return pairs


_PARENTHESES = re.compile(r"\([^)]*\)")
_ENGLISH_PARTICLE = re.compile(r"^(to|the|a|an) ", re.IGNORECASE)
# The subject of a conjugated form: "er/sie geht" / "he/she goes".
_GERMAN_PRONOUNS = re.compile(r"^(?:(?:ich|du|er|sie|es|wir|ihr)/?)+ (?=\S+$)")
_ENGLISH_PRONOUNS = re.compile(r"^(?:(?:I|you|he|she|it|we|they)/?)+ (?=\S+$)")


def parse_ding_lexicon(line):
    """Returns the (German word, English translation, rank) triples of a line.

    Every German alternative of an aligned sub-entry that is one word (after
    annotations and parentheses are removed) maps to the first English
    alternative, stripped of a leading "to", "the", "a" or "an"; a
    conjugated form loses its subject ("er/sie geht" / "he/she goes" gives
    "geht" / "goes"). The rank orders the senses of a word across lines,
    lowest first: the word's alternative index, then its sub-entry index,
    so "Hund {m} | Hunde {pl}" gives "Hunde" the rank `(0, 1)` where
    "Förderwagen {m}; Hund {m} | Förderwagen {pl}; Hunde {pl}" gives it
    `(1, 1)`.

    Example:
    >>> parse_ding_lexicon(
    ...     "Montag {m} /Mo/ | Ostermontag {m} :: Monday /Mon/ | Easter Monday")
    [('Montag', 'Monday', (0, 0)), ('Ostermontag', 'Easter Monday', (0, 1))]
    >>> parse_ding_lexicon("gehen; laufen {vi} | er/sie geht :: to go | he/she goes")
    [('gehen', 'go', (0, 0)), ('laufen', 'go', (1, 0)), ('geht', 'goes', (0, 1))]
    """
    triples = []
    for entry, (german, english) in enumerate(aligned_entries(line) or []):
        english = strip_annotations(_PARENTHESES.sub(" ", english)).split("; ")[0]
        english = _ENGLISH_PRONOUNS.sub("", _ENGLISH_PARTICLE.sub("", english))
        if not english or is_sentence(english):
            continue
        for alternative, text in enumerate(german.split("; ")):
            word = strip_annotations(_PARENTHESES.sub(" ", text))
            word = _GERMAN_PRONOUNS.sub("", word)
            if word and len(word.split()) == 1 and word[-1].isalnum():
                triples.append((word, english, (alternative, entry)))
    return triples


def load_ding_lexicon(path=DING_DE_EN_PATH):
    """Reads the Ding dictionary as a German-word-to-English lexicon.

    Each one-word German entry (and each one-word alternative of an entry)
    maps to the English translation of its best-ranked sense
    (`parse_ding_lexicon`: a headword before an alternative or a
    sub-entry, the first line on ties), so "Hund" maps to
    "dog" and "Hunde" to "dogs". `ktb.data.PretrainedWordEmbeddings`'s
    `embedding_matrix(..., lexicon=...)` uses it to start a German
    embedding from the English vectors of the translations. Words are not
    sentences: no example sentence of the corpus's splits is read.

    Args:
        path: str. The Ding dictionary file.

    Returns:
        A dict from German word to English text (about 300k words).

    Example:
    >>> lexicon = load_ding_lexicon()  # doctest: +SKIP
    >>> lexicon["Montag"]  # doctest: +SKIP
    'Monday'
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"The Ding German-English dictionary was not found at {path}. On "
            f"Debian or Ubuntu install it with: {DING_INSTALL_COMMAND}"
        )
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"{path} is a directory; expected the Ding dictionary file (Debian "
            f"trans-de-en installs it at {DING_DE_EN_PATH})."
        )
    best = {}
    with open(path, encoding="utf-8", errors="replace") as file:
        for line in file:
            for german, english, rank in parse_ding_lexicon(line):
                if german not in best or rank < best[german][0]:
                    best[german] = (rank, english)
    if not best:
        raise ValueError(
            f"{path} holds no Ding entries ('German {{m}} | ... :: English | "
            "...' lines); for a lexicon of your own (word, tab, translation), "
            "use ktb.data.load_lexicon."
        )
    return {german: english for german, (_, english) in best.items()}
