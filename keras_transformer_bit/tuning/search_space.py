"""Search spaces as plain dicts: name -> values to try.

A list is a choice (its first item is the default, used by the first trial), a
`(low, high)` tuple of floats is a range sampled on a log scale when
`low > 0` and `high / low >= 10`, else linearly (default `low`), and anything
else is a fixed value. Hypermodels merge the user's dict into their defaults.
"""

import keras_tuner

from keras_transformer_bit.models.transformer.transformer_presets import (
    transformer_presets,
)
from keras_transformer_bit.recipes import translation_recipe


def _describe(value):
    return f"{value!r}"


def check_search_space(search_space, defaults):
    """Merges `search_space` into `defaults` and validates the result.

    Args:
        search_space: dict or None. The user's overrides.
        defaults: dict. The hypermodel's full search space.

    Returns:
        The merged dict.

    Raises:
        ValueError: for unknown names, empty choices, bad ranges, or a space in
            which every hyperparameter is fixed (nothing to search).

    Example:
    >>> check_search_space({"dropout": [0.1]}, {"dropout": [0.0, 0.1], "lr": 1.0})
    Traceback (most recent call last):
    ...
    ValueError: The search space is empty: every hyperparameter has a single value...
    """
    search_space = dict(search_space or {})
    if not isinstance(search_space, dict):
        raise ValueError(
            f"search_space must be a dict. Received: search_space={search_space!r}"
        )
    unknown = sorted(set(search_space) - set(defaults))
    if unknown:
        raise ValueError(
            f"Unknown hyperparameters {unknown}. Expected names among "
            f"{sorted(defaults)}. Received: search_space={search_space!r}"
        )
    merged = {**defaults, **search_space}
    for name, spec in merged.items():
        if isinstance(spec, list) and not spec:
            raise ValueError(
                f"The choices of {name!r} are empty; give at least one value. "
                f"Received: {name}={spec!r}"
            )
        if isinstance(spec, tuple):
            if (
                len(spec) != 2
                or not all(isinstance(v, (int, float)) for v in spec)
                or not spec[0] < spec[1]
            ):
                raise ValueError(
                    f"A range must be a (low, high) tuple with low < high. "
                    f"Received: {name}={spec!r}"
                )
    searched = [
        name
        for name, spec in merged.items()
        if isinstance(spec, tuple) or (isinstance(spec, list) and len(set(spec)) > 1)
    ]
    if not searched:
        raise ValueError(
            "The search space is empty: every hyperparameter has a single value, "
            "so there is nothing to tune. Give at least one of "
            f"{sorted(merged)} several values (a list) or a (low, high) range. "
            f"Received: search_space={search_space!r}"
        )
    return merged


def hyperparameter(hp, name, spec):
    """Declares `name` on `hp` according to `spec` and returns its value."""
    if isinstance(spec, list):
        if len(set(spec)) == 1:
            return hp.Fixed(name, spec[0])
        return hp.Choice(name, spec, default=spec[0])
    if isinstance(spec, tuple):
        low, high = spec
        if isinstance(low, int) and isinstance(high, int):
            return hp.Int(name, low, high, default=low)
        log = low > 0 and high / low >= 10
        return hp.Float(
            name, float(low), float(high), sampling="log" if log else "linear",
            default=float(low),
        )  # fmt: skip
    return hp.Fixed(name, spec)


def default_values(search_space):
    """The values of the first trial: every hyperparameter at its default."""
    hp = keras_tuner.HyperParameters()
    return {name: hyperparameter(hp, name, spec) for name, spec in search_space.items()}


def _recipe_first(recipe_value, *others):
    """A choice whose default (first item) is the recipe's value."""
    return [recipe_value, *(value for value in others if value != recipe_value)]


def recipe_search_space():
    """Sizes, regularisation, schedule and data settings around the
    translation recipe: each a list whose first value is the recipe's
    (`ktb.recipes.translation_recipe()` and its preset), so the first trial
    trains what `ktb translate train` trains."""
    recipe = translation_recipe()
    model = {**transformer_presets[recipe.preset]["config"], **recipe.model_overrides}
    scale = recipe.learning_rate_scale
    return {
        "num_layers": _recipe_first(model["num_layers"], 2, 4),
        "hidden_dim": _recipe_first(model["hidden_dim"], 64, 256),
        "num_heads": _recipe_first(model["num_heads"], 2, 8),
        "intermediate_multiplier": _recipe_first(
            model["intermediate_dim"] // model["hidden_dim"], 2, 4
        ),
        # Higher than the recipe's too: on Ding's 18k training pairs the
        # validation loss stops improving while the training loss falls.
        "dropout": _recipe_first(model["dropout"], 0.2, 0.3, 0.0),
        "label_smoothing": _recipe_first(recipe.label_smoothing, 0.0, 0.2),
        "warmup_steps": _recipe_first(recipe.warmup_steps, 250, 1000),
        "learning_rate_scale": _recipe_first(scale, round(scale / 2, 4), scale * 2),
        "vocabulary_size": _recipe_first(recipe.vocabulary_size, 6000, 16000),
        "tokens_per_batch": _recipe_first(recipe.tokens_per_batch, 1024, 4096),
    }
