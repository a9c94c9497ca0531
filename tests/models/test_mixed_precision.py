"""Both model families under mixed_bfloat16 and mixed_float16 (run_precision_test)."""

import numpy as np

import keras_transformer_bit as ktb
from tests.helpers import run_precision_test

IDS = np.array([[5, 6, 7, 0], [3, 2, 0, 0]], "int32")


def test_transformer_returns_float32_logits_from_mixed_precision_layers():
    run_precision_test(
        ktb.models.Transformer,
        dict(
            vocabulary_size=20,
            num_layers=1,
            num_heads=2,
            hidden_dim=8,
            intermediate_dim=16,
        ),
        {"encoder_inputs": IDS, "decoder_inputs": IDS},
        # Logits leave the model in float32 so that the softmax is stable.
        expected_output_dtype="float32",
    )


def test_bit_backbone_returns_features_in_the_compute_dtype():
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
    run_precision_test(
        ktb.models.BiTBackbone,
        dict(block_depths=[1, 1], base_width=8, norm_groups=4),
        images.astype("float32"),
    )
