"""Strings in, strings out: a `Transformer` between two tokenizers."""

import tensorflow as tf

from keras_transformer_bit.models.transformer.generation import (
    _check_max_length,
    _compiled_generate_function,
)
from keras_transformer_bit.samplers import BeamSampler, get_sampler
from keras_transformer_bit.utils import check_positive_int

DEFAULT_MAX_LENGTH = 128


class Translator:
    """Translates batches of sentences with a trained `Transformer`.

    The source strings are tokenized, decoded with the cached generation loop
    (`Transformer.generate`) and detokenized, all as TensorFlow ops in one
    `tf.function` (the same computation `ktb.export.export_translator` writes
    into a SavedModel).

    Rules for awkward inputs:
    - An input with no tokens (the empty string, or only whitespace)
      translates to `""` with score `0.0`; the model is not asked to
      translate nothing.
    - An input longer than `max_source_length` tokens is cut to its first
      `max_source_length` tokens (the model was trained on bounded lengths).
    - A translation stops at the end token or after `max_length` tokens.
    - Anything but a string or a list/tuple of strings raises `TypeError`.

    Args:
        model: a `Transformer`.
        source_tokenizer: tokenizer of the source language, e.g.
            `ktb.data.SubwordTokenizer`: `tokenize(tf.string [N])` returns a
            `tf.RaggedTensor` of ids; only TF/tensorflow-text ops inside.
        target_tokenizer: tokenizer of the target language; its
            `detokenize(ids [N, T])` returns `tf.string [N]` and drops
            reserved tokens.
        method: `"beam"`, `"greedy"`, `"top_k"` or `"top_p"`. Defaults to
            `"beam"`.
        max_length: int. Most target tokens per translation. Defaults to
            `min(128, model.max_sequence_length)`.
        max_source_length: int. Longer inputs are truncated. Defaults to
            `model.max_sequence_length`.
        batch_size: int. `__call__` translates lists in chunks of this size.
            Defaults to `64`.
        jit_compile: bool. Compile the decoding loop with XLA. Defaults to
            `False`, which is what an exported SavedModel runs (TF Serving
            disables XLA on CPU by default), so both give identical results.
        **generate_kwargs: the method's options (`beam_size`,
            `length_penalty`; `top_k`, `top_p`, `temperature`, `seed`).

    Example:
    >>> translator = keras_transformer_bit.Translator(
    ...     model, source_tokenizer, target_tokenizer, beam_size=4)  # doctest: +SKIP
    >>> translator(["Ich bin seit fünf Tagen hier."])  # doctest: +SKIP
    ["i've been here for five days."]
    """

    def __init__(
        self,
        model,
        source_tokenizer,
        target_tokenizer,
        method="beam",
        max_length=None,
        max_source_length=None,
        batch_size=64,
        jit_compile=False,
        **generate_kwargs,
    ):
        self.sampler = get_sampler(method, **generate_kwargs)
        if (
            isinstance(self.sampler, BeamSampler)
            and self.sampler.num_return_sequences != 1
        ):
            raise ValueError(
                "Translator returns one translation per input, so "
                "num_return_sequences must be 1. Received: num_return_sequences="
                f"{self.sampler.num_return_sequences}"
            )
        if max_length is None:
            max_length = min(DEFAULT_MAX_LENGTH, model.max_sequence_length)
        _check_max_length(model, max_length)
        if max_source_length is None:
            max_source_length = model.max_sequence_length
        for name, value in (
            ("max_source_length", max_source_length),
            ("batch_size", batch_size),
        ):
            check_positive_int(name, value)
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.method = method
        self.generate_kwargs = dict(generate_kwargs)
        self.max_length = max_length
        self.max_source_length = max_source_length
        self.batch_size = batch_size
        self.jit_compile = jit_compile
        self._translate_function = tf.function(
            self.translate_tensor,
            input_signature=[tf.TensorSpec([None], tf.string, name="text")],
        )

    def translate_tensor(self, text):
        """The whole translation as TensorFlow ops (traceable, exportable).

        Args:
            text: `tf.string` tensor `(N,)`.

        Returns:
            `(translation, scores)`: `tf.string` `(N,)` and float32 `(N,)`
            (the sampler's score: length-penalised log-probability for beam
            search, log-probability otherwise).
        """
        text = tf.convert_to_tensor(text, tf.string)
        pad_id = self.model.pad_token_id
        source_ids = tf.cast(self.source_tokenizer.tokenize(text), tf.int32)
        source_ids = source_ids[:, : self.max_source_length]
        empty = tf.equal(source_ids.row_lengths(), 0)
        # One extra padding column keeps the width >= 1 even when every input
        # is empty (appended padding does not change the model's output).
        source_ids = tf.pad(
            source_ids.to_tensor(default_value=pad_id), [[0, 0], [0, 1]]
        )
        # Rows without tokens get one [UNK], so their attention has a key to
        # look at; their outputs are replaced by "" below.
        first_column = tf.equal(tf.range(tf.shape(source_ids)[1]), 0)
        unknown_id = getattr(self.source_tokenizer, "unknown_id", 1)
        source_ids = tf.where(
            tf.logical_and(empty[:, None], first_column[None, :]),
            unknown_id,
            source_ids,
        )
        generate_function = _compiled_generate_function(
            self.model, self.sampler, self.max_length, self.jit_compile
        )
        token_ids, scores = generate_function(source_ids)
        translation = self.target_tokenizer.detokenize(token_ids[:, 1:])
        translation = tf.where(empty, tf.constant("", tf.string), translation)
        scores = tf.where(empty, tf.zeros_like(scores), scores)
        return translation, scores

    def __call__(self, texts):
        """Translates a string or a list of strings; returns the same shape."""
        return self.translate(texts)[0]

    def translate(self, texts):
        """Like `__call__`, but returns `(translations, scores)`."""
        single = isinstance(texts, str)
        batch = [texts] if single else texts
        if not isinstance(batch, (list, tuple)) or not all(
            isinstance(t, str) for t in batch
        ):
            bad = (
                batch
                if not isinstance(batch, (list, tuple))
                else next(t for t in batch if not isinstance(t, str))
            )
            raise TypeError(
                "Translator takes a string or a list of strings. Received: "
                f"{bad!r} of type {type(bad).__name__}"
            )
        translations, scores = [], []
        for start in range(0, len(batch), self.batch_size):
            chunk = tf.constant(list(batch[start : start + self.batch_size]), tf.string)
            chunk_translations, chunk_scores = self._translate_function(chunk)
            translations += [t.decode("utf-8") for t in chunk_translations.numpy()]
            scores += chunk_scores.numpy().tolist()
        if single:
            return translations[0], scores[0]
        return translations, scores
