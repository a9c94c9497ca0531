"""The one place that tells a BiT model's backbone (and head) apart."""


def _is_backbone(model):
    # Duck-typed, so that modules which serve models (checkpoint files,
    # folding, export) need not import the model classes.
    return hasattr(model, "units_per_block") and hasattr(model, "conv_layer")


def backbone_of(model):
    """Returns the `BiTBackbone` of a BiT model: the model itself or its `backbone`.

    Args:
        model: a `BiTBackbone`, or a model with one as its `backbone` attribute
            (a `BiTClassifier`).

    Returns:
        The backbone. `model.head` is the classifier's head when the backbone
        is not the model itself.

    Raises:
        ValueError: for any other object, naming it.

    Example:
    >>> clf = keras_transformer_bit.models.BiTClassifier.from_preset(
    ...     "bit_tiny", num_classes=3)
    >>> backbone_of(clf) is clf.backbone, backbone_of(clf.backbone) is clf.backbone
    (True, True)
    """
    if _is_backbone(model):
        return model
    backbone = getattr(model, "backbone", None)
    if backbone is not None and _is_backbone(backbone):
        return backbone
    raise ValueError(
        f"Expected a BiTClassifier or a BiTBackbone. Received: model={model!r}"
    )


def head_of(model):
    """The dense head of a BiT classifier, or None for a backbone."""
    return None if backbone_of(model) is model else model.head
