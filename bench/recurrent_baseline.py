"""A recurrent encoder-decoder with attention, the pre-Transformer NMT baseline.

The model the Transformer paper measured itself against, built from Keras
layers the way the strong recurrent systems were:

- a shared source/target embedding whose transpose is also the output
  projection (Press & Wolf 2017; the Transformer recipe ties them the same way);
- a stack of bidirectional LSTM encoder layers (Bahdanau et al. 2015; Wu et al.
  2016 for the stacking), each direction `hidden_dim // 2` wide so the encoder
  output is `hidden_dim` wide;
- an LSTM decoder with Luong et al.'s (2015) "general" multiplicative attention
  (`keras.layers.Attention` over keys projected by `W_a`), the attentional
  vector `tanh(W_c [context; h_t])` and input feeding (§3.3): each step's input
  is the target embedding concatenated with the previous attentional vector,
  so the decoder knows what it attended to before;
- the decoder's first state comes from the encoder's final forward and
  backward states through a `tanh` bridge (Bahdanau et al. 2015, appendix).

Sizing: matched in parameters to the Transformer recipe's model. With the
defaults (embedding 128, 2 bidirectional encoder layers of 2 x 128, one decoder
LSTM of 256) it has 2,147,712 parameters at a 6,000-token vocabulary against
`transformer_small`'s 2,157,056 (-0.4%); both spend 768,000 of them on the
shared, tied embedding. Every other weight of either model is used once per
source or target token (the Transformer's attention scores and the recurrent
model's attention add a cost in the source length to both), so equal
parameters also give about equal FLOPs per token: the comparison is of
architectures, not of sizes.

Input feeding makes the decoder sequential in its attention, so a step
(`AttentionalLSTMDecoder.step`) runs one LSTM cell and one attention; training
runs the same step over the target positions in a `keras.ops.scan` (teacher
forcing) and generation runs it under the package's samplers (greedy and beam
search) with the LSTM states and the attentional vector as the cache.

It lives in bench/ rather than in the package: it exists to be compared with
the `Transformer`, and the package's public API (`Translator`, export, presets)
is built around the Transformer's encode / decoder-cache / decode-step
protocol, which a recurrent model does not share.

Example:
>>> model = RecurrentTranslator(vocabulary_size=100, embedding_dim=16,
...     hidden_dim=32)
>>> ids = np.array([[2, 5, 6, 3]])
>>> tuple(model({"encoder_inputs": ids, "decoder_inputs": ids}).shape)
(1, 4, 100)
>>> model.generate(ids, max_length=5, method="beam", beam_size=2).shape
TensorShape([1, 5])

References:
    Bahdanau, Cho and Bengio, "Neural Machine Translation by Jointly Learning to
    Align and Translate", ICLR 2015.
    Luong, Pham and Manning, "Effective Approaches to Attention-based Neural
    Machine Translation", EMNLP 2015.
    Press and Wolf, "Using the Output Embedding to Improve Language Models",
    EACL 2017.
"""

import numbers

import keras
from keras import ops

from keras_transformer_bit.samplers import BeamSampler, get_sampler
from keras_transformer_bit.utils import check_positive_int

PACKAGE = "keras_transformer_bit_bench"


@keras.saving.register_keras_serializable(package=PACKAGE)
class TiedEmbedding(keras.layers.Embedding):
    """`keras.layers.Embedding` that can also project onto the vocabulary.

    `call(x, reverse=True)` multiplies hidden states by the transposed
    embedding matrix: the tied output projection.

    Example:
    >>> layer = TiedEmbedding(10, 4)
    >>> tuple(layer(layer(np.array([[1, 2]])), reverse=True).shape)
    (1, 2, 10)
    """

    def call(self, inputs, reverse=False):
        if not reverse:
            return super().call(inputs)
        embeddings = ops.cast(self.embeddings, inputs.dtype)
        return ops.matmul(inputs, ops.transpose(embeddings))

    def compute_output_spec(self, inputs, reverse=False):
        if not reverse:
            return super().compute_output_spec(inputs)
        return keras.KerasTensor(
            tuple(inputs.shape[:-1]) + (self.input_dim,), dtype=self.compute_dtype
        )


