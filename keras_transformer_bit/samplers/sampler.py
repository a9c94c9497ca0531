"""The decoding loop shared by the one-token-per-step samplers."""

import numbers

import keras
from keras import ops

from keras_transformer_bit.samplers.no_repeat_ngram import (
    check_guard_setting,
    repeated_ngram_mask,
)
from keras_transformer_bit.samplers.repeat_run import repeat_run_mask
from keras_transformer_bit.utils import SettingError, check_seed


def apply_guards(scores, token_ids, index, sampler, banned_score):
    """`scores` `(batch, vocabulary_size)` with the tokens that `sampler`'s
    `no_repeat_ngram_size` and `max_repeat_run` forbid after `token_ids[:,
    :index + 1]` set to `banned_score`; every sampler applies its guards
    through this one function."""
    vocabulary_size = scores.shape[-1]
    if sampler.no_repeat_ngram_size:
        banned = repeated_ngram_mask(
            token_ids, index, sampler.no_repeat_ngram_size, vocabulary_size
        )
        scores = ops.where(banned, banned_score, scores)
    if sampler.max_repeat_run:
        banned = repeat_run_mask(
            token_ids, index, sampler.max_repeat_run, vocabulary_size
        )
        scores = ops.where(banned, banned_score, scores)
    return scores


# The temperatures float32 logits can be divided by without every logit
# becoming equal (too hot) or the draw seeing only -inf and 0 (too cold).
MIN_TEMPERATURE = 1e-3
MAX_TEMPERATURE = 1e3


