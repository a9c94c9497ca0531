"""Toy step functions for the sampler tests, with NumPy twins for enumeration."""

import itertools

import numpy as np
from keras import ops


class PrefixTable:
    """Logits that depend on the whole prefix: a random row per (prefix, index).

    Row `i` of a batch starts with token `i % vocabulary_size`, so the rows pose
    different problems.
    """

    def __init__(self, vocabulary_size, length, seed, scale=2.0):
        self.vocabulary_size = vocabulary_size
        self.length = length
        rng = np.random.default_rng(seed)
        self.num_rows = vocabulary_size**length * length
        self.table = (rng.normal(size=(self.num_rows, vocabulary_size)) * scale).astype(
            "float32"
        )
        self.weights = vocabulary_size ** np.arange(length)
        self.calls = 0

    def row(self, prefix):
        prefix = np.asarray(prefix)
        index = len(prefix) - 1
        code = int(np.sum(prefix * self.weights[: len(prefix)]))
        return (code + index * self.vocabulary_size**self.length) % self.num_rows

    def log_probs(self, prefix):
        logits = self.table[self.row(prefix)].astype("float64")
        return logits - np.log(np.sum(np.exp(logits)))

    def next_fn(self, token_ids, index, state):
        self.calls += 1
        positions = ops.arange(self.length)
        weights = ops.convert_to_tensor(self.weights.astype("int32"))
        masked = ops.where(positions[None, :] <= index, token_ids * weights, 0)
        code = ops.sum(masked, axis=1) + index * self.vocabulary_size**self.length
        return ops.take(self.table, code % self.num_rows, axis=0), state

    def start_buffer(self, batch_size):
        ids = np.zeros((batch_size, self.length), "int32")
        ids[:, 0] = np.arange(batch_size) % self.vocabulary_size
        return ids

    def greedy(self, start_token, end_token):
        prefix = [start_token]
        while len(prefix) < self.length:
            token = int(np.argmax(self.log_probs(prefix)))
            prefix.append(token)
            if token == end_token:
                break
        return prefix + [0] * (self.length - len(prefix))

    def enumerate(self, start_token, end_token, alpha):
        """All finished continuations with their length-penalised scores."""
        results = []
        max_new = self.length - 1
        for n in range(1, max_new + 1):
            for body in itertools.product(range(self.vocabulary_size), repeat=n):
                if end_token in body[:-1]:
                    continue
                if n < max_new and body[-1] != end_token:
                    continue
                prefix = [start_token]
                log_prob = 0.0
                for token in body:
                    log_prob += self.log_probs(prefix)[token]
                    prefix.append(token)
                score = log_prob / ((5.0 + n) / 6.0) ** alpha
                results.append((score, prefix + [0] * (self.length - len(prefix))))
        results.sort(key=lambda item: -item[0])
        return results


def constant_step(probabilities):
    """A step function that always returns the same distribution."""
    logits = np.log(np.asarray(probabilities, "float32"))

    def next_fn(token_ids, index, state):
        batch_size = ops.shape(token_ids)[0]
        return ops.repeat(ops.convert_to_tensor(logits)[None], batch_size, 0), state

    return next_fn


# StepTable's vocabulary and end token.
VOCABULARY = 4
END = 3


class StepTable:
    """A table of next-token log-probabilities indexed by the last two tokens.

    Args:
        boosts: list of `(index, log_odds)`: an index into the
            `(previous, last, next)` table, for example `(..., 1)` (token 1
            after anything) or `(1, 1, 1)`, and the log-odds added there before
            the table is normalized.
    """

    def __init__(self, boosts):
        table = np.log(
            np.random.default_rng(0).dirichlet(
                np.ones(VOCABULARY), size=(VOCABULARY,) * 2
            )
        )
        for index, boost in boosts:
            table[index] += boost
        self.table = table - np.log(np.exp(table).sum(-1, keepdims=True))

    def next_fn(self, token_ids, index, state):
        """The samplers' `next_fn`: log-probabilities after `token_ids[:, index]`."""
        previous = ops.take(token_ids, ops.maximum(index - 1, 0), axis=1)
        last = ops.take(token_ids, index, axis=1)
        flat = ops.convert_to_tensor(self.table.reshape(-1, VOCABULARY), "float32")
        return ops.take(flat, previous * VOCABULARY + last, axis=0), state

    def log_prob(self, sequence):
        """Log-probability of `sequence` after the start token 0."""
        tokens = [0] + list(sequence)
        return sum(
            self.table[tokens[max(i - 1, 0)], tokens[i], tokens[i + 1]]
            for i in range(len(tokens) - 1)
        )

    def brute_force_beam(self, max_new, allowed, alpha):
        """The best sequence by GNMT-normalised score among every `allowed` one.

        Args:
            max_new: int. Most tokens after the start token.
            allowed: callable on the token list (start token included).
            alpha: float. The length penalty.

        Returns:
            `(tokens, score)`.
        """
        best, best_score = None, -np.inf
        for size in range(1, max_new + 1):
            for body in itertools.product(range(VOCABULARY), repeat=size):
                ends = [i for i, t in enumerate(body) if t == END]
                if ends and ends[0] != size - 1:
                    continue
                if not ends and size != max_new:
                    continue
                if not allowed([0, *body]):
                    continue
                score = self.log_prob(body) / ((5 + size) / 6) ** alpha
                if score > best_score:
                    best, best_score = body, score
        return list(best), best_score

    def greedy_reference(self, max_new, banned):
        """Greedy decoding step by step, skipping the tokens `banned(tokens)` marks.

        Args:
            max_new: int. Most tokens after the start token.
            banned: callable on the token list, returning a boolean mask over
                the vocabulary.
        """
        tokens = [0]
        for _ in range(max_new):
            scores = self.table[tokens[max(len(tokens) - 2, 0)], tokens[-1]].copy()
            scores[banned(tokens)] = -np.inf
            tokens.append(int(np.argmax(scores)))
            if tokens[-1] == END:
                break
        return tokens[1:]