@keras.saving.register_keras_serializable(package=PACKAGE)
class AttentionalLSTMDecoder(keras.layers.Layer):
    """LSTM decoder with Luong "general" attention and input feeding.

    One step: `x = [embedding; previous attentional vector]` → the stacked
    LSTM cells → `context = Attention(query=h_top, keys=W_a memory, values=
    memory)` → attentional vector `tanh(W_c [context; h_top])`, which is both
    the step's output and part of the next step's input.

    Args:
        hidden_dim: int. Width of the LSTM cells and of the memory.
        output_dim: int. Width of the attentional vector (the embedding width,
            so that the tied embedding projects it onto the vocabulary).
        num_layers: int. Stacked LSTM cells. Defaults to `1`.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: `(batch, target_length, output_dim)` target embeddings.
        memory: `(batch, source_length, hidden_dim)` encoder outputs.
        memory_mask: bool `(batch, source_length)`, `False` at padding.
        encoder_state: `(batch, hidden_dim)` final encoder states, which the
            bridge turns into the first decoder state.

    Returns:
        `(batch, target_length, output_dim)` attentional vectors.
    """

    def __init__(self, hidden_dim, output_dim, num_layers=1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.output_dim = check_positive_int("output_dim", output_dim)
        self.num_layers = check_positive_int("num_layers", num_layers)

    def build(self, inputs_shape=None, *args, **kwargs):
        hidden, output = self.hidden_dim, self.output_dim
        self.cells = []
        for index in range(self.num_layers):
            cell = keras.layers.LSTMCell(
                hidden, dtype=self.dtype_policy, name=f"lstm_cell_{index}"
            )
            cell.build((None, 2 * output if index == 0 else hidden))
            self.cells.append(cell)
        self.bridges = []
        for index in range(self.num_layers):
            bridge = keras.layers.Dense(
                hidden,
                activation="tanh",
                dtype=self.dtype_policy,
                name=f"bridge_{index}",
            )
            bridge.build((None, hidden))
            self.bridges.append(bridge)
        self.key_projection = keras.layers.Dense(
            hidden, use_bias=False, dtype=self.dtype_policy, name="key_projection"
        )
        self.key_projection.build((None, None, hidden))
        self.attention = keras.layers.Attention(
            dtype=self.dtype_policy, name="attention"
        )
        self.attention.build([(None, 1, hidden), (None, None, hidden)])
        self.combine = keras.layers.Dense(
            output, activation="tanh", dtype=self.dtype_policy, name="combine"
        )
        self.combine.build((None, 2 * hidden))
        self.built = True

    def initial_state(self, encoder_state):
        """The first decoder state: bridged `h`, zero `c`, zero attentional vector."""
        zeros = ops.zeros_like(encoder_state)
        state = []
        for bridge in self.bridges:
            state += [bridge(encoder_state), zeros]
        batch_size = ops.shape(encoder_state)[0]
        state.append(ops.zeros((batch_size, self.output_dim), encoder_state.dtype))
        return tuple(state)

    def memory_keys(self, memory):
        """`W_a memory`: the keys of Luong's "general" score `h_t^T W_a h_s`."""
        return self.key_projection(memory)

    def step(self, inputs, state, memory, keys, memory_mask):
        """One target position.

        Args:
            inputs: `(batch, output_dim)` embedding of the previous token.
            state: the tuple from `initial_state` or the previous step.
            memory: `(batch, source_length, hidden_dim)` encoder outputs.
            keys: `memory_keys(memory)`.
            memory_mask: bool `(batch, source_length)`.

        Returns:
            `(attentional, state)`: `(batch, output_dim)` and the new state.
        """
        x = ops.concatenate([inputs, state[-1]], axis=-1)
        new_state = []
        for index, cell in enumerate(self.cells):
            x, (hidden, carry) = cell(x, [state[2 * index], state[2 * index + 1]])
            new_state += [hidden, carry]
        context = self.attention(
            [x[:, None, :], memory, keys], mask=[None, memory_mask]
        )[:, 0, :]
        attentional = self.combine(ops.concatenate([context, x], axis=-1))
        return attentional, tuple(new_state) + (attentional,)

    def call(self, inputs, memory, memory_mask, encoder_state):
        keys = self.memory_keys(memory)

        def scan_step(state, step_inputs):
            _, state = self.step(step_inputs, state, memory, keys, memory_mask)
            # The TensorFlow backend's scan needs outputs shaped like the
            # carry (keras-team/keras#19681), so the step outputs its whole
            # state; the attentional vector is its last entry.
            return state, state

        _, states = ops.scan(
            scan_step,
            self.initial_state(encoder_state),
            ops.transpose(inputs, (1, 0, 2)),
        )
        return ops.transpose(states[-1], (1, 0, 2))

    def compute_output_shape(self, inputs_shape, *args, **kwargs):
        return tuple(inputs_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_dim": self.hidden_dim,
            "output_dim": self.output_dim,
            "num_layers": self.num_layers,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class RecurrentTranslator(keras.Model):
    """Bidirectional-LSTM encoder, attentional LSTM decoder, tied embeddings.

    Takes and returns what `ktb.models.Transformer` does, so the same data
    pipeline, loss, optimizer and decoding code serve both.

    Args:
        vocabulary_size: int. Shared source/target vocabulary.
        embedding_dim: int. Width of the shared embedding and of the
            attentional vector. Defaults to `128`.
        hidden_dim: int. Width of the decoder LSTM and of the encoder output
            (`hidden_dim // 2` per direction; must be even). Defaults to `256`.
        num_encoder_layers: int. Bidirectional LSTM layers. Defaults to `2`.
        num_decoder_layers: int. Stacked decoder LSTM cells. Defaults to `1`.
        dropout: float in [0, 1). On the embeddings, between encoder layers
            and on the attentional vectors. Defaults to `0.1`.
        start_token_id: int. Defaults to `2`.
        end_token_id: int. Defaults to `3`.
        pad_token_id: int. Defaults to `0`.
        **kwargs: `keras.Model` keyword arguments (`name`, `trainable`).

    Call arguments:
        inputs: dict with `"encoder_inputs"` and `"decoder_inputs"` int ids.
        training: bool. Enables dropout.

    Returns:
        Float32 logits `(batch, target_length, vocabulary_size)`.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=128,
        hidden_dim=256,
        num_encoder_layers=2,
        num_decoder_layers=1,
        dropout=0.1,
        start_token_id=2,
        end_token_id=3,
        pad_token_id=0,
        **kwargs,
    ):
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("embedding_dim", embedding_dim),
            ("hidden_dim", hidden_dim),
            ("num_encoder_layers", num_encoder_layers),
            ("num_decoder_layers", num_decoder_layers),
        ):
            check_positive_int(name, value)
        if hidden_dim % 2:
            raise ValueError(
                "hidden_dim must be even (half of it per encoder direction). "
                f"Received: hidden_dim={hidden_dim}"
            )
        if not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(
                f"dropout must be a float in [0, 1). Received: dropout={dropout!r}"
            )
        self.vocabulary_size = int(vocabulary_size)
        self.embedding_dim = int(embedding_dim)
        self.hidden_dim = int(hidden_dim)
        self.num_encoder_layers = int(num_encoder_layers)
        self.num_decoder_layers = int(num_decoder_layers)
        self.dropout = float(dropout)
        self.start_token_id = int(start_token_id)
        self.end_token_id = int(end_token_id)
        self.pad_token_id = int(pad_token_id)

        self.embedding = TiedEmbedding(
            self.vocabulary_size,
            self.embedding_dim,
            embeddings_initializer=keras.initializers.RandomNormal(
                stddev=self.embedding_dim**-0.5
            ),
            name="shared_embedding",
        )
        self.encoder_layers = [
            keras.layers.Bidirectional(
                keras.layers.LSTM(
                    self.hidden_dim // 2,
                    return_sequences=True,
                    return_state=index == self.num_encoder_layers - 1,
                ),
                name=f"encoder_layer_{index}",
            )
            for index in range(self.num_encoder_layers)
        ]
        self.decoder = AttentionalLSTMDecoder(
            self.hidden_dim,
            self.embedding_dim,
            num_layers=self.num_decoder_layers,
            name="decoder",
        )
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.encoder_dropout = keras.layers.Dropout(dropout, name="encoder_dropout")
        self.output_dropout = keras.layers.Dropout(dropout, name="output_dropout")

        encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
        decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
        memory, memory_mask, encoder_state = self._encode(encoder_inputs)
        x = self.embedding_dropout(self.embedding(decoder_inputs))
        x = self.decoder(x, memory, memory_mask, encoder_state)
        logits = self._project(self.output_dropout(x))
        super().__init__(
            inputs={"encoder_inputs": encoder_inputs, "decoder_inputs": decoder_inputs},
            outputs=logits,
            **kwargs,
        )

    def _encode(self, encoder_inputs, training=None):
        memory_mask = ops.not_equal(encoder_inputs, self.pad_token_id)
        x = self.embedding_dropout(self.embedding(encoder_inputs), training=training)
        for index, layer in enumerate(self.encoder_layers):
            if index:
                x = self.encoder_dropout(x, training=training)
            x = layer(x, mask=memory_mask, training=training)
        # The mask holds each direction's state at its last real token, so
        # these are the states after the whole source, whatever the padding.
        x, forward_hidden, _, backward_hidden, _ = x
        encoder_state = ops.concatenate([forward_hidden, backward_hidden], axis=-1)
        return x, memory_mask, encoder_state

    def _project(self, x):
        return ops.cast(self.embedding(x, reverse=True), "float32")

    def encode(self, encoder_inputs):
        """`(memory, memory_mask, encoder_state)` of source ids, for generation."""
        return self._encode(ops.cast(encoder_inputs, "int32"), training=False)

    def generate_ids(self, source_ids, sampler, max_length):
        """The traceable decoding loop: `(token_ids, scores)` from `sampler`.

        The buffer has `max_length + 1` positions; position 0 holds the start
        token. The sampler carries the LSTM states and the attentional vector
        (beam search reorders them with its hypotheses); the encoder memory is
        per sentence, so for beam search it is repeated once here.
        """
        source_ids = ops.cast(source_ids, "int32")
        batch_size = ops.shape(source_ids)[0]
        memory, memory_mask, encoder_state = self.encode(source_ids)
        state = self.decoder.initial_state(encoder_state)
        if isinstance(sampler, BeamSampler):
            memory, memory_mask = (
                ops.repeat(x, sampler.beam_size, axis=0) for x in (memory, memory_mask)
            )
        keys = self.decoder.memory_keys(memory)
        pad_mask = ops.arange(self.vocabulary_size) == self.pad_token_id

        def next_fn(token_ids, index, state):
            embedded = self.embedding(ops.take(token_ids, index, axis=1))
            attentional, state = self.decoder.step(
                embedded, state, memory, keys, memory_mask
            )
            logits = self._project(attentional)
            # A generated pad token would end the sequence unseen; never emit it.
            return ops.where(pad_mask, -1e9, logits), state

        start = ops.full((batch_size, 1), self.start_token_id, "int32")
        padding = ops.full((batch_size, max_length), self.pad_token_id, "int32")
        return sampler(
            next_fn,
            ops.concatenate([start, padding], axis=1),
            state=state,
            end_token_id=self.end_token_id,
            pad_token_id=self.pad_token_id,
        )

    def generate(
        self,
        source_ids,
        max_length=64,
        method="greedy",
        return_scores=False,
        jit_compile=True,
        **kwargs,
    ):
        """Translates token ids like `Transformer.generate` (same samplers).

        Args:
            source_ids: int `(batch, source_length)`, 0 = padding.
            max_length: int. Most target tokens, end token included.
            method: `"greedy"`, `"beam"`, `"top_k"`, `"top_p"` or a sampler.
            return_scores: bool. Also return the sampler's scores.
            jit_compile: bool. Compile the loop with XLA. Defaults to `True`.
            **kwargs: the sampler's options (`beam_size`, `length_penalty`, ...).

        Returns:
            int32 `(batch, max_length)` ids without the start token (and the
            scores with `return_scores`).
        """
        max_length = check_positive_int("max_length", max_length)
        sampler = get_sampler(method, **kwargs)
        key = (
            type(sampler).__name__,
            tuple(sorted(sampler.get_config().items())),
            max_length,
            jit_compile,
        )
        functions = self.__dict__.setdefault("_generate_functions", {})
        if key not in functions:
            import tensorflow as tf

            functions[key] = tf.function(
                lambda ids: self.generate_ids(ids, sampler, max_length),
                jit_compile=jit_compile,
                reduce_retracing=True,
            )
        token_ids, scores = functions[key](ops.convert_to_tensor(source_ids, "int32"))
        token_ids = token_ids[..., 1:]
        return (token_ids, scores) if return_scores else token_ids

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "hidden_dim": self.hidden_dim,
            "num_encoder_layers": self.num_encoder_layers,
            "num_decoder_layers": self.num_decoder_layers,
            "dropout": self.dropout,
            "start_token_id": self.start_token_id,
            "end_token_id": self.end_token_id,
            "pad_token_id": self.pad_token_id,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
