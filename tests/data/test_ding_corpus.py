import os

import pytest

from keras_transformer_bit.data.ding_corpus import (
    DING_DE_EN_PATH,
    load_ding_de_en,
    parse_ding_line,
    strip_annotations,
)

LINES = [
    "# Version :: devel 2023-01-30",
    "Haus {n} | Das Haus ist sehr alt. :: house | The house is very old.",
    "Abendessen {n}; Abendbrot {n} [Ös.] | Das Abendessen hat mir geschmeckt. :: "
    "supper; evening meal | I enjoyed my supper.",
    "Ablöse {f} /Abl./ | Ich muss jetzt gehen.; Ich gehe jetzt. :: key money [Br.] | "
    "I have to go now.; I am going now.",
    "Bitte {f} | Bitte :: request | please",
    "kaputt | Es ist kaputt. | zu viel :: broken | It is broken.",  # misaligned
    "Keine Trennzeichen hier",  # no ' :: '
]


def test_strip_annotations():
    assert strip_annotations("Aal {m} (auf der Karte) [cook.] /A./ <Aale>") == (
        "Aal (auf der Karte)"
    )
    assert strip_annotations("Er kam {vi} [ugs.] .") == "Er kam."


def test_parse_line_aligns_sub_entries_and_keeps_sentences():
    assert parse_ding_line(LINES[0]) == []
    assert parse_ding_line(LINES[1]) == [
        ("Das Haus ist sehr alt.", "The house is very old.")
    ]
    assert parse_ding_line(LINES[2]) == [
        ("Das Abendessen hat mir geschmeckt.", "I enjoyed my supper.")
    ]
    # First alternative after ';' only; annotations removed.
    assert parse_ding_line(LINES[3]) == [("Ich muss jetzt gehen.", "I have to go now.")]
    assert parse_ding_line(LINES[4]) == []  # not sentences
    assert parse_ding_line(LINES[5]) is None
    assert parse_ding_line(LINES[6]) is None


def _write_ding(path, num_sentences):
    lines = list(LINES)
    for index in range(num_sentences):
        lines.append(
            f"Satz {index} {{m}} | Das ist Satz Nummer {index}. :: "
            f"sentence {index} | This is sentence number {index}."
        )
    lines.append(LINES[1])  # a duplicate
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_load_splits_deterministically(tmp_path):
    path = tmp_path / "de-en"
    _write_ding(path, 60)
    corpus = load_ding_de_en(str(path), test_size=10, validation_size=5, seed=7)
    again = load_ding_de_en(str(path), test_size=10, validation_size=5, seed=7)
    other = load_ding_de_en(str(path), test_size=10, validation_size=5, seed=8)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (48, 5, 10)
    assert corpus.num_malformed == 2
    assert corpus.test == again.test and corpus.train == again.train
    assert corpus.test != other.test
    sources = [
        s for split in (corpus.train, corpus.validation, corpus.test) for s, _ in split
    ]
    assert len(sources) == len(set(sources)) == 63
    assert (corpus.source_language, corpus.target_language) == ("de", "en")


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install trans-de-en"):
        load_ding_de_en(str(tmp_path / "missing"))
    bad = tmp_path / "bad"
    bad.write_bytes(LINES[1].encode() + b"\nDas ist \xff kaputt. :: x\n")
    with pytest.raises(ValueError, match=r"bad:2 is not valid UTF-8"):
        load_ding_de_en(str(bad))
    empty = tmp_path / "empty"
    empty.write_text("# only a comment\nBitte | Danke :: please | thanks\n")
    with pytest.raises(ValueError, match="empty"):
        load_ding_de_en(str(empty))


@pytest.mark.large
@pytest.mark.skipif(not os.path.exists(DING_DE_EN_PATH), reason="trans-de-en missing")
def test_real_ding_corpus():
    corpus = load_ding_de_en()
    assert len(corpus.test) == 1000 and len(corpus.validation) == 1000
    assert len(corpus.train) > 15000
    train_sources = {source for source, _ in corpus.train}
    assert not train_sources & {source for source, _ in corpus.test}
    for source, target in corpus.test[:50]:
        assert "{" not in source and "[" not in target and " :: " not in source


PHRASE_LINES = [
    "Aachener {adj} | der Aachener Dom | Aachener Printen [cook.] :: "
    "Aachen | the Aachen Cathedral | hard ginger bread from Aachen",
    "Haus {n} | Das Haus ist alt. :: house | The house is old.",
    "Hund {m}; Köter {m} :: dog; cur",
    "Hund {m} :: hound",  # a second German 'Hund': the first one stays
    "Katze {f} | die Katze schläft :: cat | the cat sleeps",
    "kaputt :: broken | too many",  # misaligned: skipped
    "ein sehr langer Ausdruck mit sehr vielen Wörtern darin :: a long one",
]


