"""What the Transformer encoder and decoder layers share.

A base class with the shared constructor and config, argument checks, the
sublayers both build (attention, layer norm, dropout, the
position-wise feed-forward network), the residual wiring around a sublayer and
the merge of explicit and implicit padding masks. Each sublayer gets its own
copy of the layer's initializers (`clone_initializer`): a shared unseeded
initializer would give every kernel of a shape the same values.
"""

import keras
from keras import ops
from keras.src.backend import get_keras_mask

from keras_transformer_bit.layers.multi_head_attention import (
    MultiHeadAttention,
    all_of,
)
from keras_transformer_bit.utils import (
    check_positive_int,
    check_rate,
    clone_initializer,
)


def check_block_arguments(
    hidden_dim, intermediate_dim, num_heads, dropout, attention_dropout, names=None
):
    """Validates the arguments shared by the encoder and decoder layers.

    `names` maps an argument to how messages call it (the command line's
    flags, for a run's settings); by default, by its keyword.
    """
    names = names or {}

    def name(key):
        return names.get(key, key)

    check_positive_int(name("hidden_dim"), hidden_dim)
    check_positive_int(name("intermediate_dim"), intermediate_dim)
    check_positive_int(name("num_heads"), num_heads)
    if hidden_dim % num_heads:
        raise ValueError(
            f"{name('num_heads')} must divide {name('hidden_dim')}. Received: "
            f"{name('hidden_dim')}={hidden_dim}, {name('num_heads')}={num_heads}"
        )
    check_rate(name("dropout"), dropout)
    check_rate(name("attention_dropout"), attention_dropout)


def check_width(layer, inputs_shape):
    """Refuses inputs whose last axis is not the layer's `hidden_dim`."""
    if inputs_shape[-1] != layer.hidden_dim:
        raise ValueError(
            f"{type(layer).__name__} expects inputs of width hidden_dim="
            f"{layer.hidden_dim}. Received: inputs_shape={inputs_shape}"
        )


def dense_kwargs(layer, name):
    """Fresh initializer copies and the dtype policy for sublayer `name`.

    A seeded initializer gets a seed derived from the sublayer's name, so that
    seeded sublayers differ from each other and two layers built with the same
    seeded initializer are equal (Keras' contract for seeded initializers).
    """
    salt = name
    return dict(
        kernel_initializer=clone_initializer(layer.kernel_initializer, salt),
        bias_initializer=clone_initializer(layer.bias_initializer, salt),
        dtype=layer.dtype_policy,
        name=name,
    )


def build_attention(layer, name, query_shape, value_shape):
    """A built `MultiHeadAttention` sublayer with `hidden_dim // num_heads` heads."""
    attention = MultiHeadAttention(
        layer.num_heads,
        layer.hidden_dim // layer.num_heads,
        dropout=layer.attention_dropout,
        **dense_kwargs(layer, name),
    )
    attention.build(query_shape, value_shape)
    return attention


def build_norm(layer, name, shape):
    norm = keras.layers.LayerNormalization(
        epsilon=layer.layer_norm_epsilon, dtype=layer.dtype_policy, name=name
    )
    norm.build(shape)
    return norm


def build_dropout(layer, name):
    return keras.layers.Dropout(layer.dropout, dtype=layer.dtype_policy, name=name)


def build_feedforward(layer, shape):
    """Adds the feed-forward sublayers (`feedforward_*`) to `layer`."""
    layer.feedforward_intermediate = keras.layers.Dense(
        layer.intermediate_dim,
        activation=layer.activation,
        **dense_kwargs(layer, "feedforward_intermediate"),
    )
    layer.feedforward_intermediate.build(shape)
    layer.feedforward_output = keras.layers.Dense(
        layer.hidden_dim, **dense_kwargs(layer, "feedforward_output")
    )
    layer.feedforward_output.build((None, None, layer.intermediate_dim))
    layer.feedforward_norm = build_norm(layer, "feedforward_norm", shape)
    layer.feedforward_dropout = build_dropout(layer, "feedforward_dropout")


def residual(layer, x, norm, sublayer, dropout, training):
    """Applies `sublayer` with dropout, residual and norm (pre- or post-LN).

    `sublayer` may return a tuple whose first entry is its output; the other
    entries (attention scores, caches) are passed through after `x`.
    """
    y = sublayer(norm(x) if layer.norm_first else x)
    extra = ()
    if isinstance(y, tuple):
        y, *extra = y
    x = x + dropout(y, training=training)
    if not layer.norm_first:
        x = norm(x)
    return (x, *extra) if extra else x


def feedforward(layer, x, training):
    """The position-wise feed-forward sublayer with its residual (§3.3)."""
    return residual(
        layer,
        x,
        layer.feedforward_norm,
        lambda h: layer.feedforward_output(layer.feedforward_intermediate(h)),
        layer.feedforward_dropout,
        training,
    )


def merge_padding_and_attention_mask(inputs, padding_mask=None, attention_mask=None):
    """One attention mask from every source of masking over the keys.

    Args:
        inputs: the key sequence, or `None`; its Keras implicit mask (e.g. from
            `Embedding(mask_zero=True)`) counts as a padding mask.
        padding_mask: bool/int `(batch, source_length)`, 0/False at padding.
        attention_mask: bool/int `(batch, target_length, source_length)`.

    Returns:
        A bool mask broadcastable to `(batch, target_length, source_length)`,
        or `None` when nothing is masked.
    """
    masks = []
    keras_mask = None if inputs is None else get_keras_mask(inputs)
    for padding in (padding_mask, keras_mask):
        if padding is not None:
            masks.append(ops.cast(padding, "bool")[:, None, :])
    if attention_mask is not None:
        masks.append(ops.cast(attention_mask, "bool"))
    return all_of(masks)


class TransformerBlock(keras.layers.Layer):
    """The constructor, attributes and config the encoder and decoder share.

    Not a layer to use alone: `TransformerEncoderLayer` and
    `TransformerDecoderLayer` build their sublayers and `call` on top of it.
    Keras implicit masks are supported: the output keeps the mask of the
    first input.
    """

    def __init__(
        self,
        hidden_dim,
        intermediate_dim,
        num_heads,
        dropout=0.1,
        attention_dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-6,
        norm_first=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_block_arguments(
            hidden_dim, intermediate_dim, num_heads, dropout, attention_dropout
        )
        self.hidden_dim = int(hidden_dim)
        self.intermediate_dim = int(intermediate_dim)
        self.num_heads = int(num_heads)
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation": keras.activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "norm_first": self.norm_first,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
