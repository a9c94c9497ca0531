"""bench/tokenizer_choice.py: WordPiece vs SentencePiece by validation BLEU."""

import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parents[2] / "bench"))

import ding_tokenizer  # noqa: E402
import tokenizer_choice  # noqa: E402

from keras_transformer_bit.data import (  # noqa: E402
    ParallelCorpus,
    SentencePieceTokenizer,
    SubwordTokenizer,
)

GERMAN = "ich du er wir sie bin bist ist sind hier dort heute morgen haus".split()
ENGLISH = "i you he we they am are is are here there today tomorrow house".split()
PAIRS = [
    (
        " ".join(GERMAN[(n * 7 + k * 3) % len(GERMAN)] for k in range(2 + n % 5))
        + f" {n}.",
        " ".join(ENGLISH[(n * 7 + k * 3) % len(ENGLISH)] for k in range(2 + n % 5))
        + f" {n}.",
    )
    for n in range(160)
]


@pytest.fixture(scope="module")
def corpus():
    return ParallelCorpus.from_pairs(PAIRS, test_size=10, validation_size=12)


def test_each_arm_builds_its_tokenizer(corpus):
    texts = [sentence for pair in corpus.train for sentence in pair]
    wordpiece = tokenizer_choice.build_tokenizer("wordpiece", texts, 120)
    unigram = tokenizer_choice.build_tokenizer("sentencepiece", texts, 320)
    sampled = tokenizer_choice.build_tokenizer("sentencepiece_sampling", texts, 320)
    assert isinstance(wordpiece, SubwordTokenizer)
    assert isinstance(unigram, SentencePieceTokenizer)
    assert unigram.vocabulary == sampled.vocabulary
    with pytest.raises(ValueError, match=r"arm.*'wordpiece'.*Received: arm='bytes'"):
        tokenizer_choice.build_tokenizer("bytes", texts, 320)


def test_report_gives_the_ratio_to_wordpiece():
    results = [
        {"arm": "wordpiece", "validation_bleu": 10.0, "epochs": 3},
        {"arm": "sentencepiece", "validation_bleu": 12.5, "epochs": 3},
        {"arm": "sentencepiece_sampling", "validation_bleu": 9.0, "epochs": 2},
    ]
    tokenizer_choice.add_ratios(results)
    assert [r["ratio_to_wordpiece"] for r in results] == [1.0, 1.25, 0.9]
    table = tokenizer_choice.markdown_table(results)
    assert "| sentencepiece | 12.50 | 1.25 |" in table.replace("  ", " ")


def test_ratio_is_none_without_a_wordpiece_score():
    results = [{"arm": "sentencepiece", "validation_bleu": 3.0}]
    tokenizer_choice.add_ratios(results)
    assert results[0]["ratio_to_wordpiece"] is None


def test_ding_tokenizer_keeps_the_kind_it_was_asked_for(corpus, tmp_path):
    directory = str(tmp_path / "spm")
    built = ding_tokenizer.load_or_build_tokenizer(
        corpus, directory, 320, kind="sentencepiece"
    )
    loaded = ding_tokenizer.load_or_build_tokenizer(
        corpus, directory, 320, kind="sentencepiece"
    )
    assert isinstance(loaded, SentencePieceTokenizer)
    assert loaded.vocabulary == built.vocabulary
    with pytest.raises(ValueError, match=r"holds a SentencePieceTokenizer.*wordpiece"):
        ding_tokenizer.load_or_build_tokenizer(corpus, directory, 320)


@pytest.mark.large
def test_a_tiny_run_of_every_arm_writes_table_and_json(corpus, tmp_path):
    output = tmp_path / "choice.json"
    results = tokenizer_choice.run(
        corpus,
        minutes=0.02,
        vocabulary_sizes={"wordpiece": 120, "sentencepiece": 320},
        alpha=0.1,
        seed=1,
        output=str(output),
        recipe_changes={"max_length": 48, "tokens_per_batch": 512},
    )
    assert [r["arm"] for r in results] == list(tokenizer_choice.ARMS)
    saved = json.loads(output.read_text())
    assert [r["arm"] for r in saved["results"]] == list(tokenizer_choice.ARMS)
    for result in saved["results"]:
        assert 0 <= result["validation_bleu"] <= 100
        assert result["epochs"] >= 1
    assert (tmp_path / "choice.md").read_text().count("\n| ") == 4
