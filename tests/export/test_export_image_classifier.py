import json
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_transformer_bit.data.image_preprocessing import decode_image
from keras_transformer_bit.export import export_image_classifier
from keras_transformer_bit.models import BiTClassifier

# Runs in a fresh interpreter: only TensorFlow, not this package, is imported.
_SERVE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    path, images_path, out_path = sys.argv[1:]
    serving = tf.saved_model.load(path).signatures["serving_default"]
    images = np.load(images_path, allow_pickle=True)["images"]
    outputs = serving(images=tf.constant(list(images), tf.string))
    arrays = {k: v.numpy() for k, v in outputs.items()}
    arrays["top_class_name"] = arrays["top_class_name"].astype(str)
    np.savez(out_path, **arrays)
    print(json.dumps(sorted(outputs)))
    """
)


@pytest.mark.large
def test_export_serves_bytes_in_fresh_process(tmp_path):
    keras.utils.set_random_seed(0)
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=3)
    head = classifier.head
    head.kernel.assign(np.random.default_rng(0).normal(size=head.kernel.shape) * 0.1)
    rng = np.random.default_rng(1)
    encoded = [
        tf.io.encode_png(rng.integers(0, 255, (40, 30, 3), "uint8")),
        tf.io.encode_jpeg(rng.integers(0, 255, (20, 20, 3), "uint8")),
        tf.io.encode_png(rng.integers(0, 255, (25, 33, 1), "uint8")),  # gray
        tf.io.encode_png(rng.integers(0, 255, (32, 32, 4), "uint8")),  # RGBA
    ]
    encoded = np.array([bytes(e.numpy()) for e in encoded], dtype=object)
    path = os.path.join(tmp_path, "served")
    export_image_classifier(
        classifier, path, image_size=24, class_names=["a", "b", "c"]
    )
    assert sorted(os.listdir(tmp_path)) == ["served"]  # no staging leftovers

    np.savez(tmp_path / "images.npz", images=encoded)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _SERVE_SCRIPT,
            path,
            str(tmp_path / "images.npz"),
            str(tmp_path / "out.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    keys = json.loads(result.stdout.strip().splitlines()[-1])
    assert keys == ["logits", "probabilities", "top_class", "top_class_name"]
    served = np.load(tmp_path / "out.npz")

    pixels = tf.stack([tf.image.resize(decode_image(e), [24, 24]) for e in encoded])
    expected = classifier(pixels, training=False).numpy()
    np.testing.assert_allclose(served["logits"], expected, atol=1e-4)
    np.testing.assert_allclose(
        served["probabilities"], tf.nn.softmax(expected).numpy(), atol=1e-5
    )
    np.testing.assert_array_equal(served["top_class"], expected.argmax(-1))
    np.testing.assert_array_equal(
        served["top_class_name"], np.array(["a", "b", "c"])[expected.argmax(-1)]
    )


def test_export_bad_input(tmp_path):
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    with pytest.raises(ValueError, match="class_names"):
        export_image_classifier(classifier, str(tmp_path / "x"), 16, ["only one"])
    with pytest.raises(ValueError, match="image_size"):
        export_image_classifier(classifier, str(tmp_path / "x"), image_size=(0, 4))
    with pytest.raises(ValueError, match="Keras model"):
        export_image_classifier(object(), str(tmp_path / "x"))
    assert os.listdir(tmp_path) == []


def _png(shape, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 255, shape, "uint8")
    return bytes(tf.io.encode_png(pixels).numpy())


@pytest.mark.large
def test_export_serves_at_the_fine_tuned_resolution(tmp_path):
    import dataclasses

    from keras_transformer_bit.data import LabeledImages
    from keras_transformer_bit.recipes import bit_fine_tune, bit_hyperrule

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    data = LabeledImages(
        rng.integers(0, 255, (8, 40, 40, 3), "uint8"), np.arange(8) % 2, ["a", "b"]
    )
    rule = dataclasses.replace(
        bit_hyperrule(len(data), data.image_size).with_crop_size(32),
        supports=(1, 2, 3),
        batch_size=8,
    )
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    bit_fine_tune(classifier, data, rule, seed=0, verbose=0, jit_compile=False)
    assert classifier.image_size == (32, 32)
    assert classifier.class_names == ["a", "b"]

    path = export_image_classifier(classifier, str(tmp_path / "served"))
    served = tf.saved_model.load(path).signatures["serving_default"]
    image = _png((50, 41, 3))
    outputs = served(images=tf.constant([image]))
    resized = tf.image.resize(decode_image(image), [32, 32])[tf.newaxis]
    expected = classifier(resized, training=False).numpy()
    assert np.abs(expected).max() > 1e-3  # trained, not the zero head
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, atol=1e-4)
    # The class names travelled with the model.
    assert (
        outputs["top_class_name"].numpy()[0].decode()
        == ["a", "b"][int(expected.argmax())]
    )


@pytest.mark.large
def test_features_signature_and_bad_images(tmp_path):
    keras.utils.set_random_seed(0)
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=3, image_size=24)
    path = export_image_classifier(classifier, str(tmp_path / "served"))
    loaded = tf.saved_model.load(path)
    images = [_png((30, 20, 3)), _png((24, 24, 4), seed=1)]
    features = loaded.signatures["features"](images=tf.constant(images))
    pixels = tf.stack([tf.image.resize(decode_image(e), [24, 24]) for e in images])
    expected = classifier.feature_extractor()(pixels).numpy()
    assert features["features"].shape == (2, classifier.backbone.num_features)
    np.testing.assert_allclose(features["features"].numpy(), expected, atol=1e-4)

    serve = loaded.signatures["serving_default"]
    for bad, why in [
        (b"", "empty"),
        (b"/home/me/cat.jpg", "not a JPEG, PNG, GIF, BMP or WebP"),
    ]:
        with pytest.raises(tf.errors.InvalidArgumentError) as error:
            serve(images=tf.constant([images[0], bad]))
        message = str(error.value)
        assert "images[1]" in message and why in message


def _webp(shape, seed=0):
    Image = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(seed).integers(0, 255, shape, "uint8")
    buffer = __import__("io").BytesIO()
    Image.fromarray(pixels).save(buffer, "WEBP", lossless=True)
    return buffer.getvalue()


# Calls serving_default with awkward inputs in a fresh interpreter (only
# TensorFlow imported), as TF Serving would; each call's result or error is
# recorded, and the process must live through all of them.
_AWKWARD_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    path, images_path, out_path = sys.argv[1:]
    serve = tf.saved_model.load(path).signatures["serving_default"]
    features = tf.saved_model.load(path).signatures["features"]
    arrays = np.load(images_path, allow_pickle=True)
    jpeg, webp = bytes(arrays["jpeg"]), bytes(arrays["webp"])
    cases = {
        "empty": tf.constant([], tf.string),
        "scalar": tf.constant(jpeg),
        "matrix": tf.constant([[jpeg, jpeg]]),
        "truncated_jpeg": tf.constant([jpeg, jpeg[: len(jpeg) // 2]]),
        "webp": tf.constant([webp]),
    }
    report = {}
    for name, images in cases.items():
        try:
            outputs = serve(images=images)
            report[name] = {k: v.numpy().tolist() for k, v in outputs.items()
                            if k != "top_class_name"}
        except tf.errors.InvalidArgumentError as error:
            report[name] = {"error": error.message}
    empty_features = features(images=cases["empty"])["features"]
    report["empty_features"] = empty_features.shape.as_list()
    report["after"] = serve(images=tf.constant([jpeg]))["logits"].numpy().tolist()
    json.dump(report, open(out_path, "w"))
    """
)


