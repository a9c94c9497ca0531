"""Strings in, strings out: a `Transformer` between two tokenizers."""

import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_transformer_bit.mbr_choice import mbr_choice
from keras_transformer_bit.models.transformer.generation import (
    check_max_length,
    compiled_generate_function,
)
from keras_transformer_bit.samplers import BeamSampler, get_sampler
from keras_transformer_bit.utils import check_mbr_options, check_positive_int

DEFAULT_MAX_LENGTH = 128
# The stutter guard of the translation recipe and `ktb translate`: no n-gram
# of subwords 3+ times in a row ("very very" may stay). Chosen on validation
# by bench/decoding_choice.py (docs/benchmarks.md); `max_repeat_run=0` lifts it.
DEFAULT_MAX_REPEAT_RUN = 2


def check_tensorflow_backend(what):
    """Refuses to start `what` (TensorFlow code) on another Keras backend."""
    backend = keras.config.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"{what} runs on Keras's TensorFlow backend (its tokenizers, "
            "decoding graph and exports are TensorFlow). Received: "
            f"KERAS_BACKEND={backend}. Set KERAS_BACKEND=tensorflow before "
            "importing keras, or use the models' `generate` on this backend."
        )


def fingerprint_mismatches(model, source_tokenizer, target_tokenizer):
    """The sides whose tokenizer is not the one the model records.

    Returns:
        A list of `(side, tokenizer_fingerprint, model_fingerprint)`, source
        first; empty when they match or either does not know its fingerprint.
    """
    expected = getattr(model, "vocabulary_fingerprints", None) or {}
    mismatches = []
    for side, tokenizer in (("source", source_tokenizer), ("target", target_tokenizer)):
        fingerprint = getattr(tokenizer, "fingerprint", None)
        if side in expected and fingerprint and fingerprint != expected[side]:
            mismatches.append((side, fingerprint, expected[side]))
    return mismatches


def _check_tokenizers(model, source_tokenizer, target_tokenizer):
    """Refuses tokenizers whose ids the model cannot embed or produce; for
    a model with a vocabulary per language, a tokenizer passed for the wrong
    side (its ids would be read in the other language's vocabulary); and,
    for a model that records its tokenizers' fingerprints
    (`vocabulary_fingerprints`), any other tokenizer."""
    target_size = model.vocabulary_size
    sizes = {
        "source": getattr(model, "source_vocabulary_size", None) or target_size,
        "target": target_size,
    }
    given = {}
    for side, tokenizer in (("source", source_tokenizer), ("target", target_tokenizer)):
        size = getattr(tokenizer, "vocabulary_size", None)
        if size is not None:
            given[side] = int(size)
    # The wrong side first: a swapped tokenizer is often also too large.
    if sizes["source"] != sizes["target"]:
        if (
            given.get("source") == sizes["target"]
            and given.get("target") == (sizes["source"])
        ):
            raise ValueError(
                "source_tokenizer and target_tokenizer are swapped: "
                f"source_tokenizer has {sizes['target']} tokens, the size of the "
                f"model's target vocabulary, and target_tokenizer has "
                f"{sizes['source']}, the size of its source vocabulary."
            )
        for side, other in (("target", "source"), ("source", "target")):
            if given.get(side) == sizes[other]:
                raise ValueError(
                    f"{side}_tokenizer has {sizes[other]} tokens, the size of "
                    f"the model's {other} vocabulary; its {side} vocabulary has "
                    f"{sizes[side]}. Pass the {side} language's tokenizer as "
                    f"{side}_tokenizer (a run's `load()` returns both)."
                )
    # A tokenizer from another build reads text as other ids, whatever its
    # size. A model built for its tokenizers knows their fingerprints.
    for side, fingerprint, expected in fingerprint_mismatches(
        model, source_tokenizer, target_tokenizer
    ):
        raise ValueError(
            f"{side}_tokenizer is not the one this model was trained with: "
            f"its fingerprint is {fingerprint}, the model's {side} "
            f"tokenizer's is {expected} (a tokenizer from another "
            "build, or with other text settings, gives the text other ids). "
            "Pass the tokenizer saved with the model (a run's `load()` "
            "returns both)."
        )
    for side, size in given.items():
        if size > sizes[side]:
            raise ValueError(
                f"{side}_tokenizer has a larger vocabulary than the model: its "
                f"ids would fall outside the model's embedding. Received: "
                f"{side}_tokenizer with vocabulary_size={size}, model vocabulary "
                f"size {sizes[side]}"
            )


