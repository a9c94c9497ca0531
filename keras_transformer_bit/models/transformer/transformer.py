"""The Transformer encoder-decoder (Vaswani et al. 2017)."""

import copy
import inspect
import numbers
import re

import keras
import numpy as np
from keras import ops

from keras_transformer_bit.layers.token_and_position_embedding import (
    TokenAndPositionEmbedding,
)
from keras_transformer_bit.layers.transformer_block_parts import (
    check_block_arguments,
)
from keras_transformer_bit.layers.transformer_decoder_layer import (
    TransformerDecoderLayer,
)
from keras_transformer_bit.layers.transformer_encoder_layer import (
    TransformerEncoderLayer,
)
from keras_transformer_bit.models.transformer.transformer_presets import (
    transformer_presets,
)
from keras_transformer_bit.utils import check_positive_int

INPUT_NAMES = ("encoder_inputs", "decoder_inputs")
# `keras.Model` keyword arguments that `Functional.__init__` honours; it drops
# any other silently, so the constructor refuses them itself.
MODEL_KWARGS = ("name", "trainable")


def _check_fingerprints(fingerprints):
    """A copy of `vocabulary_fingerprints` as a plain dict, or a clear error."""
    if fingerprints is None:
        return None
    sides = ("source", "target")
    if (
        not isinstance(fingerprints, dict)
        or not set(fingerprints) <= set(sides)
        or not all(
            isinstance(value, str) and re.fullmatch("[0-9a-f]{16}", value)
            for value in fingerprints.values()
        )
    ):
        raise ValueError(
            "vocabulary_fingerprints must be None or a dict of tokenizer "
            'fingerprints (16 hex digits, `tokenizer.fingerprint`) under "source" '
            f'and "target". Received: vocabulary_fingerprints={fingerprints!r}'
        )
    return {side: fingerprints[side] for side in sides if side in fingerprints}