@pytest.mark.large
def test_awkward_inputs_in_a_fresh_process(tmp_path):
    keras.utils.set_random_seed(0)
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=3, image_size=24)
    head = classifier.head
    head.kernel.assign(np.random.default_rng(0).normal(size=head.kernel.shape) * 0.1)
    path = export_image_classifier(classifier, str(tmp_path / "served"))
    pixels = np.random.default_rng(1).integers(0, 255, (30, 20, 3), "uint8")
    jpeg = bytes(tf.io.encode_jpeg(pixels).numpy())
    webp = _webp((26, 31, 3))
    np.savez(tmp_path / "images.npz", jpeg=np.void(jpeg), webp=np.void(webp))
    result = subprocess.run(
        [sys.executable, "-c", _AWKWARD_SCRIPT, path,
         str(tmp_path / "images.npz"), str(tmp_path / "report.json")],
        capture_output=True, text=True, timeout=240,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())

    # An empty batch gives empty outputs, as the translator's signature does.
    assert report["empty"]["logits"] == [] and report["empty"]["top_class"] == []
    assert report["empty_features"] == [0, classifier.backbone.num_features]
    # A scalar or a 2-D tensor: what was received and what is expected.
    for name, shape in [("scalar", r"\[\]"), ("matrix", r"\[1 2\]")]:
        message = report[name]["error"]
        assert re.search(r"1-D batch of encoded images.*shape " + shape, message), (
            message
        )
    message = report["truncated_jpeg"]["error"]
    assert "images[1]" in message and "truncated JPEG" in message, message
    # WebP, which training reads, is served too.
    expected = classifier(
        tf.image.resize(decode_image(webp), [24, 24])[tf.newaxis], training=False
    ).numpy()
    np.testing.assert_allclose(report["webp"]["logits"], expected, atol=1e-4)
    # The process went on serving after every error.
    assert len(report["after"]) == 1


