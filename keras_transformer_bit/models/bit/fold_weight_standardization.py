from keras import ops

from keras_transformer_bit.layers.bit_bottleneck_unit import conv_layer_type
from keras_transformer_bit.layers.standardized_conv2d import StandardizedConv2D
from keras_transformer_bit.models.bit.backbone_of import backbone_of
from keras_transformer_bit.models.bit.bit_checkpoint import checkpoint_layers


def fold_weight_standardization(model):
    """Returns an inference copy of a BiT model with plain convolutions.

    Weight standardization depends on the kernel only, so for inference it can
    be done once: the copy has `keras.layers.Conv2D` layers holding the
    standardized kernels (computed in float32) and the same normalization and
    head weights. It gives the same outputs (up to float rounding) without
    recomputing the kernel statistics at every call. The copy is for
    inference: training it would no longer standardize the kernels.

    Args:
        model: a `BiTClassifier` or `BiTBackbone` with
            `conv_layer="standardized_conv2d"` and group norm.

    Returns:
        A new model of the same class with `conv_layer="conv2d"`.

    Example:
    >>> clf = keras_transformer_bit.models.BiTClassifier.from_preset(
    ...     "bit_tiny", num_classes=3)
    >>> folded = keras_transformer_bit.models.bit.fold_weight_standardization(clf)
    >>> folded.backbone.conv_layer
    'conv2d'
    """
    backbone = backbone_of(model)
    if not issubclass(conv_layer_type(backbone.conv_layer), StandardizedConv2D):
        raise ValueError(
            "The model's kernels are not standardized, there is nothing to fold. "
            f"Received a model with conv_layer={backbone.conv_layer!r}"
        )
    folded = type(backbone).from_config(
        {**backbone.get_config(), "conv_layer": "conv2d"}
    )
    if backbone is not model:
        folded = type(model).from_config({**model.get_config(), "backbone": folded})
    targets = checkpoint_layers(folded)
    for key, source in checkpoint_layers(model).items():
        target = targets[key]
        if isinstance(source, StandardizedConv2D):
            target.kernel.assign(source.standardized_kernel())
        else:
            for source_weight, target_weight in zip(source.weights, target.weights):
                target_weight.assign(ops.convert_to_tensor(source_weight))
    return folded