def _concrete_value(x):
    """Returns `x` as NumPy when it holds values (eager), `None` when symbolic."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, keras.KerasTensor):
        return None
    try:
        return ops.convert_to_numpy(x)
    except Exception:  # a traced (graph) tensor has no value yet
        return None


def check_token_ids(name, ids, vocabulary_size, check_dtype=True):
    """Raises a `ValueError` naming `ids` unless they are valid token ids.

    The rank (2) and the dtype (integer) are checked on any tensor; the range
    `[0, vocabulary_size)` only when the ids hold values (arrays and eager
    tensors). Symbolic ids (a `keras.Input`, a tensor traced by `tf.function`)
    skip the range check: it would cost a graph assertion in every call.

    Args:
        name: str. The argument's name, as the user wrote it.
        ids: array-like of token ids.
        vocabulary_size: int. Ids must be below it.
        check_dtype: bool or `None`. Refuse non-integer dtypes; `None` does so
            only for ids a user hands over directly (values, or a
            `keras.Input`), not for tensors traced inside a graph. Defaults to
            `True`.

    Returns:
        The concrete ids as NumPy, or `None` when `ids` is symbolic.
    """
    if isinstance(ids, (list, tuple)):
        try:
            ids = np.asarray(ids)
        except ValueError:
            raise ValueError(
                f"{name} must be a rank-2 (batch, length) tensor of token ids, "
                "rows of one length: pad shorter rows with the padding id. "
                f"Received: {name}={ids!r}"[:500]
            ) from None
    if len(ids.shape) != 2:
        raise ValueError(
            f"{name} must be a rank-2 (batch, length) tensor of token "
            f"ids. Received: {name} with shape {tuple(ids.shape)}"
        )
    values = _concrete_value(ids)
    if check_dtype is None:
        check_dtype = values is not None or isinstance(ids, keras.KerasTensor)
    dtype = keras.backend.standardize_dtype(ids.dtype)
    if check_dtype and "int" not in dtype:
        raise ValueError(
            f"{name} must hold integer token ids. Received: {name} with dtype {dtype}"
        )
    if values is not None and values.size:
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= vocabulary_size:
            raise ValueError(
                f"{name} ids must be in [0, {vocabulary_size}) (the vocabulary "
                f"size). Received: ids from {low} to {high}"
            )
    return values


@keras.saving.register_keras_serializable(package="keras_transformer_bit")
class Transformer(keras.Model):
    """The Transformer encoder-decoder for sequence-to-sequence tasks.

    Source and target token ids (0 = padding) are embedded, scaled by
    `sqrt(hidden_dim)` and given sinusoidal (or learned) positions; a stack of
    `num_layers` encoder layers reads the source; a stack of `num_layers`
    decoder layers reads the shifted target with causal self-attention and
    attends to the encoder output; a final projection gives logits over the
    target vocabulary. Padding is masked from every attention (the model
    computes the masks from the ids), so appending padding to either input does
    not change the logits at real positions.

    With `norm_first=True` (pre-LN, the default, see
    `TransformerEncoderLayer`) each stack ends in a layer normalization.

    The model is a functional subclass; besides calling it, generation code
    uses `encode`, `build_decoder_cache` and `decode_step`, which run the same
    layers one target position at a time with a key/value cache.

    Args:
        vocabulary_size: int. Size of the target vocabulary (and the source one
            when `share_embeddings`).
        num_layers: int. Number of encoder layers and of decoder layers.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        hidden_dim: int. Model width (`d_model`).
        intermediate_dim: int. Feed-forward width (`d_ff`).
        dropout: float in [0, 1). Residual and embedding dropout (`P_drop`).
            Defaults to `0.1`.
        attention_dropout: float in [0, 1). Dropout on attention probabilities.
            Defaults to `0.0`.
        max_sequence_length: int. Longest sequence the learned position
            embedding covers. Defaults to `1024`.
        source_vocabulary_size: int. Size of the source vocabulary when it is
            not shared. Defaults to `vocabulary_size`.
        share_embeddings: bool. One embedding matrix for source and target
            (§3.4); needs equal vocabularies. Defaults to `False`.
        tie_output_embeddings: bool. Use the transposed target embedding as the
            output projection (§3.4). Defaults to `True`.
        position_encoding: `"sine"` or `"learned"`. Defaults to `"sine"`.
        norm_first: bool. Pre-LN (`True`) or the paper's post-LN (`False`).
            Defaults to `True`.
        activation: feed-forward activation. Defaults to `"relu"`.
        layer_norm_epsilon: float. Defaults to `1e-6`.
        start_token_id: int. Id that starts every target sequence. Defaults to
            `2`.
        end_token_id: int. Id that ends a target sequence. Defaults to `3`.
        pad_token_id: int. Padding id, masked everywhere. Defaults to `0`.
        vocabulary_fingerprints: dict or `None`. The `fingerprint` of the
            tokenizers the model is built for, under `"source"` and
            `"target"`; saved with the model, so that `ktb.Translator` can
            refuse a tokenizer from another build even when its size fits.
            `ktb.training.TranslationRun` fills it in. Defaults to `None`
            (only sizes are checked).
        dtype: dtype policy of the layers, e.g. `"mixed_bfloat16"`. The
            logits are always float32.
        **kwargs: `keras.Model` keyword arguments (`name`, `trainable`).
            Any other name raises a `ValueError` that lists the valid ones
            (Keras' functional models would drop it silently).

    Call arguments:
        inputs: dict with `"encoder_inputs"` `(batch, source_length)` and
            `"decoder_inputs"` `(batch, target_length)` int ids.
        training: bool. Enables dropout.

    Returns:
        Float32 logits `(batch, target_length, vocabulary_size)`.

    Example:
    >>> model = keras_transformer_bit.models.Transformer.from_preset(
    ...     "transformer_tiny", vocabulary_size=100)
    >>> ids = np.array([[2, 5, 6, 3]])
    >>> tuple(model({"encoder_inputs": ids, "decoder_inputs": ids}).shape)
    (1, 4, 100)

    References:
        Vaswani et al., "Attention Is All You Need", NeurIPS 2017.
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        attention_dropout=0.0,
        max_sequence_length=1024,
        source_vocabulary_size=None,
        share_embeddings=False,
        tie_output_embeddings=True,
        position_encoding="sine",
        norm_first=True,
        activation="relu",
        layer_norm_epsilon=1e-6,
        start_token_id=2,
        end_token_id=3,
        pad_token_id=0,
        vocabulary_fingerprints=None,
        dtype=None,
        **kwargs,
    ):
        unknown = sorted(set(kwargs) - set(MODEL_KWARGS))
        if unknown:
            raise ValueError(
                f"Unknown Transformer arguments {unknown}. Expected some of "
                f"{self.argument_names()}."
            )
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("num_layers", num_layers),
            ("max_sequence_length", max_sequence_length),
        ):
            check_positive_int(name, value)
        if source_vocabulary_size is not None:
            check_positive_int("source_vocabulary_size", source_vocabulary_size)
        check_block_arguments(
            hidden_dim, intermediate_dim, num_heads, dropout, attention_dropout
        )
        if share_embeddings and source_vocabulary_size not in (None, vocabulary_size):
            raise ValueError(
                "share_embeddings=True needs one vocabulary for source and "
                f"target. Received: vocabulary_size={vocabulary_size}, "
                f"source_vocabulary_size={source_vocabulary_size}. Pass "
                "share_embeddings=False for separate vocabularies."
            )
        for name, value in (
            ("start_token_id", start_token_id),
            ("end_token_id", end_token_id),
            ("pad_token_id", pad_token_id),
        ):
            if not isinstance(value, numbers.Integral) or not (
                0 <= value < vocabulary_size
            ):
                raise ValueError(
                    f"{name} must be an int in [0, vocabulary_size="
                    f"{vocabulary_size}). Received: {name}={value}"
                )

        vocabulary_fingerprints = _check_fingerprints(vocabulary_fingerprints)

        # NumPy scalars (e.g. a tokenizer's sizes) must not reach the saved config.
        vocabulary_size, num_layers, num_heads = (
            int(vocabulary_size),
            int(num_layers),
            int(num_heads),
        )
        hidden_dim, intermediate_dim = int(hidden_dim), int(intermediate_dim)
        max_sequence_length = int(max_sequence_length)
        dropout, attention_dropout = float(dropout), float(attention_dropout)
        if source_vocabulary_size is not None:
            source_vocabulary_size = int(source_vocabulary_size)
        start_token_id, end_token_id = int(start_token_id), int(end_token_id)
        pad_token_id = int(pad_token_id)

        # === Layers ===
        def embedding(vocabulary, name):
            return TokenAndPositionEmbedding(
                vocabulary,
                max_sequence_length,
                hidden_dim,
                position_encoding=position_encoding,
                dtype=dtype,
                name=name,
            )

        block_kwargs = dict(
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            attention_dropout=attention_dropout,
            activation=activation,
            layer_norm_epsilon=layer_norm_epsilon,
            norm_first=norm_first,
            dtype=dtype,
        )
        self.target_embedding = embedding(vocabulary_size, "target_embedding")
        if share_embeddings:
            self.source_embedding = self.target_embedding
        else:
            self.source_embedding = embedding(
                source_vocabulary_size or vocabulary_size, "source_embedding"
            )
        self.encoder_embedding_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="encoder_embedding_dropout"
        )
        self.decoder_embedding_dropout = keras.layers.Dropout(
            dropout, dtype=dtype, name="decoder_embedding_dropout"
        )
        self.encoder_layers = [
            TransformerEncoderLayer(**block_kwargs, name=f"encoder_layer_{i}")
            for i in range(num_layers)
        ]
        self.decoder_layers = [
            TransformerDecoderLayer(**block_kwargs, name=f"decoder_layer_{i}")
            for i in range(num_layers)
        ]
        self.encoder_final_norm = self.decoder_final_norm = None
        if norm_first:
            self.encoder_final_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=dtype, name="encoder_final_norm"
            )
            self.decoder_final_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=dtype, name="decoder_final_norm"
            )
        self.output_projection = None
        if not tie_output_embeddings:
            self.output_projection = keras.layers.Dense(
                vocabulary_size, dtype=dtype, name="output_projection"
            )

        # === Config (the graph below reads it) ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.max_sequence_length = max_sequence_length
        self.source_vocabulary_size = source_vocabulary_size
        self.share_embeddings = share_embeddings
        self.tie_output_embeddings = tie_output_embeddings
        self.position_encoding = position_encoding
        self.norm_first = norm_first
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.start_token_id = start_token_id
        self.end_token_id = end_token_id
        self.pad_token_id = pad_token_id
        self.vocabulary_fingerprints = vocabulary_fingerprints

        # === Functional model ===
        encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
        decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
        encoder_outputs, encoder_padding_mask = self._encode(encoder_inputs)
        logits = self._decode(decoder_inputs, encoder_outputs, encoder_padding_mask)
        super().__init__(
            inputs={"encoder_inputs": encoder_inputs, "decoder_inputs": decoder_inputs},
            outputs=logits,
            dtype=dtype,
            **kwargs,
        )

    # --- The graph, shared by the functional model and the generation methods.

    def _encode(self, encoder_inputs, training=None, scores=None):
        padding_mask = ops.not_equal(encoder_inputs, self.pad_token_id)
        x = self.source_embedding(encoder_inputs)
        x = self.encoder_embedding_dropout(x, training=training)
        for layer in self.encoder_layers:
            if scores is None:
                x = layer(x, padding_mask=padding_mask, training=training)
            else:
                x, layer_scores = layer(
                    x,
                    padding_mask=padding_mask,
                    return_attention_scores=True,
                    training=training,
                )
                scores["encoder_self_attention"].append(layer_scores)
        if self.encoder_final_norm is not None:
            x = self.encoder_final_norm(x)
        return x, padding_mask

    def _project(self, x):
        if self.decoder_final_norm is not None:
            x = self.decoder_final_norm(x)
        if self.output_projection is None:
            logits = self.target_embedding(x, reverse=True)
        else:
            logits = self.output_projection(x)
        return ops.cast(logits, "float32")

    def _decode(
        self,
        decoder_inputs,
        encoder_outputs,
        encoder_padding_mask,
        training=None,
        scores=None,
    ):
        padding_mask = ops.not_equal(decoder_inputs, self.pad_token_id)
        x = self.target_embedding(decoder_inputs)
        x = self.decoder_embedding_dropout(x, training=training)
        for layer in self.decoder_layers:
            x = layer(
                x,
                encoder_sequence=encoder_outputs,
                decoder_padding_mask=padding_mask,
                encoder_padding_mask=encoder_padding_mask,
                return_attention_scores=scores is not None,
                training=training,
            )
            if scores is not None:
                x, self_scores, cross_scores = x
                scores["decoder_self_attention"].append(self_scores)
                scores["cross_attention"].append(cross_scores)
        return self._project(x)

    def call_with_attention_scores(self, inputs, training=False):
        """Computes the logits and every layer's attention probabilities.

        Runs the same layers as calling the model (for inspection and
        plots); validates `inputs` the same way.

        Args:
            inputs: dict with `"encoder_inputs"` and `"decoder_inputs"` ids.
            training: bool. Enables dropout.

        Returns:
            `(logits, scores)` where `scores` maps `"encoder_self_attention"`,
            `"decoder_self_attention"` and `"cross_attention"` to lists (one
            entry per layer) of `(batch, num_heads, query_length, key_length)`
            probabilities.
        """
        self._check_inputs(inputs)
        scores = {
            "encoder_self_attention": [],
            "decoder_self_attention": [],
            "cross_attention": [],
        }
        encoder_outputs, encoder_padding_mask = self._encode(
            ops.convert_to_tensor(inputs["encoder_inputs"], "int32"),
            training=training,
            scores=scores,
        )
        logits = self._decode(
            ops.convert_to_tensor(inputs["decoder_inputs"], "int32"),
            encoder_outputs,
            encoder_padding_mask,
            training=training,
            scores=scores,
        )
        return logits, scores

    # --- Input validation.

    def __call__(self, inputs, *args, **kwargs):
        self._check_inputs(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _check_inputs(self, inputs):
        if not isinstance(inputs, dict):
            raise ValueError(
                "Transformer takes a dict with keys "
                f"{list(INPUT_NAMES)}. Received: inputs of type {type(inputs)}"
            )
        missing = [name for name in INPUT_NAMES if name not in inputs]
        if missing:
            raise ValueError(
                f"Transformer inputs are missing keys {missing}; expected "
                f"{list(INPUT_NAMES)}. Received keys: {sorted(inputs)}"
            )
        vocabulary_sizes = {
            "encoder_inputs": self.source_vocabulary_size or self.vocabulary_size,
            "decoder_inputs": self.vocabulary_size,
        }
        for name in INPUT_NAMES:
            # Under a tf.distribute strategy, `fit` builds the model by tracing it
            # on the MEAN of the first batch across replicas: float ids in a graph.
            # So the dtype is checked where the user hands ids over directly: eager
            # tensors and arrays, and symbolic keras.Input tensors.
            check_token_ids(name, inputs[name], vocabulary_sizes[name], None)

    # --- Generation helpers (keras.ops only, traceable, any batch size).

    def encode(self, encoder_inputs, training=False):
        """Runs the encoder.

        Args:
            encoder_inputs: int `(batch, source_length)` source ids.
            training: bool. Enables dropout.

        Returns:
            `(encoder_outputs, encoder_padding_mask)`: `(batch, source_length,
            hidden_dim)` and bool `(batch, source_length)`.
        """
        return self._encode(ops.cast(encoder_inputs, "int32"), training=training)

    def build_decoder_cache(self, encoder_outputs, max_length, per_layer=False):
        """Creates the per-layer key/value caches for incremental decoding.

        Keys and values are kept head-major, `(num_heads, length, head_dim)`
        per sequence, the layout the attention products read without
        transposes.

        Args:
            encoder_outputs: `(batch, source_length, hidden_dim)` from `encode`.
            max_length: int. Number of target positions the cache holds.
            per_layer: bool. Return tuples of per-layer `(keys, values)`
                pairs instead of two stacked tensors. Defaults to `False`.

        Returns:
            `(self_attention_cache, cross_attention_cache)`. Stacked (the
            default): zeros of shape `(batch, num_layers, 2, num_heads,
            max_length, head_dim)` and the projected encoder keys/values
            `(batch, num_layers, 2, num_heads, source_length, head_dim)`
            (index 0 of the third axis holds keys, 1 values). With
            `per_layer=True`: two tuples with one `(keys, values)` pair per
            decoder layer, each tensor `(batch, num_heads, length,
            head_dim)`; that is the form generation loops carry, since a step
            then updates each tensor in place instead of slicing and
            re-stacking whole caches.
        """
        if (
            self.position_encoding == "learned"
            and isinstance(max_length, int)
            and max_length > self.max_sequence_length
        ):
            raise ValueError(
                "max_length must not exceed the max_sequence_length="
                f"{self.max_sequence_length} of the learned position embedding. "
                f"Received: max_length={max_length}"
            )
        batch_size = ops.shape(encoder_outputs)[0]
        head_dim = self.hidden_dim // self.num_heads
        cross_caches = [
            layer.cross_attention.compute_key_value_cache(encoder_outputs)
            for layer in self.decoder_layers
        ]
        if per_layer:
            shape = (batch_size, self.num_heads, max_length, head_dim)
            self_attention_cache = tuple(
                (
                    ops.zeros(shape, dtype=encoder_outputs.dtype),
                    ops.zeros(shape, dtype=encoder_outputs.dtype),
                )
                for _ in self.decoder_layers
            )
            cross_attention_cache = tuple(
                (cache[:, 0], cache[:, 1]) for cache in cross_caches
            )
            return self_attention_cache, cross_attention_cache
        self_attention_cache = ops.zeros(
            (batch_size, self.num_layers, 2, self.num_heads, max_length, head_dim),
            dtype=encoder_outputs.dtype,
        )
        return self_attention_cache, ops.stack(cross_caches, axis=1)

    def decode_step(
        self,
        token_ids,
        index,
        encoder_padding_mask,
        self_attention_cache,
        cross_attention_cache,
    ):
        """Decodes target position `index` from the caches.

        Args:
            token_ids: int `(batch, 1)`, the target token at position `index`.
            index: int or scalar int tensor, its position.
            encoder_padding_mask: bool `(batch, source_length)` from `encode`.
            self_attention_cache: from `build_decoder_cache`, filled for
                positions `< index`: stacked `(batch, num_layers, 2,
                num_heads, max_length, head_dim)`, or a tuple with one
                `(keys, values)` pair per layer (`per_layer=True`).
            cross_attention_cache: from `build_decoder_cache`, in either form.

        Returns:
            `(logits, self_attention_cache)`: float32 `(batch,
            vocabulary_size)` logits for the next token and the cache, in the
            form it was given, with position `index` written.
        """
        per_layer = isinstance(self_attention_cache, (tuple, list))

        def layer_slice(cache, i):
            return cache[i] if isinstance(cache, (tuple, list)) else cache[:, i]

        index = ops.cast(index, "int32")
        x = self.target_embedding(ops.cast(token_ids, "int32"), start_index=index)
        layer_caches = []
        for i, layer in enumerate(self.decoder_layers):
            x, layer_cache, _ = layer(
                x,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=layer_slice(self_attention_cache, i),
                self_attention_cache_update_index=index,
                cross_attention_cache=layer_slice(cross_attention_cache, i),
                use_causal_mask=True,
                training=False,
            )
            layer_caches.append(layer_cache)
        logits = self._project(x)[:, -1, :]
        if per_layer:
            return logits, tuple(layer_caches)
        return logits, ops.stack(layer_caches, axis=1)

    def generate(self, source_ids, max_length=64, method="greedy", **kwargs):
        """Generates target ids with the cached decoder.

        See `keras_transformer_bit.models.transformer.generation.generate` for
        the options (`beam_size`, `length_penalty`, `num_return_sequences`,
        `top_k`, `top_p`, `temperature`, `seed`, `return_scores`,
        `jit_compile`).

        Args:
            source_ids: int `(batch, source_length)` source ids, 0 = padding.
            max_length: int. Most target tokens to generate. Defaults to `64`.
            method: `"greedy"`, `"beam"`, `"top_k"` or `"top_p"`.
                Defaults to `"greedy"`.
            **kwargs: the method's options.

        Returns:
            int32 `(batch, max_length)` ids without the start token (end token
            kept, then padding); with `return_scores=True` also the scores.

        Example:
        >>> import numpy as np
        >>> model = Transformer.from_preset("transformer_tiny", vocabulary_size=100)
        >>> source_ids = np.array([[5, 6, 7, 0]], "int32")
        >>> ids = model.generate(source_ids, max_length=8, method="beam", beam_size=2)
        >>> tuple(ids.shape)
        (1, 8)
        """
        # generation.py imports this module (check_token_ids): a real cycle.
        from keras_transformer_bit.models.transformer.generation import generate

        return generate(
            self, source_ids, max_length=max_length, method=method, **kwargs
        )

    def generate_ids(self, source_ids, sampler, max_length):
        """The traceable decoding loop behind `generate` and `ktb.Translator`.

        Args:
            source_ids: int `(batch, source_length)` source ids, 0 = padding.
            sampler: a sampler from `keras_transformer_bit.samplers`.
            max_length: int. Most target tokens (end token included).

        Returns:
            The sampler's `(token_ids, scores)` over `max_length + 1`
            positions, the start token first.
        """
        from keras_transformer_bit.models.transformer import generation

        return generation.generate_ids(self, source_ids, sampler, max_length)

    # --- Presets and config.

    @classmethod
    def argument_names(cls):
        """The constructor's argument names (`keras.Model`'s `name` too)."""
        parameters = inspect.signature(cls.__init__).parameters
        own = [n for n in parameters if n not in ("self", "kwargs")]
        return sorted(own + list(MODEL_KWARGS))

    @classmethod
    def presets(cls):
        """The preset names and their descriptions."""
        return {name: p["description"] for name, p in transformer_presets.items()}

    @classmethod
    def from_preset(cls, name, **overrides):
        """Builds a preset, e.g. `from_preset("transformer_base", dropout=0.2)`.

        Args:
            name: str. A key of `transformer_presets`: `transformer_tiny`
                (tests), `transformer_small` (the CPU tutorial),
                `transformer_base`, `transformer_big` (the paper's).
            **overrides: constructor arguments replacing the preset's.

        Returns:
            A `Transformer`.
        """
        if name not in transformer_presets:
            raise ValueError(
                f"Unknown Transformer preset {name!r}. Known presets: "
                f"{sorted(transformer_presets)}"
            )
        unknown = sorted(set(overrides) - set(cls.argument_names()))
        if unknown:
            raise ValueError(
                f"Unknown Transformer arguments {unknown} for preset {name!r}. "
                f"Expected some of {cls.argument_names()}."
            )
        config = copy.deepcopy(transformer_presets[name]["config"])
        config.update(overrides)
        return cls(**config)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "max_sequence_length": self.max_sequence_length,
            "source_vocabulary_size": self.source_vocabulary_size,
            "share_embeddings": self.share_embeddings,
            "tie_output_embeddings": self.tie_output_embeddings,
            "position_encoding": self.position_encoding,
            "norm_first": self.norm_first,
            "activation": self.activation,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "start_token_id": self.start_token_id,
            "end_token_id": self.end_token_id,
            "pad_token_id": self.pad_token_id,
            "vocabulary_fingerprints": self.vocabulary_fingerprints,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
