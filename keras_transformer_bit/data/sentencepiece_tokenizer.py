"""A reversible SentencePiece tokenizer, trained with `sentencepiece`, run by
tensorflow-text."""

import hashlib
import io
import json
import numbers
import os
import re

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops import sentencepiece_tokenizer as tf_text_sentencepiece

from keras_transformer_bit.data.subword_tokenizer import (
    SENTENCEPIECE_MODEL_FILE,
    VOCABULARY_FILE,
    TokenizerBase,
    check_ids_in_range,
    check_strings,
    check_texts,
    read_config,
    remove_if_present,
    spelled_ids,
)
from keras_transformer_bit.utils import (
    SettingError,
    check_positive_int,
    write_text_atomically,
)
from keras_transformer_bit.utils.gfile import gfile

RESERVED_TOKENS = ("[PAD]", "[UNK]", "[START]", "[END]")
NORMALIZATION_FORMS = (None, "NFC", "NFKC", "NFD", "NFKD")
MODEL_TYPES = ("unigram", "bpe")
MODEL_FILE = SENTENCEPIECE_MODEL_FILE
CONFIG_FILE = "tokenizer.json"
# The value of "tokenizer" in tokenizer.json, which `load_tokenizer` reads.
KIND = "sentencepiece"


def _normalize(strings, lower_case, normalization_form):
    strings = tf.convert_to_tensor(strings, dtype=tf.string)
    if lower_case:
        # case_fold_utf8 also applies NFKC; an explicit form is applied after it.
        strings = tf_text.case_fold_utf8(strings)
    if normalization_form is not None:
        strings = tf_text.normalize_utf8(strings, normalization_form)
    return strings


def _model_type(model):
    """ "unigram" or "bpe", read from a serialized `ModelProto`."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model)
    names = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}
    return names.get(proto.trainer_spec.model_type, "unknown")


def _check_character_coverage(character_coverage):
    # SentencePiece's trainer refuses values outside [0.98, 1] with an
    # internal error (trainer_interface.cc).
    if (
        isinstance(character_coverage, bool)
        or not isinstance(character_coverage, numbers.Real)
        or not 0.98 <= character_coverage <= 1
    ):
        raise ValueError(
            "character_coverage must be a number in [0.98, 1], the share of the "
            "corpus's characters that get pieces of their own. Received: "
            f"character_coverage={character_coverage!r}"
        )
    return float(character_coverage)


def _check_alpha(alpha):
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, numbers.Real)
        or not 0 < alpha <= 1
    ):
        raise ValueError(
            "alpha must be a number in (0, 1]: the unigram smoothing or the "
            f"BPE-dropout probability. Received: alpha={alpha!r}"
        )
    return float(alpha)


def _write_bytes_atomically(path, content):
    """Writes a temporary file beside `path`, then renames it over `path`."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with gfile.GFile(temporary, "wb") as file:
        file.write(content)
    gfile.rename(temporary, path, overwrite=True)


class _SharedModelResource(tf.saved_model.experimental.TrackableResource):
    """The model, loaded once per process under a name derived from its bytes.

    tensorflow-text creates the model as a resource private to the kernel
    that made it, so `keras.utils.clear_session()` (which clears TensorFlow's
    kernel cache, as KerasTuner does before every trial) destroyed every
    tokenizer in the process: "Resource ... SentencepieceOp does not exist".
    A shared name keeps the model alive until the process ends; equal bytes
    share one copy and different models never share a name.
    """

    def __init__(self, model):
        self._model = model
        digest = hashlib.sha256(model).hexdigest()[:24]
        self._shared_name = f"keras_transformer_bit_sentencepiece_{digest}"
        super().__init__()
        _ = self.resource_handle  # created now, eagerly

    def _create_resource(self):
        return tf_text_sentencepiece.gen_sentencepiece_tokenizer.sentencepiece_op(
            model=self._model, shared_name=self._shared_name
        )


