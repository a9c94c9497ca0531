"""bench/serving.py: the served translator against the in-process one."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import serving  # noqa: E402

from tests.tiny_translation import tiny_model, tiny_tokenizer  # noqa: E402


def test_in_process_measures_throughput_latency_and_sorting():
    import keras_transformer_bit as ktb

    tokenizer = tiny_tokenizer()
    translator = ktb.Translator(
        tiny_model(), tokenizer, tokenizer, method="greedy", max_length=6
    )
    sentences = ["ich bin hier", "du", "wir sind seit fünf tagen dort !"] * 30
    measured = serving.in_process(translator, sentences, latency_count=4)
    assert measured["throughput"] > 0 and measured["sorted_throughput"] > 0
    assert len(measured["latencies"]) == 4 and min(measured["latencies"]) > 0


@pytest.mark.large
@pytest.mark.timeout(900)
def test_a_quick_run_measures_every_contender(tmp_path):
    output = tmp_path / "serving.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "serving.py"), "--quick", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads(output.read_text())
    for method in ("beam", "greedy"):
        assert set(saved[method]) == {
            "in-process jit",
            "in-process, no XLA",
            "served",
            "served, XLA export",
        }
        for measured in saved[method].values():
            assert measured["throughput"] > 0 and len(measured["latencies"]) == 5
    # The beam's decoder rows without the search: greedy on beam_size copies.
    assert set(saved["floor"]) == {"in-process jit", "in-process, no XLA"}
    assert all(value > 0 for value in saved["floor"].values())
    table = (tmp_path / "serving.md").read_text()
    assert "best served / in-process jit" in table
    # The bench's default beam is the recipe's.
    from keras_transformer_bit.recipes import translation_recipe

    beam_size = translation_recipe().beam_size
    assert f"greedy on {beam_size} copies of each sentence" in table
    assert f"beam {beam_size} time / greedy time (served)" in table


def test_decoder_rows_floor_translates_every_sentence_copies_times():
    import keras_transformer_bit as ktb

    tokenizer = tiny_tokenizer()
    translator = ktb.Translator(
        tiny_model(), tokenizer, tokenizer, method="greedy", max_length=6
    )
    calls = []
    original = translator.__class__.__call__

    def counting(self, texts):
        calls.append(list(texts))
        return original(self, texts)

    translator.__class__.__call__ = counting
    try:
        sentences = [f"ich bin {i}" for i in range(70)]
        rate = serving.decoder_rows_floor(translator, sentences, copies=3)
    finally:
        translator.__class__.__call__ = original
    assert rate > 0
    # Warm-up and timed pass: batches of 64 sentences, each 3 times in a row.
    timed = calls[len(calls) // 2 :]
    assert [len(batch) for batch in timed] == [192, 18]
    assert timed[1] == [s for s in sentences[64:] for _ in range(3)]