def test_phrases_are_the_aligned_non_sentences_deduplicated_and_excluded(tmp_path):
    from keras_transformer_bit.data import load_ding_phrases

    path = tmp_path / "de-en"
    path.write_text("\n".join(PHRASE_LINES) + "\n", encoding="utf-8")
    phrases = load_ding_phrases(str(path))
    assert phrases == [
        ("Aachener", "Aachen"),
        ("der Aachener Dom", "the Aachen Cathedral"),
        ("Aachener Printen", "hard ginger bread from Aachen"),
        ("Haus", "house"),
        ("Hund", "dog"),
        ("Katze", "cat"),
        ("die Katze schläft", "the cat sleeps"),
    ]
    # A test or validation pair's side, on either side of a phrase, keeps the
    # phrase out (case and spacing ignored).
    held_out = [("Der  Aachener dom", "whatever"), ("x", "CAT")]
    kept = load_ding_phrases(str(path), exclude=held_out)
    assert ("der Aachener Dom", "the Aachen Cathedral") not in kept
    assert ("Katze", "cat") not in kept and ("Haus", "house") in kept
    assert load_ding_phrases(str(path), max_pairs=2) == phrases[:2]
    assert len(load_ding_phrases(str(path), max_words=1)) == 4
    with pytest.raises(FileNotFoundError, match="apt-get install trans-de-en"):
        load_ding_phrases(str(tmp_path / "absent"))


@pytest.mark.skipif(
    not os.path.exists("/usr/share/trans/de-en"), reason="needs Debian trans-de-en"
)
def test_the_real_dictionary_has_many_phrases_and_none_of_the_held_out():
    from keras_transformer_bit.data import load_ding_de_en, load_ding_phrases

    corpus = load_ding_de_en(test_size=1000, validation_size=1000)
    held_out = corpus.test + corpus.validation
    phrases = load_ding_phrases(exclude=held_out)
    assert len(phrases) > 100_000
    keys = {" ".join(side.casefold().split()) for pair in held_out for side in pair}
    assert not any(
        " ".join(g.casefold().split()) in keys or " ".join(e.casefold().split()) in keys
        for g, e in phrases
    )


def test_phrase_pairs_join_the_training_split_only_never_a_held_out_side(tmp_path):
    from keras_transformer_bit.data import load_ding_de_en

    sentences = [
        f"Satz {i} | Das ist der Satz Nummer {i}. :: sentence {i} | "
        f"This is sentence number {i}."
        for i in range(40)
    ]
    path = tmp_path / "de-en"
    path.write_text("\n".join(sentences + PHRASE_LINES) + "\n", encoding="utf-8")
    plain = load_ding_de_en(str(path), test_size=5, validation_size=5)
    corpus = load_ding_de_en(str(path), test_size=5, validation_size=5, phrase_pairs=8)
    # The split of the sentences does not move; phrases only join train.
    assert corpus.test == plain.test and corpus.validation == plain.validation
    added = corpus.train[len(plain.train) :]
    assert corpus.train[: len(plain.train)] == plain.train
    assert len(added) == 8 and len(set(added)) == 8
    assert corpus.num_phrase_pairs == 8 and plain.num_phrase_pairs == 0
    held_out = {side for pair in plain.test + plain.validation for side in pair}
    assert not held_out & {side for pair in added for side in pair}
    # A sample, the same for the same seed, another for another seed.
    again = load_ding_de_en(str(path), test_size=5, validation_size=5, phrase_pairs=8)
    assert again.train == corpus.train
    other = load_ding_de_en(
        str(path), test_size=5, validation_size=5, phrase_pairs=8, seed=7
    )
    assert other.train[-8:] != added
    # More than the dictionary holds: all of them, and the summary says so.
    everything = load_ding_de_en(
        str(path), test_size=5, validation_size=5, phrase_pairs=10**6
    )
    assert everything.num_phrase_pairs == 47  # 40 "Satz i" + 7 PHRASE_LINES
    assert len(everything.train) == len(plain.train) + 47
    assert "47 dictionary phrase pairs" in everything.summary()
    assert "phrase" not in plain.summary()
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(ValueError, match=f"phrase_pairs.*{bad!r}"):
            load_ding_de_en(str(path), phrase_pairs=bad)


