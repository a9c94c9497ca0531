"""SavedModel export of a `Translator` for TF Serving."""

import keras
import tensorflow as tf

from keras_transformer_bit.export.write_directory_atomically import (
    write_directory_atomically,
)
from keras_transformer_bit.samplers import RandomSampler
from keras_transformer_bit.translator import Translator, check_tensorflow_backend


def export_translator(
    translator, path, method=None, jit_compile=False, **generate_kwargs
):
    """Writes a SavedModel whose `serving_default` translates strings.

    The signature `serving_default` takes `text`, a `tf.string` tensor of
    any shape, and returns, in that same shape:
    - `translation`: `tf.string`;
    - `scores`: float32, the decoder's score of each translation
      (length-penalised log-probability for beam search; with an MBR choice,
      the chosen hypothesis's).

    So one string (a scalar) gives one translation, a batch `[N]` gives `N`,
    and the `[rows, columns]` tensor that TF Serving's columnar REST form
    builds from nested lists gives `[rows, columns]`; an empty batch gives an
    empty result, and no input is ever dropped.

    Tokenization, cached decoding and detokenization all run inside the
    graph, with TensorFlow and tensorflow-text ops only, so the export runs
    in TF Serving (whose model server links the tensorflow-text ops) and in
    any Python process that imports `tensorflow` and `tensorflow_text`. The
    empty-input and long-input rules are the `Translator`'s. By default the
    decoding loop is exported without XLA: TF Serving runs XLA functions only
    when started with `--xla_cpu_compilation_enabled`, which it calls
    experimental. `jit_compile=True` exports an XLA decoding loop instead, for
    servers started with that flag (docs/serving.md).

    The SavedModel is written into a temporary directory next to `path` and
    renamed into place, so no reader ever sees a half-written export and a
    failure leaves nothing behind. An existing `path` is refused, never
    replaced, naming the next free version. For TF Serving, export into a
    numbered version directory, e.g. `models/translator/1`
    (`next_version_path("models/translator")` gives the next one).

    Args:
        translator: a `keras_transformer_bit.Translator`.
        path: str. Output directory.
        method: `"beam"`, `"greedy"`, `"top_k"`, `"top_p"` or `None`. `None`
            keeps the translator's method and options, its MBR choice
            (`mbr_utility`) included (`"beam"` for a default `Translator`);
            a method name replaces them with `generate_kwargs`. Defaults to
            `None`.
        jit_compile: bool. Export the decoding loop as an XLA function
            (`tf.function(jit_compile=True)`). Loading and running it needs a
            TensorFlow with XLA (pip's has it); TF Serving needs
            `--xla_cpu_compilation_enabled=true`. Defaults to `False`.
        **generate_kwargs: options of `method` (`beam_size`, `length_penalty`,
            `top_k`, `top_p`, `temperature`, `seed`; `no_repeat_ngram_size`,
            `max_repeat_run` for every method; `mbr_utility`,
            `mbr_temperature` for beam search) and `max_length`,
            `max_source_length`.

    Returns:
        `path`.

    Raises:
        FileExistsError: `path` exists, or lies inside an existing export.

    Example:
    >>> export_translator(translator, "exported/translator/1")  # doctest: +SKIP
    >>> import tensorflow_text  # registers the tokenizer ops  # doctest: +SKIP
    >>> served = tf.saved_model.load("exported/translator/1")  # doctest: +SKIP
    >>> serve = served.signatures["serving_default"]  # doctest: +SKIP
    >>> serve(text=tf.constant(["Hallo!"]))  # doctest: +SKIP
    {'translation': <tf.Tensor: ... dtype=string ...>, 'scores': ...}
    """
    check_tensorflow_backend("export_translator")
    if not isinstance(translator, Translator):
        raise ValueError(
            "translator must be a keras_transformer_bit.Translator. "
            f"Received: {type(translator).__name__}"
        )
    options = {
        "max_length": translator.max_length,
        "max_source_length": translator.max_source_length,
    }
    if method is None:
        method = translator.method
        options.update(translator.generate_kwargs)
        options.update(
            mbr_utility=translator.mbr_utility,
            mbr_temperature=translator.mbr_temperature,
        )
    options.update(generate_kwargs)
    exported = Translator(
        translator.model,
        translator.source_tokenizer,
        translator.target_tokenizer,
        method=method,
        jit_compile=bool(jit_compile),
        **options,
    )

    def serve(text):
        translation, scores = exported.translate_tensor(text)
        return {"translation": translation, "scores": scores}

    def write(directory):
        archive = keras.export.ExportArchive()
        archive.track(translator.model)
        archive.track(translator.source_tokenizer)
        archive.track(translator.target_tokenizer)
        if isinstance(exported.sampler, RandomSampler):
            archive.track(exported.sampler.seed_generator.state.value)
        archive.add_endpoint(
            name="serving_default",
            fn=serve,
            # Any shape: the translator flattens and reshapes back.
            input_signature=[tf.TensorSpec(None, tf.string, name="text")],
        )
        archive.write_out(directory, verbose=False)

    write_directory_atomically(path, write)
    return path