@pytest.mark.large
def test_plain_fit_at_32_px_is_served_at_32_px(tmp_path):
    # No bit_fine_tune and no image_size: the classifier records the
    # resolution `fit` trained it at, saves it, and the export serves at it.
    keras.utils.set_random_seed(0)
    classifier = BiTClassifier.from_preset("bit_tiny", num_classes=2)
    assert classifier.image_size == (224, 224)  # the preset's, before training
    classifier.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (4, 32, 32, 3)).astype("float32")
    classifier.fit(images, np.eye(2)[[0, 1, 0, 1]], epochs=1, verbose=0)
    assert classifier.image_size == (32, 32)
    classifier.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert reloaded.image_size == (32, 32)

    path = export_image_classifier(reloaded, str(tmp_path / "served" / "1"))
    served = tf.saved_model.load(path).signatures["serving_default"]
    image = _png((50, 41, 3))
    logits = served(images=tf.constant([image]))["logits"].numpy()
    resized = tf.image.resize(decode_image(image), [32, 32])[tf.newaxis]
    expected = classifier(resized, training=False).numpy()
    assert np.abs(expected).max() > 1e-3  # trained, not the zero head
    np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_a_model_of_unknown_resolution_warns_how_to_set_it(tmp_path):
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs))
    model = keras.Model(inputs, outputs)
    with pytest.warns(UserWarning, match=r"224x224.*image_size="):
        export_image_classifier(model, str(tmp_path / "served"))


def _tiny_model():
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inputs))
    return keras.Model(inputs, outputs)


def test_an_existing_output_is_refused_and_left_as_it_is(tmp_path):
    model = _tiny_model()
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"folder already exists.*new path"):
        export_image_classifier(model, str(folder))
    assert (folder / "notes.txt").read_text() == "keep me"

    # A version TF Serving may have loaded: refused, naming the next version.
    base = tmp_path / "served" / "bit"
    export_image_classifier(model, str(base / "1"))
    (base / "2").mkdir()
    before = sorted(os.listdir(base / "1"))
    with pytest.raises(FileExistsError, match=r"bit/1 already exists.*bit/3"):
        export_image_classifier(model, str(base / "1"))
    assert sorted(os.listdir(base / "1")) == before
    # The base directory itself: refused, naming its next version.
    with pytest.raises(FileExistsError, match=r"bit already exists.*bit/3"):
        export_image_classifier(model, str(base))
    assert sorted(os.listdir(base)) == ["1", "2"]


@pytest.mark.large
def test_a_mixed_precision_model_is_served_as_it_computes(tmp_path):
    # A --mixed-precision run: built in mixed_bfloat16, saved, and loaded by
    # `ktb bit export` under the default float32 policy. The default export
    # (folded) served logits ~3e-2 away from the model's.
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # as the CLI does
    try:
        classifier = BiTClassifier.from_preset("bit_tiny", num_classes=3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    classifier.image_size = 32
    rng = np.random.default_rng(0)
    head = classifier.get_layer("head")
    head.kernel.assign(rng.normal(0, 0.05, head.kernel.shape).astype("float32"))
    classifier.save(tmp_path / "model.keras")
    classifier = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    assert classifier.backbone.get_layer("root_conv").compute_dtype == "bfloat16"
    path = export_image_classifier(classifier, str(tmp_path / "served"))
    served = tf.saved_model.load(path).signatures["serving_default"]
    images = [_png((40, 37, 3), seed) for seed in range(3)]
    logits = served(images=tf.constant(images))["logits"].numpy()
    resized = tf.stack([tf.image.resize(decode_image(i), [32, 32]) for i in images])
    expected = classifier(resized, training=False).numpy()
    assert np.abs(expected).max() > 0.1
    # The same bfloat16 computation on both sides: equal up to the order of
    # float32 sums, far below bfloat16's own rounding (~4e-3 relative).
    np.testing.assert_allclose(logits, expected, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize(
    "image_format, reason",
    [("WEBP", "WebP: shorter"), ("GIF", "GIF: its trailer"), ("BMP", "BMP: shorter")],
)
def test_the_serving_check_names_a_truncated_webp_gif_or_bmp(image_format, reason):
    import io

    from keras_transformer_bit.export.export_image_classifier import (
        check_encoded_images,
    )

    pil = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 255, (24, 24, 3), "uint8")
    pil.fromarray(pixels).save(buffer, format=image_format)
    encoded = buffer.getvalue()
    check_encoded_images(tf.constant([encoded]))  # whole: passes
    cut = tf.constant([encoded, encoded[: len(encoded) // 2]])
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        check_encoded_images(cut)
    assert f"images[1] is a truncated {reason}" in caught.value.message


def test_an_output_inside_an_existing_export_is_refused(tmp_path):
    model = _tiny_model()
    base = tmp_path / "served" / "bit"
    export_image_classifier(model, str(base / "1"))
    before = sorted(str(p) for p in (base / "1").rglob("*"))
    for inside in (base / "1" / "sub", base / "1" / "variables" / "2"):
        with pytest.raises(FileExistsError, match=r"inside the export .*bit.1.*bit.2"):
            export_image_classifier(model, str(inside))
    assert sorted(str(p) for p in (base / "1").rglob("*")) == before