def _run_time_tokenizer(model, **options):
    """`tensorflow_text.SentencepieceTokenizer` on the shared model resource."""
    tokenizer = tf_text.SentencepieceTokenizer(model, out_type=tf.int32, **options)
    tokenizer._model_resource = _SharedModelResource(model)
    return tokenizer


class _Samplers:
    """Sampling tokenizers by alpha; a plain object, so `tf.Module` neither
    tracks nor exports them (serving never samples)."""

    def __init__(self):
        self.by_alpha = {}


class SentencePieceTokenizer(TokenizerBase, tf.Module):
    """SentencePiece tokenizer (unigram or BPE) that gives its input back.

    The model is trained with the `sentencepiece` package (Kudo and Richardson
    2018) and run with `tensorflow_text.SentencepieceTokenizer`, so `tokenize`
    and `detokenize` trace into `tf.data` pipelines and SavedModels (serving
    needs only `import tensorflow_text`). Spaces are pieces of their own
    (`▁`), so detokenizing restores the spacing that WordPiece forgets
    (`over / at`, `Hin- und Her`); byte fallback spells characters the
    vocabulary lacks as UTF-8 bytes, so nothing becomes `[UNK]`. The round
    trip is exact up to the Unicode normalisation (NFC by default, applied by
    TensorFlow before the model) and runs of spaces, which become one space.
    The model itself normalises nothing: SentencePiece's default `nmt_nfkc`
    rule rewrites `…` as `...` and `ﬁ` as `fi`, which would not come back.
    One character cannot come back: `▁` (U+2581), SentencePiece's mark for a
    space, is read as a space.

    The ids match `SubwordTokenizer`'s: `[PAD]`=0, `[UNK]`=1, `[START]`=2,
    `[END]`=3. `sample_tokenize` draws a segmentation at random (subword
    regularisation, Kudo 2018; BPE-dropout, Provilkov et al. 2020) for
    training.

    Args:
        model: bytes. A serialized SentencePiece model (the content of a
            `.model` file) whose first four pieces are the reserved tokens.
        lower_case: bool. Case-fold text before tokenizing (case folding
            applies NFKC too, so `…` comes back as `...`). Defaults to `False`.
        normalization_form: str or `None`. Unicode normalisation applied before
            tokenizing: one of `"NFC"`, `"NFKC"`, `"NFD"`, `"NFKD"` or `None`.
            Defaults to `"NFC"`.
        name: str. Name of the module. Defaults to `None`.

    Example:
    >>> texts = [f"Ich habe {n} Katzen und {n + 1} Hunde." for n in range(50)]
    >>> tokenizer = SentencePieceTokenizer.build(texts, vocabulary_size=288)
    >>> ids = tokenizer.tokenize(["Ich habe 7 Katzen / über (zwei) „Hunde“."])
    >>> tokenizer.detokenize(ids).numpy()[0].decode()
    'Ich habe 7 Katzen / über (zwei) „Hunde“.'
    """

    pad_id = 0
    unknown_id = 1
    start_id = 2
    end_id = 3

    def __init__(self, model, lower_case=False, normalization_form="NFC", name=None):
        super().__init__(name=name)
        if not isinstance(model, bytes):
            raise ValueError(
                "model must be the bytes of a serialized SentencePiece model. "
                f"Received: model of type {type(model).__name__}"
            )
        if not model:
            raise ValueError(
                "model is empty (0 bytes), not a serialized SentencePiece model."
            )
        if normalization_form not in NORMALIZATION_FORMS:
            raise ValueError(
                f"normalization_form must be one of {NORMALIZATION_FORMS}. "
                f"Received: normalization_form={normalization_form!r}"
            )
        try:
            self._sentencepiece = _run_time_tokenizer(model)
            size = int(self._sentencepiece.vocab_size())
            pieces = self._sentencepiece.id_to_string(tf.range(size)).numpy()
        except (tf.errors.OpError, ValueError) as error:
            raise ValueError(
                "model is not a serialized SentencePiece model "
                f"({type(error).__name__}: {str(error).strip()[:200]})"
            ) from None
        vocabulary = tuple(piece.decode("utf-8") for piece in pieces)
        if vocabulary[: len(RESERVED_TOKENS)] != RESERVED_TOKENS:
            raise ValueError(
                "The SentencePiece model's first pieces must be the reserved "
                f"tokens {list(RESERVED_TOKENS)}. Received: "
                f"{list(vocabulary[: len(RESERVED_TOKENS)])}"
            )
        self._model = model
        # A tuple, so tf.Module does not wrap it in a tracking list.
        self._vocabulary = vocabulary
        self._index = {piece: index for index, piece in enumerate(vocabulary)}
        self.lower_case = bool(lower_case)
        self.normalization_form = normalization_form
        self.model_type = _model_type(model)
        self._samplers = _Samplers()

    def normalize(self, strings):
        """Applies the Unicode normalisation and case folding to `strings`."""
        return _normalize(strings, self.lower_case, self.normalization_form)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def _tokenize(self, strings):
        # The most likely segmentation (`sample_tokenize` draws others).
        ids = self._sentencepiece.tokenize(self.normalize(strings))
        return tf.cast(ids, tf.int64)

    def sample_tokenize(self, strings, alpha=0.1):
        """Splits strings into piece ids drawn at random, for training.

        A unigram model samples a segmentation from all of them with
        probabilities sharpened by `alpha` (`nbest_size=-1`); a BPE model
        skips each merge with probability `alpha` (BPE-dropout). Every
        segmentation detokenizes to the same text as `tokenize`'s. Each call
        (each epoch, in `tf.data`) draws anew; the draws come from
        SentencePiece's own generator, which no seed controls.

        Args:
            strings: string tensor (or list of str) of shape `(N,)`, in or
                out of a `tf.function`; wrap one sentence in a list.
            alpha: float in (0, 1]. Defaults to `0.1`.

        Returns:
            `tf.RaggedTensor` of int64 ids, shape `(N, None)`.

        Example:
        >>> texts = [f"Ich habe {n} Katzen und {n + 1} Hunde." for n in range(50)]
        >>> tokenizer = SentencePieceTokenizer.build(texts, vocabulary_size=288)
        >>> ids = tokenizer.sample_tokenize(["Ich habe 7 Katzen."], alpha=0.5)
        >>> tokenizer.detokenize(ids).numpy()[0].decode()
        'Ich habe 7 Katzen.'
        """
        strings = check_strings(strings)
        alpha = _check_alpha(alpha)
        sampler = self._samplers.by_alpha.get(alpha)
        if sampler is None:
            # Out of any tf.function or tf.data trace: the model resource is
            # created once, eagerly.
            with tf.init_scope():
                sampler = _run_time_tokenizer(self._model, nbest_size=-1, alpha=alpha)
            self._samplers.by_alpha[alpha] = sampler
        return tf.cast(sampler.tokenize(self.normalize(strings)), tf.int64)

    @tf.function(reduce_retracing=True)
    def _detokenize(self, token_ids):
        kept_ids = spelled_ids(token_ids, self.vocabulary_size)
        return self._sentencepiece.detokenize(tf.cast(kept_ids, tf.int32))

    def id_to_token(self, token_ids):
        """Maps ids to their pieces (for inspection); spaces show as `▁`.

        Raises:
            ValueError: an id is outside `[0, vocabulary_size)` (eagerly; an
                `InvalidArgumentError` in a graph), which would crash
                SentencePiece.
        """
        token_ids = check_ids_in_range(token_ids, self.vocabulary_size)
        return self._sentencepiece.id_to_string(tf.cast(token_ids, tf.int32))

    def token_to_id(self, token):
        """Returns the id of a vocabulary entry (e.g. `"[END]"`)."""
        if token not in self._index:
            raise ValueError(
                f"token is not in the vocabulary. Received: token={token!r}"
            )
        return self._index[token]

    def _fingerprint_parts(self):
        return {"model_sha256": hashlib.sha256(self._model).hexdigest()}

    def get_config(self):
        return {
            "model_type": self.model_type,
            "lower_case": self.lower_case,
            "normalization_form": self.normalization_form,
            "vocabulary_size": self.vocabulary_size,
        }

    def save(self, directory):
        """Writes `sentencepiece.model` and `tokenizer.json` into `directory`.

        `tokenizer.json` records `"tokenizer": "sentencepiece"`, and a
        `vocabulary.txt` left by an earlier `SubwordTokenizer.save` is
        removed, so the directory holds this tokenizer only.
        """
        gfile.makedirs(directory)  # gs://, ram://, ... too
        # Never a half-written file: each goes to a temporary name first.
        _write_bytes_atomically(os.path.join(directory, MODEL_FILE), self._model)
        write_text_atomically(
            os.path.join(directory, CONFIG_FILE),
            json.dumps({"tokenizer": KIND, **self.get_config()}, indent=2) + "\n",
        )
        # After the config names the kind, so a crash between leaves a
        # directory that `load_tokenizer` still reads as SentencePiece.
        remove_if_present(os.path.join(directory, VOCABULARY_FILE))

    @classmethod
    def load(cls, directory):
        """Reads a tokenizer written by `save`."""
        model_path = os.path.join(directory, MODEL_FILE)
        config_path = os.path.join(directory, CONFIG_FILE)
        if not gfile.exists(model_path):
            raise FileNotFoundError(
                f"No SentencePiece model found. Expected the file {model_path}"
            )
        with gfile.GFile(model_path, "rb") as file:
            model = file.read()
        if not model:
            raise ValueError(
                f"{model_path} is empty (0 bytes): not a SentencePiece model."
            )
        config = read_config(config_path)
        kind = config.get("tokenizer", KIND)
        if kind != KIND:
            raise ValueError(
                f"{config_path} records a {kind!r} tokenizer, not {KIND!r}: "
                "load it with load_tokenizer()."
            )
        try:
            tokenizer = cls(
                model,
                lower_case=config.get("lower_case", False),
                normalization_form=config.get("normalization_form", "NFC"),
            )
        except ValueError as error:
            raise ValueError(
                f"{model_path} is not a SentencePiece model of this package: {error}"
            ) from None
        expected_size = config.get("vocabulary_size", tokenizer.vocabulary_size)
        if expected_size != tokenizer.vocabulary_size:
            raise ValueError(
                f"{model_path} has {tokenizer.vocabulary_size} pieces but "
                f"{config_path} records vocabulary_size={expected_size}."
            )
        return tokenizer

    @classmethod
    def build(
        cls,
        texts,
        vocabulary_size=8000,
        lower_case=False,
        normalization_form="NFC",
        model_type="unigram",
        character_coverage=0.9995,
    ):
        """Trains a SentencePiece model on text.

        Training is in memory and deterministic (the same text gives the same
        model), and takes seconds for tens of thousands of sentences.

        Args:
            texts: iterable of str (sentences, not one string), or a
                `tf.data.Dataset` of scalar strings.
            vocabulary_size: int. The exact vocabulary size, reserved tokens
                and the 256 byte pieces included. Defaults to `8000`.
            lower_case: bool. See the class. Defaults to `False`.
            normalization_form: str or `None`. See the class. Defaults to `"NFC"`.
            model_type: str. `"unigram"` (Kudo 2018) or `"bpe"`. Defaults to
                `"unigram"`.
            character_coverage: float in [0.98, 1] (SentencePiece's range).
                Share of the characters in the text that get pieces of their
                own; the rarest others are spelled in bytes. Defaults to
                `0.9995`.

        Returns:
            A `SentencePieceTokenizer`.

        Example:
        >>> texts = [f"Wir haben {n} Bücher." for n in range(30)]
        >>> SentencePieceTokenizer.build(texts, 300, model_type="bpe").vocabulary_size
        300
        """
        import sentencepiece

        check_texts(texts)
        character_coverage = _check_character_coverage(character_coverage)
        vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size)
        if vocabulary_size <= len(RESERVED_TOKENS):
            raise SettingError(
                lambda name: (
                    f"{name('vocabulary_size')} must be an int greater "
                    f"than {len(RESERVED_TOKENS)}. Received: "
                    f"{name('vocabulary_size')}={vocabulary_size}"
                )
            )
        if model_type not in MODEL_TYPES:
            raise ValueError(
                f"model_type must be one of {MODEL_TYPES}. "
                f"Received: model_type={model_type!r}"
            )
        if normalization_form not in NORMALIZATION_FORMS:
            raise ValueError(
                f"normalization_form must be one of {NORMALIZATION_FORMS}. "
                f"Received: normalization_form={normalization_form!r}"
            )
        if isinstance(texts, tf.data.Dataset):
            dataset = texts
        else:
            texts = [str(text) for text in texts]
            dataset = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
        sentences = [
            text.decode("utf-8")
            for batch in dataset.batch(1024).map(
                lambda strings: _normalize(strings, lower_case, normalization_form)
            )
            for text in batch.numpy()
            if text.strip()
        ]
        if not sentences:
            raise ValueError(
                "Cannot build a vocabulary from an empty corpus (no text that is "
                "not blank)."
            )
        model = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=model,
                vocab_size=vocabulary_size,
                model_type=model_type,
                character_coverage=character_coverage,
                pad_id=0,
                unk_id=1,
                bos_id=2,
                eos_id=3,
                pad_piece=RESERVED_TOKENS[0],
                unk_piece=RESERVED_TOKENS[1],
                bos_piece=RESERVED_TOKENS[2],
                eos_piece=RESERVED_TOKENS[3],
                byte_fallback=True,
                # Normalisation is TensorFlow's (above and in `tokenize`); the
                # model's own rules would not be reversible (see the class).
                normalization_rule_name="identity",
                # Sentences up to 64 KiB, not 4 KiB: longer ones are skipped.
                max_sentence_length=1 << 16,
                # One thread: the same text gives the same model.
                num_threads=1,
                minloglevel=2,
            )
        except RuntimeError as error:
            raise _vocabulary_size_error(error, vocabulary_size) from None
        return cls(model.getvalue(), lower_case, normalization_form)


def _vocabulary_size_error(error, vocabulary_size):
    """SentencePiece's size complaints, in words that name the fix (and the
    setting as the caller names it: `--vocabulary-size` under `ktb`)."""
    message = str(error)
    too_high = re.search(r"Vocabulary size too high.*<= (\d+)", message)
    if too_high:
        return SettingError(
            lambda name: (
                f"{name('vocabulary_size')}={vocabulary_size} is larger "
                f"than this corpus can fill: use at most {too_high.group(1)}, or "
                "more text."
            )
        )
    too_low = re.search(r"smaller than required_chars\. \d+ vs (\d+)", message)
    if too_low:

        def smaller(name):
            # A caller without the setting (`ktb`) names it None.
            coverage = name("character_coverage")
            return (
                f"{name('vocabulary_size')}={vocabulary_size} is smaller "
                "than the reserved tokens, the 256 byte pieces and the characters "
                f"of the corpus need: use at least {too_low.group(1)}"
                + (f" (or a lower {coverage})." if coverage else ".")
            )

        return SettingError(smaller)
    return SettingError(
        lambda name: (
            "SentencePiece could not train a model of "
            f"{name('vocabulary_size')}={vocabulary_size}: {message}"
        )
    )
