"""bench/training_speed.py: real target tokens per second, ours vs keras-hub."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

BENCH = pathlib.Path(__file__).parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import training_speed  # noqa: E402
import translation_quality  # noqa: E402

from keras_transformer_bit.data import SubwordTokenizer  # noqa: E402
from keras_transformer_bit.models.transformer.transformer_presets import (  # noqa: E402
    transformer_presets,
)

PAIRS = [(f"ich bin hier {n} .", f"i am here {n} .") for n in range(40)]


def test_fixed_length_batches_pad_every_pair_to_max_length():
    tokenizer = SubwordTokenizer.build(
        [s for pair in PAIRS for s in pair], vocabulary_size=80
    )
    batches = list(
        translation_quality.fixed_length_dataset(
            PAIRS, tokenizer, batch_size=16, max_length=12
        )
    )
    assert [int(y.shape[0]) for _, y in batches] == [16, 16, 8]
    for x, y in batches:
        assert x["encoder_inputs"].shape[1] == x["decoder_inputs"].shape[1] == 12
        labels, decoder = y.numpy(), x["decoder_inputs"].numpy()
        assert np.all(decoder[:, 0] == tokenizer.start_id)
        # Labels are the decoder inputs shifted by one, ending with [END].
        lengths = np.count_nonzero(labels, axis=1)
        shifted = decoder[:, 1:] > 0
        np.testing.assert_array_equal(decoder[:, 1:][shifted], labels[:, :-1][shifted])
        assert all(labels[i, n - 1] == tokenizer.end_id for i, n in enumerate(lengths))
    batches, real = training_speed.take_batches(
        translation_quality.fixed_length_dataset(
            PAIRS, tokenizer, batch_size=16, max_length=12
        ),
        5,
    )
    assert len(batches) == 5
    assert real == sum(int(np.count_nonzero(y.numpy())) for _, y in batches)


def test_the_keras_hub_model_has_our_size():
    config = {
        **transformer_presets["transformer_small"]["config"],
        "vocabulary_size": 500,
    }
    hub = training_speed.keras_hub_transformer(config, max_length=48)
    ids = np.ones((2, 7), "int32")
    logits = hub({"encoder_inputs": ids, "decoder_inputs": ids})
    assert tuple(logits.shape) == (2, 7, 500)
    names = [layer.__class__.__name__ for layer in hub.layers]
    assert names.count("TransformerEncoder") == names.count("TransformerDecoder") == 3


def _quick_run(output, *flags):
    """Runs `training_speed.py --quick` with `flags`; returns its JSON."""
    result = subprocess.run(
        [sys.executable, str(BENCH / "training_speed.py"), "--quick", *flags,
         "--output", str(output)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(output.read_text())


@pytest.mark.large
@pytest.mark.timeout(600)
def test_a_quick_run_reports_every_contender_and_ratio(tmp_path):
    saved = _quick_run(tmp_path / "speed.json")
    assert set(saved["tokens_per_second"]) == {
        "ours bucketed", "keras-hub bucketed", "ours fixed", "keras-hub fixed"
    }  # fmt: skip
    assert all(v > 0 for v in saved["tokens_per_second"].values())
    assert len(saved["ratios"]) == 3
    assert (
        "| end to end: ours bucketed / keras-hub fixed |"
        in (tmp_path / "speed.md").read_text()
    )


@pytest.mark.large
@pytest.mark.timeout(600)
def test_a_quick_switches_run_compares_each_setting_with_float32(tmp_path):
    saved = _quick_run(tmp_path / "switches.json", "--switches")
    assert list(saved["tokens_per_second"]) == [
        "float32", "XLA", "mixed_bfloat16", "XLA + mixed_bfloat16"
    ]  # fmt: skip
    assert all(v > 0 for v in saved["tokens_per_second"].values())
    table = (tmp_path / "switches.md").read_text()
    assert "| float32 |" in table and "| 1.00x |" in table


def test_the_closed_form_is_the_same_loss():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 11)).astype("float32")
    labels = np.array([[4, 2, 7, 0, 0], [1, 10, 3, 5, 0], [6, 0, 0, 0, 0]])
    ours = training_speed.LabelSmoothedCrossEntropy(label_smoothing=0.1)
    closed = training_speed.ClosedFormLabelSmoothing(label_smoothing=0.1)
    np.testing.assert_allclose(
        float(closed(labels, logits)), float(ours(labels, logits)), rtol=1e-6
    )


@pytest.mark.large
@pytest.mark.timeout(600)
def test_a_quick_losses_run_compares_the_closed_form_with_ours(tmp_path):
    saved = _quick_run(tmp_path / "losses.json", "--losses")
    assert list(saved["tokens_per_second"]) == ["ours", "closed form"]
    assert saved["closed form / ours"] > 0
    assert "| closed form |" in (tmp_path / "losses.md").read_text()
