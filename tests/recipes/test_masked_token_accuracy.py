import keras
import numpy as np

from keras_transformer_bit.recipes import MaskedTokenAccuracy

LABELS = np.array([[3, 5, 1, 0], [6, 0, 0, 0]], "int32")
PREDICTED = np.array([[3, 2, 1, 0], [4, 0, 0, 0]])
LOGITS = np.eye(7, dtype="float32")[PREDICTED]


def test_counts_real_tokens_only():
    metric = MaskedTokenAccuracy()
    metric.update_state(LABELS, LOGITS)
    assert float(metric.result()) == 0.5  # 2 of 4 real tokens
    metric.update_state(LABELS[:1, :1], LOGITS[:1, :1])
    np.testing.assert_allclose(float(metric.result()), 0.6, rtol=1e-6)  # 3 of 5
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_sample_weight():
    metric = MaskedTokenAccuracy()
    metric.update_state(LABELS, LOGITS, sample_weight=np.array([1.0, 0.0]))
    np.testing.assert_allclose(float(metric.result()), 2 / 3, rtol=1e-6)


def test_serialization_round_trip_and_compile():
    metric = MaskedTokenAccuracy(pad_token_id=1, name="acc")
    revived = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert revived.get_config() == metric.get_config()
    revived.update_state(LABELS, LOGITS)  # now 0 counts: 5 of 7 right
    np.testing.assert_allclose(float(revived.result()), 5 / 7, rtol=1e-6)
