"""Transformer presets (Vaswani et al. 2017, Table 3) as data.

Each preset holds the constructor arguments of `Transformer` (`config`) and
metadata. `parameter_count` is the parameter count with the preset's vocabulary
(a shared, tied 37,000-token vocabulary for base and big, as in the paper's
English-German runs); tests assert it against the built model.
"""

transformer_presets = {
    "transformer_tiny": {
        "description": (
            "2 layers, d_model 64, 4 heads, d_ff 256: for tests and CPU demos."
        ),
        "parameter_count": 297_728,
        "config": {
            "vocabulary_size": 1000,
            "num_layers": 2,
            "num_heads": 4,
            "hidden_dim": 64,
            "intermediate_dim": 256,
            "dropout": 0.1,
            "max_sequence_length": 256,
            "share_embeddings": True,
            "tie_output_embeddings": True,
        },
    },
    "transformer_small": {
        "description": (
            "3+3 layers, d_model 128, 4 heads, d_ff 512: trains in minutes on a "
            "few CPU cores (the translation tutorial's model)."
        ),
        "parameter_count": 2_157_056,
        "config": {
            "vocabulary_size": 6000,
            "num_layers": 3,
            "num_heads": 4,
            "hidden_dim": 128,
            "intermediate_dim": 512,
            "dropout": 0.1,
            "max_sequence_length": 256,
            "share_embeddings": True,
            "tie_output_embeddings": True,
        },
    },
    "transformer_base": {
        "description": (
            "Vaswani et al. 2017 base model: 6+6 layers, d_model 512, 8 heads, "
            "d_ff 2048, P_drop 0.1 (paper: 65M parameters)."
        ),
        "parameter_count": 63_084_544,
        "config": {
            "vocabulary_size": 37000,
            "num_layers": 6,
            "num_heads": 8,
            "hidden_dim": 512,
            "intermediate_dim": 2048,
            "dropout": 0.1,
            "max_sequence_length": 1024,
            "share_embeddings": True,
            "tie_output_embeddings": True,
        },
    },
    "transformer_big": {
        "description": (
            "Vaswani et al. 2017 big model: 6+6 layers, d_model 1024, 16 heads, "
            "d_ff 4096, P_drop 0.3 (paper: 213M parameters)."
        ),
        "parameter_count": 214_249_472,
        "config": {
            "vocabulary_size": 37000,
            "num_layers": 6,
            "num_heads": 16,
            "hidden_dim": 1024,
            "intermediate_dim": 4096,
            "dropout": 0.3,
            "max_sequence_length": 1024,
            "share_embeddings": True,
            "tie_output_embeddings": True,
        },
    },
}
