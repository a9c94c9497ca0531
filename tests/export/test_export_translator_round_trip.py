"""Quoted words survive the exported translator, served without our package.

An untrained model translates into noise, so the translator here is a tiny
Transformer trained to reproduce three translations that hold quotation marks
("", «», '') exactly. Served by a fresh process that imports only tensorflow and
tensorflow_text, the SavedModel must return them word for word: the graph's
detokenizer once dropped every quoted span (RE2 refused the quote rewrite).
"""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from keras_transformer_bit.data import SubwordTokenizer
from tests.tiny_translation import tiny_model

PAIRS = [
    ("Er sagte „hallo da“ zu mir.", 'He said "hello there" to me.'),
    ("Das „Haus“ ist alt.", "The «Haus» is old."),
    ("Sie sagte ‚ja‘.", "She said 'yes, it's fine'."),
]

SERVE = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
loaded = tf.saved_model.load(sys.argv[1])
texts = tf.constant(json.loads(sys.argv[2]))
if sys.argv[3] == "serving_default":
    outputs = loaded.signatures["serving_default"](text=texts)["translation"]
else:
    outputs = loaded.round_trip(texts)
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("keras_transformer_bit")),
    "outputs": [t.decode() for t in outputs.numpy()],
}))
"""


def _serve(path, texts, endpoint):
    """Runs `endpoint` of the SavedModel in a fresh process; (outputs, stderr)."""
    environment = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)  # RE2 logs regardless; be sure
    process = subprocess.run(
        [sys.executable, "-c", SERVE, path, json.dumps(texts), endpoint],
        capture_output=True,
        text=True,
        timeout=240,
        env=environment,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    result = json.loads(process.stdout.strip().splitlines()[-1])
    assert result["modules"] == []  # our package was not imported
    return result["outputs"], process.stderr


def _words(text):
    return re.findall(r"[^\W_]+", text)


@pytest.fixture(scope="module")
def translator():
    pieces = {
        piece
        for pair in PAIRS
        for text in pair
        for piece in re.findall(r"[^\W_]+|[^\w\s]", text)
    }
    tokenizer = SubwordTokenizer(
        ["[PAD]", "[UNK]", "[START]", "[END]"] + sorted(pieces)
    )
    sources = tokenizer.tokenize(tf.constant([s for s, _ in PAIRS])).to_tensor()
    targets = tokenizer.tokenize(tf.constant([t for _, t in PAIRS]))
    # [START] target [END], padded with one spare column.
    rows = [
        [tokenizer.start_id] + row + [tokenizer.end_id] for row in targets.to_list()
    ]
    width = max(len(row) for row in rows) + 1
    targets = np.array([row + [0] * (width - len(row)) for row in rows])
    model = tiny_model(seed=0, vocabulary_size=tokenizer.vocabulary_size)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=0
        ),
    )
    inputs = {"encoder_inputs": sources.numpy(), "decoder_inputs": targets[:, :-1]}
    model.fit(inputs, targets[:, 1:], epochs=150, batch_size=len(PAIRS), verbose=0)
    return ktb.Translator(model, tokenizer, tokenizer, method="greedy", max_length=20)


@pytest.mark.large
def test_served_translations_keep_quoted_words(translator, tmp_path):
    sources = [source for source, _ in PAIRS]
    expected = [target for _, target in PAIRS]
    # The model learned its three translations (else the test proves nothing).
    assert translator(sources) == expected
    path = str(tmp_path / "translator")
    ktb.export.export_translator(translator, path)
    outputs, stderr = _serve(path, sources, "serving_default")
    assert outputs == expected
    assert [_words(o) for o in outputs] == [_words(t) for t in expected]
    assert "invalid rewrite pattern" not in stderr


class _RoundTrip(tf.Module):
    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(self, strings):
        return self.tokenizer.detokenize(self.tokenizer.tokenize(strings))


def test_saved_tokenizer_keeps_quotes_of_every_kind(tmp_path):
    texts = [
        'He said "hello there" to me.',
        "„Ich bin schwanger“, sagte sie.",
        "“Quoted,” she said. ‘Hi,’ he said.",
        "«Bonjour», dit-il. ‚Na‘, sagte er.",
        "It's 'fine' now, isn't it?",
    ]
    tokenizer = SubwordTokenizer.build(texts * 3, vocabulary_size=1400)
    path = str(tmp_path / "round_trip")
    tf.saved_model.save(_RoundTrip(tokenizer), path)
    outputs, stderr = _serve(path, texts, "round_trip")
    assert outputs == texts
    assert "invalid rewrite pattern" not in stderr