class Sampler:
    """Base class of the samplers that pick one token per sequence per step.

    A sampler drives a step function `next_fn(token_ids, index, state) ->
    (logits, state)`:

    - `token_ids`: int32 tensor `(batch, length)`, the whole token buffer.
      Positions `0..index` hold the tokens so far; the rest are padding.
    - `index`: scalar int32 tensor, the position of the last token so far.
    - `state`: any nest of tensors with a leading batch dimension (for
      example a key/value cache), or `()`.
    - `logits`: float tensor `(batch, vocabulary_size)`, the scores of the
      token that goes to position `index + 1`.

    A cached step function reads only `token_ids[:, index]`; a full-recompute
    one may rerun a model over the whole buffer. The loop is a
    `keras.ops.while_loop` with static shapes, so it compiles inside
    `tf.function` (also with `jit_compile=True`). It stops when every
    sequence has produced `end_token_id`, or when the buffer is full.

    Subclasses implement `select(logits)`, which returns the next token ids.

    Args:
        temperature: float in `[0.001, 1000]`. Logits are divided by it
            before `select` and before scoring. Defaults to `1.0`.
        no_repeat_ngram_size: int or `None`. When set to `n >= 1`, a token that
            would repeat an n-gram already in the sequence (the prompt
            included) is never chosen; scores are then log-probabilities under
            the distribution renormalised over the allowed tokens. `None` or
            `0`: no constraint (the default).
        max_repeat_run: int or `None`. When set to `r >= 1`, a token that
            would end `r + 1` back-to-back copies of one n-gram (the prompt
            included; a stutter
            such as "very very very" or "1 2 1 2 1 2" with `r=2`) is never
            chosen; n-grams that recur apart stay allowed. `None` or `0`: no
            constraint (the default).

    Call arguments:
        next_fn: the step function described above.
        token_ids: int tensor `(batch, length)`. The prompt in positions
            `0..start_index` (for translation: the start token), then padding.
            `length` bounds the output.
        state: the initial state of `next_fn`. Defaults to `()`.
        start_index: int. Position of the last prompt token. Defaults to `0`.
        end_token_id: int or `None`. A sequence stops after producing it and
            is padded with `pad_token_id` afterwards. Defaults to `None`.
        pad_token_id: int. Defaults to `0`.

    Returns:
        `(token_ids, scores)`: the filled int32 buffer `(batch, length)` and the
        float32 log-probability `(batch,)` of each generated continuation
        (end token included, padding excluded) under the temperature-scaled
        model distribution.
    """

    def __init__(self, temperature=1.0, no_repeat_ngram_size=None, max_repeat_run=None):
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, numbers.Real)
            or not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE
        ):
            raise SettingError(
                lambda name: (
                    f"{name('temperature')} must be a float in "
                    f"[{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}] (logits are "
                    "divided by it in float32; for a colder choice use greedy "
                    f"decoding). Received: {name('temperature')}={temperature!r}"
                )
            )
        self.temperature = float(temperature)
        self.no_repeat_ngram_size = check_guard_setting(
            "no_repeat_ngram_size", no_repeat_ngram_size
        )
        self.max_repeat_run = check_guard_setting("max_repeat_run", max_repeat_run)

    def select(self, logits):
        """Returns int32 next tokens `(batch,)` from float32 logits `(batch, V)`."""
        raise NotImplementedError

    def start(self):
        """Hook run once at the beginning of a call (e.g. to reset a seed)."""
        return None

    def __call__(
        self,
        next_fn,
        token_ids,
        state=(),
        start_index=0,
        end_token_id=None,
        pad_token_id=0,
    ):
        token_ids = ops.cast(token_ids, "int32")
        length = ops.shape(token_ids)[1]
        batch_size = ops.shape(token_ids)[0]
        positions = ops.arange(length, dtype="int32")[None, :]
        self.start()

        def cond(index, token_ids, scores, finished, state):
            return ops.logical_and(
                index < length - 1, ops.logical_not(ops.all(finished))
            )

        def body(index, token_ids, scores, finished, state):
            logits, state = next_fn(token_ids, index, state)
            logits = ops.cast(logits, "float32")
            # Shifted so that the best logit is 0: a cold temperature sends
            # the others towards -inf, never the best one to inf.
            logits = logits - ops.max(logits, axis=-1, keepdims=True)
            logits = logits / self.temperature
            logits = apply_guards(logits, token_ids, index, self, -1e9)
            next_tokens = ops.cast(self.select(logits), "int32")
            log_probs = ops.take_along_axis(
                ops.log_softmax(logits, axis=-1), next_tokens[:, None], axis=-1
            )[:, 0]
            scores = scores + ops.where(finished, 0.0, log_probs)
            next_tokens = ops.where(finished, pad_token_id, next_tokens)
            if end_token_id is not None:
                finished = ops.logical_or(finished, next_tokens == end_token_id)
            token_ids = ops.where(
                positions == index + 1, next_tokens[:, None], token_ids
            )
            return index + 1, token_ids, scores, finished, state

        loop_vars = (
            ops.convert_to_tensor(start_index, "int32"),
            token_ids,
            ops.zeros((batch_size,), "float32"),
            ops.zeros((batch_size,), "bool"),
            state,
        )
        _, token_ids, scores, _, _ = ops.while_loop(cond, body, loop_vars)
        return token_ids, scores

    def get_config(self):
        return {
            "temperature": self.temperature,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
            "max_repeat_run": self.max_repeat_run,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class RandomSampler(Sampler):
    """Base class of the samplers that draw tokens at random.

    The random stream comes from a `keras.random.SeedGenerator`. With an int
    `seed` the stream restarts at every call, so a call is reproducible: the
    same inputs and seed give the same tokens. With `seed=None` the stream
    continues from call to call.

    Args:
        temperature: float in `[0.001, 1000]`. Logits are divided by it.
            Defaults to `1.0`.
        seed: int in `[0, 2**32 - 1]` or `None`. Defaults to `None`.
        no_repeat_ngram_size: int or `None`, see `Sampler`. Defaults to `None`.
        max_repeat_run: int or `None`, see `Sampler`. Defaults to `None`.
    """

    def __init__(
        self, temperature=1.0, seed=None, no_repeat_ngram_size=None, max_repeat_run=None
    ):
        super().__init__(
            temperature=temperature,
            no_repeat_ngram_size=no_repeat_ngram_size,
            max_repeat_run=max_repeat_run,
        )
        seed = check_seed(seed, "seed", allow_none=True)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def start(self):
        if self.seed is not None:
            self.seed_generator.state.assign(
                ops.convert_to_tensor([self.seed, 0], self.seed_generator.state.dtype)
            )

    def draw(self, logits):
        """Draws one token per row of `logits` (unnormalised log-probabilities)."""
        samples = keras.random.categorical(
            logits, 1, seed=self.seed_generator, dtype="int32"
        )
        return samples[:, 0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
