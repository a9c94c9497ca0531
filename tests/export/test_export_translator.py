import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

import keras_transformer_bit as ktb
from tests.tiny_translation import (
    MBR_TEXTS,
    tiny_mbr_translator,
    tiny_model,
    tiny_tokenizer,
)

TEXTS = ["Ich bin seit fünf Tagen hier.", "", "Du bist dort!", "wir sind hier ?"]

LOAD_AND_TRANSLATE = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
served = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
outputs = served(text=tf.constant(json.loads(sys.argv[2])))
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith("keras_transformer_bit")),
    "translation": [t.decode() for t in outputs["translation"].numpy()],
    "scores": outputs["scores"].numpy().tolist(),
}))
"""

# saved_model_cli with the tensorflow-text ops registered, as its docs suggest
# for custom ops.
SAVED_MODEL_CLI = """
import sys
import tensorflow_text  # noqa: F401
from tensorflow.python.tools import saved_model_cli
sys.argv = ["saved_model_cli"] + sys.argv[1:]
saved_model_cli.main()
"""


# Every shape TF Serving's REST API can send: a scalar (one string), the row
# form (a vector), the columnar form of a 2-D input, empty strings, no strings.
CALL_WITH_EVERY_SHAPE = """
import json, sys
import tensorflow as tf
import tensorflow_text  # noqa: F401
served = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
results = []
for text in json.loads(sys.argv[2]):
    outputs = served(text=tf.constant(text, tf.string))
    results.append({
        "shape": outputs["translation"].shape.as_list(),
        "scores_shape": outputs["scores"].shape.as_list(),
        "translation": [
            t.decode() for t in tf.reshape(outputs["translation"], [-1]).numpy()
        ],
    })
