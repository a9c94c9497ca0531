"""English↔Spanish Bible verse pairs from Debian's SWORD modules, read with pysword."""

import os
import re

from keras_transformer_bit.data.parallel_corpus import ParallelCorpus

SWORD_PATH = "/usr/share/sword"
SWORD_MODULES = {"en": "engWEB2015eb", "es": "spaRV1909eb"}
SWORD_INSTALL_COMMAND = "sudo apt-get install sword-text-web sword-text-sparv"

# Footnotes are dropped whole; every other OSIS tag is removed but its text kept.
_NOTE = re.compile(r"<note\b.*?</note>", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


def clean_osis(text):
    """Turns one verse of OSIS markup into plain text.

    Example:
    >>> clean_osis('<w lemma="x">God</w><note>a note</note><w>created</w>.')
    'God created.'
    """
    text = _NOTE.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r" ([.,;:!?”’)\]])", r"\1", text)
    return re.sub(r"([“‘(\[¿¡]) ", r"\1", text)


def _book_verses(bible, book):
    return [
        clean_osis(text) for text in bible.get_iter(books=[book.osis_name], clean=False)
    ]


def load_sword_en_es(
    source_language="en",
    sword_path=SWORD_PATH,
    books=None,
    test_size=None,
    validation_size=None,
    seed=1234,
):
    """Reads aligned verses of the World English Bible and Reina-Valera 1909.

    Both modules follow the same verse numbering in all but a few chapters; a
    chapter whose verse counts differ between the two is skipped and its verses
    counted in `num_malformed`, so no pair is misaligned. Reading all books takes
    about a minute (pysword decompresses verse by verse); pass `books` for less.

    Args:
        source_language: str. `"en"` (English→Spanish) or `"es"`. Defaults to
            `"en"`.
        sword_path: str. The SWORD library. Defaults to `/usr/share/sword`, where
            Debian's `sword-text-web` and `sword-text-sparv` install.
        books: list of str or `None`. OSIS book names (e.g. `["Ruth", "John"]`);
            `None` reads every book both modules have. Defaults to `None`.
        test_size: int or `None`. Defaults to `None`: a tenth of the pairs,
            at most 1000 (see `ParallelCorpus.from_pairs`).
        validation_size: int or `None`. Likewise. Defaults to `None`.
        seed: int. Defaults to `1234`.

    Returns:
        A `ParallelCorpus`.

    Example:
    >>> corpus = load_sword_en_es(books=["Ruth"], test_size=10)  # doctest: +SKIP
    """
    if source_language not in SWORD_MODULES:
        raise ValueError(
            f"source_language must be 'en' or 'es'. Received: "
            f"source_language={source_language!r}"
        )
    target_language = "es" if source_language == "en" else "en"
    missing = [
        module
        for module in SWORD_MODULES.values()
        if not os.path.exists(
            os.path.join(sword_path, "mods.d", module.lower() + ".conf")
        )
        and not os.path.exists(os.path.join(sword_path, "mods.d", module + ".conf"))
    ]
    if missing:
        raise FileNotFoundError(
            f"The SWORD modules {missing} were not found under {sword_path}. "
            f"Install them with: {SWORD_INSTALL_COMMAND}"
        )
    try:
        from pysword.modules import SwordModules
    except ImportError:
        raise ImportError(
            "Reading SWORD Bibles needs pysword: pip install pysword"
        ) from None
    modules = SwordModules(sword_path)
    modules.parse_modules()
    bibles = {
        language: modules.get_bible_from_module(module)
        for language, module in SWORD_MODULES.items()
    }
    english_books = {
        book.osis_name: book
        for testament in bibles["en"].get_structure().get_books().values()
        for book in testament
    }
    pairs = []
    num_malformed = 0
    for testament in bibles["es"].get_structure().get_books().values():
        for spanish_book in testament:
            english_book = english_books.get(spanish_book.osis_name)
            if english_book is None or (books and spanish_book.osis_name not in books):
                continue
            verses = {
                "es": _book_verses(bibles["es"], spanish_book),
                "en": _book_verses(bibles["en"], english_book),
            }
            offsets = {"es": 0, "en": 0}
            for spanish_length, english_length in zip(
                spanish_book.chapter_lengths, english_book.chapter_lengths
            ):
                lengths = {"es": spanish_length, "en": english_length}
                if spanish_length == english_length:
                    for index in range(spanish_length):
                        source = verses[source_language][
                            offsets[source_language] + index
                        ]
                        target = verses[target_language][
                            offsets[target_language] + index
                        ]
                        if source and target:
                            pairs.append((source, target))
                else:
                    num_malformed += max(spanish_length, english_length)
                offsets = {key: offsets[key] + lengths[key] for key in offsets}
    return ParallelCorpus.from_pairs(
        pairs,
        test_size=test_size,
        validation_size=validation_size,
        seed=seed,
        source_language=source_language,
        target_language=target_language,
        name=f"sword_{source_language}_{target_language}",
        num_malformed=num_malformed,
    )
