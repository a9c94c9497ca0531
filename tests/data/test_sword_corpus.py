import os

import pytest

from keras_transformer_bit.data.sword_corpus import (
    SWORD_PATH,
    clean_osis,
    load_sword_en_es,
)


def test_clean_osis():
    text = (
        '<w lemma="strong:H0430">God</w><note placement="foot">A note.</note>'
        '<w lemma="x">created</w> <w>light</w>. <div eID="gen25" type="x-p"/>'
    )
    assert clean_osis(text) == "God created light."


def test_missing_modules_print_install_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install sword-text-web"):
        load_sword_en_es(sword_path=str(tmp_path))
    with pytest.raises(ValueError, match="source_language"):
        load_sword_en_es(source_language="de")


@pytest.mark.skipif(
    not os.path.exists(os.path.join(SWORD_PATH, "mods.d")), reason="sword missing"
)
def test_reads_aligned_verses():
    corpus = load_sword_en_es(books=["Ruth"], test_size=5, validation_size=5)
    pairs = corpus.train + corpus.validation + corpus.test
    assert len(pairs) == 85  # Ruth has 85 verses in both versions
    by_source = dict(pairs)
    first = next(s for s in by_source if s.startswith("In the days when the judges"))
    assert "jueces" in by_source[first]
    reverse = load_sword_en_es("es", books=["Ruth"], test_size=0, validation_size=0)
    assert reverse.source_language == "es"
    assert sorted(reverse.train) == sorted((t, s) for s, t in pairs)