class Translator:
    """Translates batches of sentences with a trained `Transformer`.

    The source strings are tokenized, decoded with the cached generation loop
    (`Transformer.generate`) and detokenized, all as TensorFlow ops in one
    `tf.function` (the same computation `ktb.export.export_translator` writes
    into a SavedModel). It is the package's one way from strings to strings:
    `ktb.recipes.BleuCallback`, `ktb translate evaluate` and the tutorials
    decode through it, so validation BLEU is computed on what an export serves.

    A list is translated in batches of `batch_size` sentences of similar
    length: the inputs are sorted by their number of tokens, batched, and the
    results put back in the input order. Padding then costs little, which
    matters most for beam search (each step runs over the longest source of
    its batch).

    Any model with `generate_ids(source_ids, sampler, max_length)` and the
    token-id attributes of `Transformer` (`vocabulary_size`, `pad_token_id`,
    `start_token_id`, `end_token_id`) can be driven; `max_sequence_length`,
    `source_vocabulary_size` and `position_encoding` are read when present.

    Rules for awkward inputs:
    - An input with no tokens (the empty string, or only whitespace)
      translates to `""` with score `0.0`; the model is not asked to
      translate nothing.
    - An input longer than `max_source_length` tokens is cut to its first
      `max_source_length` tokens (the model was trained on bounded lengths).
    - A translation stops at the end token or after `max_length` tokens.
    - Anything but a string or a list/tuple of strings raises `TypeError`.
    - A tokenizer whose `vocabulary_size` is larger than the model's (source
      or target) raises `ValueError` at construction: its ids would fall
      outside the model's embedding. So does, for a model that records its
      tokenizers' fingerprints (`vocabulary_fingerprints`, as every
      `ktb.training.TranslationRun` model does), any tokenizer with another
      `fingerprint`: one from another build, or with other text settings.
      For a model with a vocabulary per language, a target tokenizer of the
      source vocabulary's size (or a source tokenizer of the target's) raises
      too: one tokenizer was passed for both sides.

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
        max_source_length: int. Longer inputs are truncated. At most
            `model.max_sequence_length` with learned positions. Defaults to
            `model.max_sequence_length`.
        batch_size: int. `__call__` translates lists in chunks of this size.
            Defaults to `64`.
        jit_compile: bool. Compile the decoding loop with XLA. Defaults to
            `False`, which is what an exported SavedModel runs (TF Serving
            disables XLA on CPU by default), so both give identical results.
        mbr_utility: `None` or `"chrf"`. With `"chrf"`, beam search returns
            its `beam_size` best finished hypotheses and the translation is
            their minimum-Bayes-risk choice (`mbr_choice` in
            `keras_transformer_bit.mbr_choice`): the one of highest expected
            sentence chrF against the others, each weighted by the softmax
            of its beam score divided by `mbr_temperature`.
            Needs `method="beam"` and `beam_size >= 2`; the scores returned
            are the chosen hypotheses' beam scores. Defaults to `None`: beam
            search's top-1.
        mbr_temperature: float > 0. Divides the beam scores before the
            softmax of the MBR choice (small: trust the model's ranking;
            large: weigh the candidates evenly). Defaults to `1.0`.
        **generate_kwargs: the method's options (`beam_size`,
            `length_penalty`; `top_k`, `top_p`, `temperature`, `seed`;
            `no_repeat_ngram_size`, `max_repeat_run` for every method).
            `max_repeat_run` defaults to `2`, the stutter guard of
            `ktb translate`: no n-gram of subwords three or more times in a
            row ("very very" may stay); `max_repeat_run=0` (or `None`)
            lifts it.

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
        mbr_utility=None,
        mbr_temperature=1.0,
        **generate_kwargs,
    ):
        check_tensorflow_backend("ktb.Translator")
        mbr_utility, mbr_temperature = check_mbr_options(mbr_utility, mbr_temperature)
        if isinstance(method, str):
            generate_kwargs.setdefault("max_repeat_run", DEFAULT_MAX_REPEAT_RUN)
        sampler_kwargs = dict(generate_kwargs)
        if mbr_utility is not None and method == "beam":
            # The choice is among every finished hypothesis of the beam.
            beam_size = get_sampler(method, **sampler_kwargs).beam_size
            sampler_kwargs.setdefault("num_return_sequences", beam_size)
        self.sampler = get_sampler(method, **sampler_kwargs)
        returned = getattr(self.sampler, "num_return_sequences", 1)
        if mbr_utility is None and returned != 1:
            raise ValueError(
                "Translator returns one translation per input, so "
                "num_return_sequences must be 1 (or choose among them with "
                f"mbr_utility='chrf'). Received: num_return_sequences={returned}"
            )
        if mbr_utility is not None and not (
            isinstance(self.sampler, BeamSampler) and returned >= 2
        ):
            raise ValueError(
                "mbr_utility chooses among the n-best of beam search, so it "
                "needs method='beam' with beam_size >= 2 (and "
                "num_return_sequences >= 2 when given). Received: "
                f"method={method!r}, beam_size="
                f"{getattr(self.sampler, 'beam_size', None)}, "
                f"num_return_sequences={returned}, mbr_utility={mbr_utility!r}"
            )
        model_length = getattr(model, "max_sequence_length", None)
        if max_length is None:
            max_length = min(DEFAULT_MAX_LENGTH, model_length or DEFAULT_MAX_LENGTH)
        max_length = check_max_length(model, max_length)
        if max_source_length is None:
            max_source_length = model_length
        if max_source_length is not None:
            max_source_length = check_positive_int(
                "max_source_length", max_source_length
            )
        batch_size = check_positive_int("batch_size", batch_size)
        if (
            getattr(model, "position_encoding", None) == "learned"
            and max_source_length > model.max_sequence_length
        ):
            raise ValueError(
                "With learned positions, max_source_length must be at most the "
                f"model's max_sequence_length={model.max_sequence_length}. "
                f"Received: max_source_length={max_source_length}"
            )
        _check_tokenizers(model, source_tokenizer, target_tokenizer)
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.method = method
        self.generate_kwargs = dict(generate_kwargs)
        self.max_length = max_length
        self.max_source_length = max_source_length
        self.batch_size = batch_size
        self.jit_compile = jit_compile
        self.mbr_utility = mbr_utility
        self.mbr_temperature = mbr_temperature
        self._translate_function = tf.function(
            self.translate_tensor,
            input_signature=[tf.TensorSpec([None], tf.string, name="text")],
        )

    def translate_tensor(self, text):
        """The whole translation as TensorFlow ops (traceable, exportable).

        Any shape is accepted: a scalar, a batch `(N,)`, or a grid such as
        the `(rows, columns)` tensor of TF Serving's columnar REST form. The
        strings are translated as one flat batch and the results take the
        shape of `text`, so no input is ever dropped.

        Args:
            text: `tf.string` tensor of any shape.

        Returns:
            `(translation, scores)`: `tf.string` and float32 tensors of the
            shape of `text` (the sampler's score: length-penalised
            log-probability for beam search, log-probability otherwise).
        """
        text = tf.convert_to_tensor(text, tf.string)
        # The tokenizer kernels expect a vector (a scalar crashed them).
        translation, scores = self._translate_batch(tf.reshape(text, [-1]))
        shape = tf.shape(text)
        return tf.reshape(translation, shape), tf.reshape(scores, shape)

    def _translate_batch(self, text):
        pad_id = self.model.pad_token_id
        source_ids = tf.cast(self.source_tokenizer.tokenize(text), tf.int32)
        source_ids = source_ids[:, : self.max_source_length]
        empty = tf.equal(source_ids.row_lengths(), 0)
        source_ids = source_ids.to_tensor(default_value=pad_id)
        # One padding column when every input is empty keeps the width >= 1
        # (appended padding does not change the model's output); never more,
        # so learned positions still cover max_source_length tokens.
        source_ids = tf.pad(
            source_ids, [[0, 0], [0, tf.maximum(1 - tf.shape(source_ids)[1], 0)]]
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
        token_ids, scores = self._generate(source_ids)
        translation = self.target_tokenizer.detokenize(token_ids[:, 1:])
        translation = tf.where(empty, tf.constant("", tf.string), translation)
        scores = tf.where(empty, tf.zeros_like(scores), scores)
        return translation, scores

    def _generate(self, source_ids):
        """The decoded ids `(batch, 1 + length)` and scores `(batch,)`; with
        `mbr_utility`, those of each source's MBR choice among the n-best."""
        generate_function = compiled_generate_function(
            self.model, self.sampler, self.max_length, self.jit_compile
        )
        token_ids, scores = generate_function(source_ids)
        if self.mbr_utility is None:
            return token_ids, scores
        shape = tf.shape(token_ids)
        candidates = self.target_tokenizer.detokenize(
            tf.reshape(token_ids[:, :, 1:], [shape[0] * shape[1], shape[2] - 1])
        )
        candidates = tf.reshape(candidates, shape[:2])
        chosen = mbr_choice(candidates, scores, self.mbr_temperature)
        return (
            tf.gather(token_ids, chosen, axis=1, batch_dims=1),
            tf.gather(scores, chosen, axis=1, batch_dims=1),
        )

    def translate_with_attention(self, text, layer=-1):
        """Translates one string and returns the cross-attention behind it.

        The translation is decoded as `__call__` decodes it; the model is then
        run once more on the source and its own output (teacher-forced), and
        the cross-attention probabilities of one decoder layer are returned,
        one row per generated token: row `i` is the attention of the step that
        produced target token `i`.

        Args:
            text: str. The source sentence.
            layer: int. Which decoder layer's cross-attention (Python
                indexing). Defaults to `-1`, the last.

        Returns:
            A dict: `"translation"` (str), `"source_tokens"` and
            `"target_tokens"` (lists of subword strings; the target ends with
            the end token when one was produced) and `"attention"`, a float32
            NumPy array `(num_heads, len(target_tokens), len(source_tokens))`
            whose rows sum to 1.

        Example:
        >>> out = translator.translate_with_attention("Ich bin hier.")  # doctest: +SKIP
        >>> out["attention"].shape  # doctest: +SKIP
        (4, 5, 4)
        """
        if not isinstance(text, str):
            raise TypeError(
                "translate_with_attention takes one string. Received: "
                f"{text!r} of type {type(text).__name__}"
            )
        num_layers = len(self.model.decoder_layers)
        if (
            isinstance(layer, bool)
            or not isinstance(layer, numbers.Integral)
            or not -num_layers <= layer < num_layers
        ):
            raise ValueError(
                f"layer must be an int in [{-num_layers}, {num_layers}) for a "
                f"model with {num_layers} decoder layers. Received: layer={layer!r}"
            )
        source_ids = tf.cast(
            self.source_tokenizer.tokenize(tf.constant([text])), tf.int32
        )
        source_ids = source_ids[:, : self.max_source_length].to_tensor(
            default_value=self.model.pad_token_id
        )
        if source_ids.shape[1] == 0:
            raise ValueError(
                f"text has no tokens to attend to. Received: text={text!r}"
            )
        token_ids, _ = self._generate(source_ids)
        ids = token_ids.numpy()[0]
        generated = []
        for token in ids[1:]:
            if token == self.model.pad_token_id:
                break
            generated.append(int(token))
            if token == self.model.end_token_id:
                break
        decoder_inputs = ids[None, : max(len(generated), 1)]
        _, scores = self.model.call_with_attention_scores(
            {"encoder_inputs": source_ids, "decoder_inputs": decoder_inputs}
        )
        attention = np.asarray(scores["cross_attention"][layer], "float32")[0]
        attention = attention[:, : len(generated)]
        translation = self.target_tokenizer.detokenize(ids[None, 1:])[0]
        return {
            "translation": translation.numpy().decode("utf-8"),
            "source_tokens": _token_strings(
                self.source_tokenizer, source_ids.numpy()[0].tolist()
            ),
            "target_tokens": _token_strings(self.target_tokenizer, generated),
            "attention": attention,
        }

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
        translations, scores = [None] * len(batch), [None] * len(batch)
        order = self._length_order(batch)
        for start in range(0, len(batch), self.batch_size):
            indices = order[start : start + self.batch_size]
            chunk = tf.constant([batch[i] for i in indices], tf.string)
            chunk_translations, chunk_scores = self._translate_function(chunk)
            for index, text, score in zip(
                indices, chunk_translations.numpy(), chunk_scores.numpy().tolist()
            ):
                translations[index] = text.decode("utf-8")
                scores[index] = score
        if single:
            return translations[0], scores[0]
        return translations, scores

    def _length_order(self, texts):
        """Input positions sorted by token count (stable), for batching.

        One batch needs no sorting; otherwise the sources are tokenized once
        more here, which costs far less than decoding them.
        """
        if len(texts) <= self.batch_size:
            return list(range(len(texts)))
        lengths = self.source_tokenizer.tokenize(tf.constant(list(texts), tf.string))
        lengths = lengths.row_lengths().numpy()
        if self.max_source_length is not None:
            lengths = np.minimum(lengths, self.max_source_length)
        return np.argsort(lengths, kind="stable").tolist()


def _token_strings(tokenizer, token_ids):
    """Subword strings of `token_ids` (the ids themselves when the tokenizer
    cannot name them)."""
    if not token_ids:
        return []
    if hasattr(tokenizer, "id_to_token"):
        tokens = tokenizer.id_to_token(tf.constant(token_ids, tf.int64))
        return [t.decode("utf-8") for t in np.asarray(tokens).tolist()]
    return [str(t) for t in token_ids]
