"""Corpus BLEU with sacreBLEU, and a callback that logs it during training."""

import time

import keras
import sacrebleu

from keras_transformer_bit.samplers import get_sampler
from keras_transformer_bit.utils import check_positive_int


def check_aligned_texts(caller, hypotheses, others, others_name="references"):
    """Lists of hypotheses and of their references (or sources), one each.

    Raises a `ValueError` naming both lengths when they differ, or when there
    is no hypothesis at all.
    """
    hypotheses, others = list(hypotheses), list(others)
    if len(hypotheses) != len(others):
        raise ValueError(
            f"hypotheses and {others_name} must have the same length. Received: "
            f"{len(hypotheses)} hypotheses, {len(others)} {others_name}"
        )
    if not hypotheses:
        raise ValueError(f"{caller} needs at least one hypothesis. Received: []")
    return hypotheses, others


def corpus_bleu(hypotheses, references, tokenize="13a", lowercase=False):
    """sacreBLEU corpus BLEU of detokenized translations against one reference each.

    Both sides are plain, detokenized text; sacreBLEU applies its own
    tokenization (`13a`, the WMT standard, by default), so scores compare with
    published sacreBLEU numbers for the same test set.

    Args:
        hypotheses: list of str. System translations.
        references: list of str. One reference per hypothesis.
        tokenize: str. sacreBLEU tokenizer. Defaults to `"13a"`.
        lowercase: bool. Case-insensitive BLEU. Defaults to `False` (cased).

    Returns:
        float. BLEU in [0, 100].

    Example:
    >>> score = corpus_bleu(["The cat sat on the mat."], ["The cat sat on the mat."])
    >>> round(score, 6)
    100.0
    """
    hypotheses, references = check_aligned_texts("corpus_bleu", hypotheses, references)
    result = sacrebleu.corpus_bleu(
        hypotheses, [references], tokenize=tokenize, lowercase=lowercase
    )
    return float(result.score)


class BleuCallback(keras.callbacks.Callback):
    """Decodes validation sentences every few epochs and logs their BLEU.

    The sentences are translated by a `ktb.Translator` of the model being
    trained, with the decoding options given here: the computation that
    `ktb.export.export_translator` writes into a SavedModel, so with the same
    options the exported model scores the same BLEU on the same sentences.

    The score goes into the epoch logs as `val_bleu` (so the progress line,
    `History` and a later `TensorBoard` callback show it) and, with `log_dir`,
    into a TensorBoard event file under `log_dir/validation`.

    Args:
        pairs: list of (str, str). Validation pairs; the first `num_examples`
            are used.
        source_tokenizer: tokenizer of the source side.
        target_tokenizer: tokenizer of the target side.
        every_n_epochs: int. Score after every this many epochs. Defaults to `1`.
        num_examples: int. Pairs to decode. Defaults to `200`.
        max_length: int. Most target tokens generated. Defaults to `64`.
        method: str. Generation method. Defaults to `"greedy"`.
        log_dir: str or `None`. TensorBoard directory. Defaults to `None`.
        translate_fn: callable or `None`. `translate_fn(list of str) -> list of
            str`, to decode some other way; defaults to the `Translator`.
        max_source_length: int or `None`. Sources are cut to this many tokens
            (`Translator`'s argument). Defaults to the model's
            `max_sequence_length`.
        **generate_kwargs: the method's options (`beam_size`,
            `length_penalty`, `no_repeat_ngram_size`, ...), as `Translator`
            takes them.

    Example:
    >>> callback = BleuCallback(
    ...     corpus.validation, tokenizer, tokenizer)  # doctest: +SKIP
    >>> model.fit(train_data, epochs=10, callbacks=[callback])  # doctest: +SKIP
    """

    def __init__(
        self,
        pairs,
        source_tokenizer,
        target_tokenizer,
        every_n_epochs=1,
        num_examples=200,
        max_length=64,
        method="greedy",
        log_dir=None,
        translate_fn=None,
        max_source_length=None,
        **generate_kwargs,
    ):
        super().__init__()
        every_n_epochs = check_positive_int("every_n_epochs", every_n_epochs)
        pairs = list(pairs)[:num_examples]
        if not pairs:
            raise ValueError("BleuCallback needs at least one validation pair.")
        self.sources = [source for source, _ in pairs]
        self.references = [target for _, target in pairs]
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.every_n_epochs = every_n_epochs
        self.max_length = max_length
        self.method = method
        self.log_dir = log_dir
        self.translate_fn = translate_fn
        self.max_source_length = max_source_length
        self.generate_kwargs = dict(generate_kwargs)
        if translate_fn is None:
            get_sampler(
                method, **generate_kwargs
            )  # a bad option fails here, not in fit
        self.history = []
        self._writer = None
        self._translator = None

    def translator(self):
        """The `Translator` of the model being trained (made once per model)."""
        if self._translator is None or self._translator.model is not self.model:
            # The Translator is TensorFlow (tf.function, for export); the
            # recipes import it on use so that importing them stays
            # backend-neutral.
            from keras_transformer_bit.translator import Translator

            self._translator = Translator(
                self.model,
                self.source_tokenizer,
                self.target_tokenizer,
                method=self.method,
                max_length=self.max_length,
                max_source_length=self.max_source_length,
                **self.generate_kwargs,
            )
        return self._translator

    def score(self):
        """Translates the validation sources and returns their BLEU."""
        if self.translate_fn is not None:
            hypotheses = self.translate_fn(self.sources)
        else:
            hypotheses = self.translator()(self.sources)
        return corpus_bleu(hypotheses, self.references)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return
        started = time.perf_counter()
        bleu = self.score()
        self.history.append((epoch, bleu, time.perf_counter() - started))
        if logs is not None:
            logs["val_bleu"] = bleu
        if self.log_dir:
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(
                    f"{self.log_dir}/validation"
                )
            with self._writer.as_default():
                tf.summary.scalar("epoch_bleu", bleu, step=epoch)
            self._writer.flush()
