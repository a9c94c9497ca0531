"""Corpus BLEU with sacreBLEU, and a callback that logs it during training."""

import time

import keras
import numpy as np

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
    import sacrebleu

    hypotheses, references = check_aligned_texts("corpus_bleu", hypotheses, references)
    result = sacrebleu.corpus_bleu(
        hypotheses, [references], tokenize=tokenize, lowercase=lowercase
    )
    return float(result.score)


def translate_texts(
    model,
    source_tokenizer,
    target_tokenizer,
    texts,
    method="greedy",
    max_length=64,
    batch_size=64,
    **generate_kwargs,
):
    """Translates a list of strings with `model.generate`, in length-sorted batches.

    A light stand-in for `ktb.Translator` used during training (no export
    machinery). Sources longer than the model's position range are truncated.

    Args:
        model: a `Transformer` with `generate`.
        source_tokenizer: tokenizer of the source side.
        target_tokenizer: tokenizer of the target side.
        texts: list of str.
        method: str. Generation method. Defaults to `"greedy"`.
        max_length: int. Most target tokens. Defaults to `64`.
        batch_size: int. Sentences per `generate` call. Defaults to `64`.
        **generate_kwargs: passed to `model.generate` (e.g. `beam_size`).

    Returns:
        list of str, in the order of `texts`.
    """
    import tensorflow as tf

    texts = list(texts)
    if not texts:
        return []
    token_ids = source_tokenizer.tokenize(tf.constant(texts, tf.string))
    lengths = token_ids.row_lengths().numpy()
    order = np.argsort(lengths, kind="stable")
    translations = [None] * len(texts)
    for start in range(0, len(texts), batch_size):
        indices = order[start : start + batch_size]
        batch = tf.gather(token_ids, indices)[:, :max_length].to_tensor()
        # Pad the batch to a multiple of 8 positions and full batch size, so
        # the compiled generation loop sees few distinct shapes.
        width = -(-int(batch.shape[1]) // 8) * 8
        rows = len(indices)
        batch = tf.pad(batch, [[0, batch_size - rows], [0, width - batch.shape[1]]])
        output = model.generate(
            tf.cast(batch, tf.int32),
            max_length=max_length,
            method=method,
            **generate_kwargs,
        )
        if isinstance(output, tuple):
            output = output[0]
        decoded = target_tokenizer.detokenize(tf.convert_to_tensor(output)[:rows])
        for index, text in zip(indices, decoded.numpy()):
            translations[index] = text.decode("utf-8")
    return translations


class BleuCallback(keras.callbacks.Callback):
    """Decodes validation sentences every few epochs and logs their BLEU.

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
            str`; defaults to greedy `model.generate` via `translate_texts`.

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
        self.history = []
        self._writer = None

    def score(self):
        """Translates the validation sources and returns their BLEU."""
        if self.translate_fn is not None:
            hypotheses = self.translate_fn(self.sources)
        else:
            hypotheses = translate_texts(
                self.model,
                self.source_tokenizer,
                self.target_tokenizer,
                self.sources,
                method=self.method,
                max_length=self.max_length,
            )
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
