"""Cached autoregressive decoding for the `Transformer`.

The decoder runs one position per step. Each decoder layer keeps fixed-size
self-attention key and value caches `(batch, heads, max_length, head_dim)`
into which step `i` writes its keys/values at index `i` (`slice_update`, in
place under XLA), and the cross-attention keys/values are projected once from
the encoder output, so a step costs one token's worth of decoder work instead
of rerunning the decoder over the whole prefix. The samplers in
`keras_transformer_bit.samplers` drive the step function in a `while_loop`
with static shapes, which compiles with `tf.function` (and XLA,
`jit_compile=True`).
"""

import keras
from keras import ops

from keras_transformer_bit.models.transformer.transformer import check_token_ids
from keras_transformer_bit.samplers import BeamSampler, get_sampler
from keras_transformer_bit.utils import SettingError, check_positive_int


def check_max_length(model, max_length):
    """Returns `max_length` as an int, refusing more than the model can decode.

    A model without a `max_sequence_length` (or with `None`) has no bound.
    """
    max_length = check_positive_int("max_length", max_length)
    bound = getattr(model, "max_sequence_length", None)
    if bound is not None and max_length > bound:
        raise SettingError(
            lambda name: (
                f"{name('max_length')} must be at most the model's "
                f"max_sequence_length={bound}. Received: "
                f"{name('max_length')}={max_length}"
            )
        )
    return max_length


def check_source_ids(model, source_ids):
    """Refuses source ids `model` cannot read, naming them.

    Checks the rank, the dtype (integer), the range `[0, source vocabulary
    size)` when the ids hold values (symbolic ids inside a `tf.function` skip
    the range check), and, with learned positions, a static length of at most
    `max_sequence_length`.
    """
    vocabulary_size = model.source_vocabulary_size or model.vocabulary_size
    check_token_ids("source_ids", source_ids, vocabulary_size)
    length = source_ids.shape[1] if hasattr(source_ids, "shape") else None
    if (
        model.position_encoding == "learned"
        and length is not None
        and int(length) > model.max_sequence_length
    ):
        raise ValueError(
            "source_ids must be at most the model's max_sequence_length="
            f"{model.max_sequence_length} tokens long (learned positions). "
            f"Received: source_ids of length {int(length)}"
        )


def generate_ids(model, source_ids, sampler, max_length):
    """The traceable core of `generate` (keras.ops only; no compilation).

    Args:
        model: a `Transformer`.
        source_ids: int `(batch, source_length)` source ids, 0 = padding.
        sampler: a sampler from `keras_transformer_bit.samplers`.
        max_length: int. Most target tokens to generate (end token included).

    Returns:
        `(token_ids, scores)` from the sampler, over a buffer of `max_length +
        1` positions whose position 0 holds the start token.
    """
    source_ids = ops.cast(source_ids, "int32")
    batch_size = ops.shape(source_ids)[0]
    encoder_outputs, encoder_padding_mask = model.encode(source_ids)
    # Per-layer (keys, values) pairs: each step then updates one (batch,
    # heads, max_length, head_dim) tensor per layer in place, instead of
    # slicing and re-stacking a (batch, num_layers, ...) cache.
    self_attention_cache, cross_attention_cache = model.build_decoder_cache(
        encoder_outputs, max_length, per_layer=True
    )
    if isinstance(sampler, BeamSampler):
        # Beams of one sentence share its cross-attention keys/values, so they
        # are repeated once here rather than reordered every step.
        beam_size = sampler.beam_size
        cross_attention_cache = keras.tree.map_structure(
            lambda cache: ops.repeat(cache, beam_size, axis=0), cross_attention_cache
        )
        encoder_padding_mask = ops.repeat(encoder_padding_mask, beam_size, axis=0)
    pad_mask = ops.arange(model.vocabulary_size) == model.pad_token_id

    def next_fn(token_ids, index, self_attention_cache):
        last_tokens = ops.expand_dims(ops.take(token_ids, index, axis=1), 1)
        logits, self_attention_cache = model.decode_step(
            last_tokens,
            index,
            encoder_padding_mask,
            self_attention_cache,
            cross_attention_cache,
        )
        # Padding is masked from attention, so a generated pad token would be
        # invisible to later steps; it is never a valid output.
        return ops.where(pad_mask, -1e9, logits), self_attention_cache

    start = ops.full((batch_size, 1), model.start_token_id, "int32")
    padding = ops.full((batch_size, max_length), model.pad_token_id, "int32")
    return sampler(
        next_fn,
        ops.concatenate([start, padding], axis=1),
        state=self_attention_cache,
        end_token_id=model.end_token_id,
        pad_token_id=model.pad_token_id,
    )