LEXICON_LINES = [
    "# Version :: devel",
    "Förderwagen {m}; Hund {m} [min.] | Förderwagen {pl}; Hunde {pl} :: "
    "mine car | mine cars",
    "Hund {m} [zool.] | Hunde {pl} | Der Hund schläft. :: dog | dogs | The dog sleeps.",
    "gehen {vi} | gehend | er/sie geht | ich/er/sie ging :: to go {went; gone} | "
    "going | he/she goes | I/he/she went",
    "Montage {f} (Zusammenbau) [techn.] :: mounting (on a part); assembly",
    "Montage {f} (Film) :: montage",
    "Aachener Dom :: Aachen Cathedral",  # not one word
    "kaputt | zu viel :: broken",  # misaligned
]


def test_the_lexicon_maps_one_word_to_its_headword_sense(tmp_path):
    from keras_transformer_bit.data import load_ding_lexicon

    path = tmp_path / "de-en"
    path.write_text("\n".join(LEXICON_LINES) + "\n", encoding="utf-8")
    lexicon = load_ding_lexicon(str(path))
    assert lexicon == {
        "Förderwagen": "mine car",  # the first line's headword
        # "Hund" is an alternative on the first line, the headword on the
        # second: the headword's sense wins, though it comes later.
        "Hund": "dog",
        "Hunde": "dogs",
        "gehen": "go",  # "to" and the {went; gone} annotation removed
        "gehend": "going",
        "geht": "goes",  # the subject removed on both sides
        "ging": "went",
        "Montage": "mounting",  # equal ranks: the first line's sense
    }
    with pytest.raises(FileNotFoundError, match="apt-get install trans-de-en"):
        load_ding_lexicon(str(tmp_path / "absent"))


@pytest.mark.skipif(
    not os.path.exists("/usr/share/trans/de-en"), reason="needs Debian trans-de-en"
)
def test_the_real_lexicon_translates_common_words():
    from keras_transformer_bit.data import load_ding_lexicon

    lexicon = load_ding_lexicon()
    assert len(lexicon) > 200_000
    expected = {"Hund": "dog", "Haus": "house", "Montag": "Monday", "ging": "went"}
    assert {word: lexicon.get(word) for word in expected} == expected


def test_alternative_pairs_are_other_wordings_of_training_sentences_only(tmp_path):
    # Each line gives two German and two English wordings of one sentence.
    sentences = [
        f"Satz {i} | Das ist Satz {i}.; Dies ist Satz {i}. :: sentence {i} | "
        f"This is sentence {i}.; That is sentence {i}."
        for i in range(40)
    ]
    path = tmp_path / "de-en"
    path.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    plain = load_ding_de_en(str(path), test_size=5, validation_size=5)
    corpus = load_ding_de_en(
        str(path), test_size=5, validation_size=5, alternative_pairs=True
    )
    assert corpus.test == plain.test and corpus.validation == plain.validation
    assert corpus.train[: len(plain.train)] == plain.train
    added = corpus.train[len(plain.train) :]
    # Three more combinations per training sentence, none repeated.
    assert len(added) == 3 * len(plain.train) == corpus.num_alternative_pairs
    assert len(set(added)) == len(added)
    assert "other wordings" in corpus.summary()
    numbers = {german.split()[-1] for german, _ in plain.train}
    assert {german.split()[-1] for german, _ in added} == numbers
    # A held-out sentence's other wordings stay out: its number never joins.
    held_out = {german.split()[-1] for german, _ in plain.test + plain.validation}
    assert not held_out & {german.split()[-1] for german, _ in added}
    assert not held_out & {english.split()[-1] for _, english in added}


def test_parse_alternatives_keeps_sentences_only():
    from keras_transformer_bit.data.ding_corpus import parse_ding_alternatives

    line = (
        "Haus {n} | Das Haus ist alt.; Das Haus ist nicht neu. :: house | "
        "The house is old.; old house"
    )
    assert parse_ding_alternatives(line) == [
        (
            ("Das Haus ist alt.", "The house is old."),
            [("Das Haus ist nicht neu.", "The house is old.")],
        )
    ]
    assert parse_ding_alternatives(LINES[1]) == []  # no other wording
    assert parse_ding_alternatives(LINES[5]) == []  # misaligned


def test_a_file_without_ding_entries_is_not_an_empty_lexicon(tmp_path):
    # Found by a user trial: a TSV file gave {} silently.
    from keras_transformer_bit.data import load_ding_lexicon

    path = tmp_path / "lexicon.tsv"
    path.write_text("Hund\tdog\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lexicon.tsv holds no Ding entries"):
        load_ding_lexicon(str(path))


def test_a_directory_is_not_a_ding_lexicon(tmp_path):
    # Found by a user trial: a bare IsADirectoryError.
    from keras_transformer_bit.data import load_ding_lexicon

    with pytest.raises(IsADirectoryError, match=r"is a directory; expected the Ding"):
        load_ding_lexicon(str(tmp_path))
