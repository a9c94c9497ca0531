"""What a run directory's model is, so a different model is refused up front."""

import json


def _without_names(config):
    # Layer and model names are generated per session ("dense" vs "dense_1"),
    # so two builds of the same model differ only there.
    if isinstance(config, dict):
        return {
            key: _without_names(value)
            for key, value in config.items()
            if key not in ("name", "build_config", "compile_config")
        }
    if isinstance(config, (list, tuple)):
        return [_without_names(value) for value in config]
    return config


def model_signature(model):
    """The class, constructor config and weight shapes of `model`, as JSON data.

    Two models with the same signature can share a backup: the same class
    built with the same arguments (generated layer names aside) and the same
    weight shapes. A model without `get_config` is described by its class and
    weight shapes only.

    Args:
        model: a `keras.Model`.

    Returns:
        A dict with `class`, `config` (or `None`) and `weight_shapes`.

    Example:
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    >>> model_signature(model)["weight_shapes"]
    [[3, 4], [4]]
    """
    try:
        config = _without_names(model.get_config())
        config = json.loads(json.dumps(config, sort_keys=True, default=repr))
    except NotImplementedError:
        config = None
    return {
        "class": type(model).__name__,
        "config": config,
        "weight_shapes": [list(weight.shape) for weight in model.weights],
    }


def _describe(value):
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _differences(saved, current, path=""):
    """(path, saved value, current value) of the leaves that differ."""
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in sorted(set(saved) | set(current)):
            yield from _differences(
                saved.get(key), current.get(key), f"{path}.{key}" if path else key
            )
    elif (
        isinstance(saved, list)
        and isinstance(current, list)
        and len(saved) == len(current)
    ):
        for index, (old, new) in enumerate(zip(saved, current)):
            yield from _differences(old, new, f"{path}[{index}]")
    elif saved != current:
        yield path, saved, current


def check_same_model(saved_signature, model, where):
    """Raises when `model` is not the model `saved_signature` describes.

    Args:
        saved_signature: a `model_signature` written with a backup or
            checkpoint (`None`: written before signatures were kept; accepted).
        model: the `keras.Model` about to be restored.
        where: str. The directory, for the message.

    Raises:
        ValueError: naming the saved and the current class and (up to five
            of) the config entries, or else the weight shapes, that differ.

    Example:
    >>> check_same_model(model_signature(model), model, "runs/a")  # doctest: +SKIP
    """
    if saved_signature is None:
        return
    current = model_signature(model)
    if current == saved_signature:
        return
    saved_class, current_class = saved_signature.get("class"), current["class"]
    differences = [
        f"{path}={_describe(old)} there, {path}={_describe(new)} here"
        for path, old, new in _differences(
            saved_signature.get("config"), current["config"]
        )
    ][:5]
    if not differences:
        differences = [
            f"weight shapes {_describe(saved_signature.get('weight_shapes'))} "
            f"there, {_describe(current['weight_shapes'])} here"
        ]
    raise ValueError(
        f"{where} holds a backup of a different model: a {saved_class} "
        f"(this model is a {current_class}); "
        + "; ".join(differences)
        + f". Restoring it would fail or resume the wrong run. Train with the "
        f"model the directory was written for, or use a new directory (or "
        f"delete {where} to start over)."
    )