print(json.dumps(results))
"""


def _python(code, *args):
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""},
    )


def _finish(process):
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr[-3000:]
    return stdout


@pytest.fixture(scope="module")
def translator():
    tokenizer = tiny_tokenizer()
    return ktb.Translator(
        tiny_model(seed=1), tokenizer, tokenizer, beam_size=3, max_length=10
    )


@pytest.mark.large
def test_export_runs_without_our_package(translator, tmp_path):
    path = str(tmp_path / "translator" / "1")
    assert ktb.export.export_translator(translator, path) == path
    expected, expected_scores = translator.translate(TEXTS)
    assert expected[1] == ""

    # Three fresh processes at once: plain TF + tensorflow_text loading,
    # `saved_model_cli show --all`, and `saved_model_cli run`.
    load = _python(LOAD_AND_TRANSLATE, path, json.dumps(TEXTS))
    show = _python(SAVED_MODEL_CLI, "show", "--dir", path, "--all")
    run = _python(
        SAVED_MODEL_CLI,
        "run",
        "--dir",
        path,
        "--tag_set",
        "serve",
        "--signature_def",
        "serving_default",
        "--input_exprs",
        "text=['Du bist dort!', '']",
    )

    result = json.loads(_finish(load).strip().splitlines()[-1])
    assert result["modules"] == []  # our package was not imported
    assert result["translation"] == expected
    assert result["scores"] == pytest.approx(expected_scores, abs=1e-5)

    shown = _finish(show)
    assert "signature_def['serving_default']" in shown
    assert "inputs['text'] tensor_info:" in shown
    assert "outputs['translation'] tensor_info:" in shown
    assert "outputs['scores'] tensor_info:" in shown
    # Any shape goes in (and the same shape comes out).
    assert "dtype: DT_STRING" in shown and "shape: unknown_rank" in shown

    ran = _finish(run)
    assert "Result for output key translation:" in ran
    assert repr(expected[2].encode()) in ran


@pytest.mark.large
def test_an_xla_export_loads_and_runs_in_a_fresh_process(translator, tmp_path):
    """`jit_compile=True` writes the decoding loop as an XLA function: a fresh
    process and `saved_model_cli run` run it, with the translations of the
    default export."""
    plain = ktb.export.export_translator(translator, str(tmp_path / "plain" / "1"))
    path = ktb.export.export_translator(
        translator, str(tmp_path / "xla" / "1"), jit_compile=True
    )
    graph = tf.saved_model.load(path).signatures["serving_default"].graph
    marked = [
        fn.signature.name
        for fn in graph.as_graph_def().library.function
        if "_XlaMustCompile" in fn.attr and fn.attr["_XlaMustCompile"].b
    ]
    assert marked, "no function of the export is compiled with XLA"
    load = _python(LOAD_AND_TRANSLATE, path, json.dumps(TEXTS))
    load_plain = _python(LOAD_AND_TRANSLATE, plain, json.dumps(TEXTS))
    run = _python(
        SAVED_MODEL_CLI, "run", "--dir", path, "--tag_set", "serve",
        "--signature_def", "serving_default", "--input_exprs", "text=['Du bist dort!']",
    )  # fmt: skip
    result = json.loads(_finish(load).strip().splitlines()[-1])
    expected = json.loads(_finish(load_plain).strip().splitlines()[-1])
    assert result["translation"] == expected["translation"]
    assert result["scores"] == pytest.approx(expected["scores"], abs=1e-4)
    assert "Result for output key translation:" in _finish(run)


@pytest.mark.large
def test_sampling_export_and_atomic_write(translator, tmp_path, monkeypatch):
    path = tmp_path / "translator"
    options = dict(method="top_k", top_k=3, seed=5)
    ktb.export.export_translator(translator, str(path), **options)
    before = sorted(os.listdir(path))
    assert "saved_model.pb" in before
    # A seeded sampler restarts its stream at every request.
    served = tf.saved_model.load(str(path)).signatures["serving_default"]
    first = served(text=tf.constant(TEXTS))["translation"].numpy().tolist()
    second = served(text=tf.constant(TEXTS))["translation"].numpy().tolist()
    in_process = ktb.Translator(
        translator.model,
        translator.source_tokenizer,
        translator.target_tokenizer,
        max_length=translator.max_length,
        **options,
    )(TEXTS)
    assert first == second == [t.encode() for t in in_process]

    def fail(obj, directory, *args, **kwargs):
        with open(os.path.join(directory, "saved_model.pb"), "w") as f:
            f.write("half")
        raise RuntimeError("disk full")

    # An existing export is never replaced: the next version is named.
    with pytest.raises(FileExistsError, match="already exists"):
        ktb.export.export_translator(translator, str(path), method="greedy")
    assert sorted(os.listdir(path)) == before
    monkeypatch.setattr(tf.saved_model, "save", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        ktb.export.export_translator(translator, str(tmp_path / "other"))
    # The old export is untouched and no staging directory is left behind.
    assert sorted(os.listdir(path)) == before
    assert os.path.getsize(path / "saved_model.pb") > 100
    assert os.listdir(tmp_path) == ["translator"]


def test_bad_arguments(translator, tmp_path):
    with pytest.raises(ValueError, match="translator must be a"):
        ktb.export.export_translator("model", str(tmp_path / "x"))
    with pytest.raises(ValueError, match="Received: method='nucleus'"):
        ktb.export.export_translator(translator, str(tmp_path / "x"), method="nucleus")
    assert not os.path.exists(tmp_path / "x")


@pytest.mark.large
def test_served_in_any_shape_without_crash_or_loss(translator, tmp_path):
    path = str(tmp_path / "translator")
    ktb.export.export_translator(translator, path)
    expected = translator(TEXTS)
    inputs = [
        TEXTS[0],
        TEXTS,
        [TEXTS[:2], TEXTS[2:]],
        ["", "   "],
        "",
        [],
        [[], []],
    ]
    process = _python(CALL_WITH_EVERY_SHAPE, path, json.dumps(inputs))
    stdout, stderr = process.communicate(timeout=240)
    # A negative return code is a crash (the scalar used to segfault).
    assert process.returncode == 0, (process.returncode, stderr[-3000:])
    results = json.loads(stdout.strip().splitlines()[-1])
    assert [r["shape"] for r in results] == [[], [4], [2, 2], [2], [], [0], [2, 0]]
    assert all(r["scores_shape"] == r["shape"] for r in results)
    translations = [r["translation"] for r in results]
    assert translations[:5] == [expected[:1], expected, expected, ["", ""], [""]]
    assert translations[5:] == [[], []]


@pytest.mark.large
def test_an_mbr_translator_exports_its_choice(tmp_path):
    tokenizer = tiny_tokenizer()
    mbr = tiny_mbr_translator(tiny_model(seed=0), tokenizer)
    texts = MBR_TEXTS + [""]
    expected, expected_scores = mbr.translate(texts)
    top_1 = ktb.Translator(
        mbr.model, tokenizer, tokenizer, beam_size=5, length_penalty=1.0, max_length=10
    )
    assert expected != top_1(texts)  # the choice shows in the export below
    path = str(tmp_path / "mbr" / "1")
    ktb.export.export_translator(mbr, path)
    # A fresh process without our package serves the same choice.
    result = json.loads(
        _finish(_python(LOAD_AND_TRANSLATE, path, json.dumps(texts)))
        .strip()
        .splitlines()[-1]
    )
    assert result["modules"] == []
    assert result["translation"] == expected
    assert result["scores"] == pytest.approx(expected_scores, abs=1e-5)
    # A method name replaces the translator's decoding, MBR included.
    greedy = str(tmp_path / "greedy" / "1")
    ktb.export.export_translator(mbr, greedy, method="greedy", max_length=10)
    served = tf.saved_model.load(greedy).signatures["serving_default"]
    translated = served(text=tf.constant(texts))["translation"].numpy()
    greedy_translator = ktb.Translator(
        mbr.model, tokenizer, tokenizer, method="greedy", max_length=10
    )
    assert [t.decode() for t in translated] == greedy_translator(texts)
