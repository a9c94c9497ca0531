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
