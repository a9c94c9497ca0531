import keras
import numpy as np
import pytest

from keras_transformer_bit.recipes import LabelSmoothedCrossEntropy

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((2, 4, 7)).astype("float32")
LABELS = np.array([[3, 5, 1, 0], [6, 0, 0, 0]], "int32")


def reference(labels, logits, epsilon, pad=0):
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = (
        np.eye(logits.shape[-1])[labels] * (1 - epsilon) + epsilon / logits.shape[-1]
    )
    per_token = -(targets * log_probs).sum(-1)
    real = labels != pad
    return per_token[real].sum() / real.sum()


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.3])
def test_matches_numpy_reference(epsilon):
    loss = LabelSmoothedCrossEntropy(label_smoothing=epsilon)
    np.testing.assert_allclose(
        float(loss(LABELS, LOGITS)), reference(LABELS, LOGITS, epsilon), rtol=1e-5
    )


def test_no_smoothing_equals_sparse_cross_entropy_on_real_tokens():
    loss = LabelSmoothedCrossEntropy(label_smoothing=0.0)
    sparse = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    real = LABELS != 0
    expected = float(sparse(LABELS[real], LOGITS[real]))
    np.testing.assert_allclose(float(loss(LABELS, LOGITS)), expected, rtol=1e-5)


def test_padding_amount_does_not_change_the_loss():
    loss = LabelSmoothedCrossEntropy()
    padded_labels = np.pad(LABELS, ((0, 0), (0, 5)))
    padded_logits = np.pad(LOGITS, ((0, 0), (0, 5), (0, 0)), constant_values=9.0)
    np.testing.assert_allclose(
        float(loss(padded_labels, padded_logits)),
        float(loss(LABELS, LOGITS)),
        rtol=1e-6,
    )


def test_sample_weight_per_sequence():
    loss = LabelSmoothedCrossEntropy()
    # Weight 0 on the second sequence leaves the first one's mean.
    weighted = float(loss(LABELS, LOGITS, sample_weight=np.array([1.0, 0.0])))
    np.testing.assert_allclose(weighted, float(loss(LABELS[:1], LOGITS[:1])), rtol=1e-5)


def test_serialization_round_trip():
    loss = LabelSmoothedCrossEntropy(label_smoothing=0.2, pad_token_id=None)
    revived = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(revived, LabelSmoothedCrossEntropy)
    assert revived.get_config() == loss.get_config()
    np.testing.assert_allclose(
        float(revived(LABELS, LOGITS)), float(loss(LABELS, LOGITS)), rtol=1e-6
    )


@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_rejects_bad_smoothing(value):
    with pytest.raises(ValueError, match=f"label_smoothing={value}"):
        LabelSmoothedCrossEntropy(label_smoothing=value)


@pytest.mark.tensorflow_only
@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.3])
def test_gradient_is_softmax_minus_the_smoothed_target(epsilon):
    import tensorflow as tf

    logits = tf.constant(LOGITS)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = LabelSmoothedCrossEntropy(label_smoothing=epsilon)(LABELS, logits)
    gradient = tape.gradient(value, logits).numpy()
    probabilities = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
    vocabulary = LOGITS.shape[-1]
    targets = np.eye(vocabulary)[LABELS] * (1 - epsilon) + epsilon / vocabulary
    real = (LABELS != 0)[..., None]
    expected = (probabilities - targets) * real / real.sum()
    np.testing.assert_allclose(gradient, expected, atol=1e-6)


@pytest.mark.parametrize("from_logits", [True, False])
def test_large_logits_stay_finite(from_logits):
    logits = LOGITS * 1000.0
    if not from_logits:  # probabilities with exact zeros and ones
        logits = np.eye(7, dtype="float32")[np.argmax(logits, -1)]
    loss = LabelSmoothedCrossEntropy(from_logits=from_logits)
    assert np.isfinite(float(loss(LABELS, logits)))


def test_probabilities_match_the_reference():
    probabilities = np.exp(LOGITS) / np.exp(LOGITS).sum(-1, keepdims=True)
    loss = LabelSmoothedCrossEntropy(from_logits=False)
    np.testing.assert_allclose(
        float(loss(LABELS, probabilities)), reference(LABELS, LOGITS, 0.1), rtol=1e-5
    )


@pytest.mark.parametrize("bad_id", [7, 12, -1])
def test_a_label_id_outside_the_vocabulary_is_an_error(bad_id):
    # Its one-hot target would be all zeros: a finite, wrong loss.
    labels = LABELS.copy()
    labels[0, 1] = bad_id
    with pytest.raises(Exception, match="every label id must be in"):
        LabelSmoothedCrossEntropy()(labels, LOGITS)


@pytest.mark.tensorflow_only
def test_a_label_id_outside_the_vocabulary_is_an_error_in_fit():
    inputs = keras.Input((4,), dtype="int32")
    logits = keras.layers.Embedding(10, 7)(inputs)
    model = keras.Model(inputs, logits)
    model.compile("sgd", LabelSmoothedCrossEntropy())
    ids = np.array([[1, 2, 3, 0]] * 4)
    with pytest.raises(Exception, match="every label id must be in"):
        model.fit(ids, ids + 5, verbose=0)  # ids up to 8, logits of 7


@pytest.mark.parametrize("pad", [1.5, "0", True])
def test_a_pad_id_that_is_not_an_int_is_refused(pad):
    with pytest.raises(ValueError, match="pad_token_id must be an int"):
        LabelSmoothedCrossEntropy(pad_token_id=pad)


def test_a_numpy_pad_id_is_taken():
    assert LabelSmoothedCrossEntropy(pad_token_id=np.int64(3)).pad_token_id == 3


@pytest.mark.parametrize("shape", [(3,), (2, 5), (4, 4)])
def test_a_sample_weight_of_another_shape_is_named(shape):
    with pytest.raises(ValueError, match=r"sample_weight must hold .*\(2, 4\)"):
        LabelSmoothedCrossEntropy()(LABELS, LOGITS, sample_weight=np.ones(shape))


def test_a_sample_weight_with_a_trailing_axis_of_one_is_per_token():
    weights = RNG.uniform(size=(2, 4)).astype("float32")
    loss = LabelSmoothedCrossEntropy()
    np.testing.assert_allclose(
        float(loss(LABELS, LOGITS, sample_weight=weights[..., None])),
        float(loss(LABELS, LOGITS, sample_weight=weights)),
        rtol=1e-6,
    )


@pytest.mark.parametrize("pad", [-100, 7])
def test_a_pad_id_outside_the_vocabulary_is_ignored_not_refused(pad):
    labels = np.where(LABELS == 0, pad, LABELS)
    loss = LabelSmoothedCrossEntropy(pad_token_id=pad)
    np.testing.assert_allclose(
        float(loss(labels, LOGITS)), reference(LABELS, LOGITS, 0.1), rtol=1e-5
    )