def _sampler_key(sampler):
    return (type(sampler).__name__, tuple(sorted(sampler.get_config().items())))


def compiled_generate_function(model, sampler, max_length, jit_compile):
    """One compiled function per (model, sampler config, max_length, jit).

    The function maps int `(batch, source_length)` source ids to the
    sampler's `(token_ids, scores)` through `model.generate_ids(source_ids,
    sampler, max_length)`: any model with that method (and `pad_token_id`,
    `start_token_id`, `end_token_id`, `vocabulary_size`) decodes through the
    samplers, `generate` and `ktb.Translator` alike.
    """
    functions = model.__dict__.setdefault("_ktb_generate_functions", {})
    key = (_sampler_key(sampler), max_length, jit_compile)
    if key not in functions:

        def run(source_ids):
            return model.generate_ids(source_ids, sampler, max_length)

        if keras.config.backend() == "tensorflow":
            # The loop is keras.ops; compiling it is the backend's business.
            import tensorflow as tf

            run = tf.function(run, jit_compile=jit_compile, reduce_retracing=True)
        functions[key] = run
    return functions[key]


def generate(
    model,
    source_ids,
    max_length=64,
    method="greedy",
    return_scores=False,
    jit_compile=True,
    **kwargs,
):
    """Translates token ids with cached greedy, beam or sampled decoding.

    Args:
        model: a `Transformer`.
        source_ids: int `(batch, source_length)` source ids, 0 = padding, in
            `[0, source vocabulary size)`. Out-of-range or non-integer ids
            raise a `ValueError`; the range is checked on concrete ids only
            (not on symbolic tensors inside a `tf.function`).
        max_length: int. Most target tokens to generate, end token included;
            at most the model's `max_sequence_length`. Defaults to `64`.
        method: `"greedy"`, `"beam"`, `"top_k"` or `"top_p"`, or a sampler
            instance. Defaults to `"greedy"`.
        return_scores: bool. Also return the scores. Defaults to `False`.
        jit_compile: bool. Compile the loop with XLA. Defaults to `True`.
        **kwargs: the method's options: `beam_size`, `length_penalty`,
            `num_return_sequences` (beam); `top_k` / `top_p`, `temperature`,
            `seed` (sampling); `no_repeat_ngram_size`, `max_repeat_run`
            (every method). See
            `keras_transformer_bit.samplers.get_sampler`.

    Returns:
        int32 token ids `(batch, max_length)` (or `(batch, n, max_length)`
        with `num_return_sequences=n > 1`) without the start token: generated
        tokens, the end token if one was generated, then padding. With
        `return_scores`, also float32 scores `(batch,)` (or `(batch, n)`):
        the log-probability of each output, divided by the length penalty for
        beam search.
    """
    check_max_length(model, max_length)
    sampler = get_sampler(method, **kwargs)
    check_source_ids(model, source_ids)
    function = compiled_generate_function(model, sampler, max_length, jit_compile)
    token_ids, scores = function(ops.convert_to_tensor(source_ids, "int32"))
    token_ids = token_ids[..., 1:]
    return (token_ids, scores) if return_scores else token_ids
