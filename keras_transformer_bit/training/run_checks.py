"""Checks and message helpers shared by `TranslationRun` and `BiTRun`.

A run names a setting the way its caller does: by its keyword in Python,
by its flag under `ktb` (the CLI passes `names={"seed": "--seed", ...}`).
"""

from keras_transformer_bit.utils import check_positive_int, check_rate

# The model overrides that must be positive ints.
_POSITIVE_OVERRIDES = ("num_layers", "num_heads", "hidden_dim", "intermediate_dim")


def check_model_overrides(model_config, names):
    """Refuses model sizes a `Transformer` would refuse, naming them as the
    caller does, before any data is read.

    Args:
        model_config: dict. The preset's constructor arguments with the
            overrides applied.
        names: dict. How messages name the keys (absent: by key).
    """

    def name(key):
        return names.get(key, key)

    for key in _POSITIVE_OVERRIDES:
        if key in model_config:
            check_positive_int(name(key), model_config[key])
    if "dropout" in model_config:
        check_rate(name("dropout"), model_config["dropout"])
    hidden_dim, num_heads = model_config["hidden_dim"], model_config["num_heads"]
    if hidden_dim % num_heads:
        raise ValueError(
            f"{name('num_heads')} must divide {name('hidden_dim')}. Received: "
            f"{name('hidden_dim')}={hidden_dim}, {name('num_heads')}={num_heads}"
        )
