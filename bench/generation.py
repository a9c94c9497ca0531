"""Benchmark: cached generation against full recompute, keras-hub, and beam search.

Run: .venv/bin/python bench/generation.py

All timings come from this run on the same machine (batch 32, source length 32,
64 new tokens, CPU by default), and only ratios are reported:

1. ours, cached greedy vs full-recompute greedy (the plain model call rerun on
   the whole prefix every step, as the TF text tutorial decodes);
2. ours, cached greedy vs keras-hub's cached decoding (its `TransformerEncoder`
   / `TransformerDecoder` layers with their key/value caches, driven by
   `keras_hub.samplers.GreedySampler`) on a model of equal size;
3. ours, beam search (beam 4) vs ours, greedy.

Every decoder runs all 64 steps: the end token is made impossible (its output
bias is -1e9), so no run stops early. The contenders run in interleaved rounds
in one process with the same pinned TensorFlow thread settings (one intra-op,
one inter-op thread by default). Each run records its wall-clock time and the
CPU time of the process; ratios are taken from the medians of CPU time, which
a shared machine disturbs far less than wall-clock time (the wall-clock
medians and the best-of ratios are printed too). The markdown block printed at
the end goes into docs/benchmarks.md.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_transformer_bit.models.transformer.transformer import (  # noqa: E402
    Transformer,
)

TARGETS = {"recompute": 25.0, "keras_hub": 1.3, "beam": 2.5}


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--source-length", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--intermediate-dim", type=int, default=1024)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument(
        "--repeats",
        type=int,
        default=7,
        help="Interleaved timed rounds (full recompute: half as many, at least 2).",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="TensorFlow intra-op threads (0: TF's default). One thread keeps "
        "the ratios steady on a shared machine.",
    )
    parser.add_argument(
        "--jit-compile",
        choices=["true", "false", "both"],
        default="both",
        help="XLA for the cached loops (ours and keras-hub's alike).",
    )
    return parser.parse_args()


def _seconds(function):
    """`(wall-clock seconds, CPU seconds of this process)` of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def _our_model(args):
    keras.utils.set_random_seed(0)
    model = Transformer(
        vocabulary_size=args.vocabulary_size,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        hidden_dim=args.hidden_dim,
        intermediate_dim=args.intermediate_dim,
        dropout=0.0,
        max_sequence_length=max(args.source_length, args.new_tokens + 1),
        tie_output_embeddings=False,
    )
    bias = model.get_layer("output_projection").bias
    bias.assign(
        np.where(np.arange(args.vocabulary_size) == model.end_token_id, -1e9, 0)
    )
    return model


def _full_recompute_greedy(model, source_ids, new_tokens):
    """Greedy decoding that reruns the whole model on the prefix every step."""

    @tf.function(reduce_retracing=True)
    def next_token(source_ids, target_ids):
        logits = model({"encoder_inputs": source_ids, "decoder_inputs": target_ids})
        return tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)

    def run():
        target_ids = tf.fill([source_ids.shape[0], 1], model.start_token_id)
        for _ in range(new_tokens):
            token = next_token(source_ids, target_ids)
            target_ids = tf.concat([target_ids, token[:, None]], axis=1)
        return target_ids

    return run


def _decoder_steps(model, source_ids, rows_per_source, new_tokens, jit_compile):
    """The cached decoder alone, for the cost of rows: no sampler bookkeeping.

    Each source row is decoded `rows_per_source` times (the rows a beam search
    of that size decodes); a step is `decode_step` (embedding, layers, output
    projection) and an argmax, with no log-softmax, top-k or cache reorder.
    """

    @tf.function(jit_compile=jit_compile)
    def run(source_ids):
        encoded, mask = model.encode(source_ids)
        encoded = tf.repeat(encoded, rows_per_source, axis=0)
        mask = tf.repeat(mask, rows_per_source, axis=0)
        self_cache, cross_cache = model.build_decoder_cache(
            encoded, new_tokens, per_layer=True
        )

        def body(index, tokens, self_cache):
            logits, self_cache = model.decode_step(
                tokens, index, mask, self_cache, cross_cache
            )
            return (
                index + 1,
                tf.argmax(logits, -1, output_type=tf.int32)[:, None],
                (self_cache),
            )

        start = tf.fill([tf.shape(encoded)[0], 1], model.start_token_id)
        return tf.while_loop(
            lambda index, *_: index < new_tokens, body, (0, start, self_cache)
        )[1]

    return lambda: run(source_ids).numpy()


class KerasHubSeq2Seq:
    """An encoder-decoder of keras-hub layers, decoded with their caches."""

    def __init__(self, args, max_length):
        import keras_hub

        keras.utils.set_random_seed(0)
        vocabulary, hidden = args.vocabulary_size, args.hidden_dim
        self.num_heads = args.num_heads
        self.head_dim = hidden // args.num_heads
        self.max_length = max_length
        self.source_embedding = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary, max(max_length, args.source_length), hidden
        )
        self.target_embedding = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary, max_length, hidden
        )
        self.encoder_layers = [
            keras_hub.layers.TransformerEncoder(
                args.intermediate_dim, args.num_heads, normalize_first=True
            )
            for _ in range(args.num_layers)
        ]
        self.decoder_layers = [
            keras_hub.layers.TransformerDecoder(
                args.intermediate_dim, args.num_heads, normalize_first=True
            )
            for _ in range(args.num_layers)
        ]
        self.encoder_norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.decoder_norm = keras.layers.LayerNormalization(epsilon=1e-6)
        self.output_projection = keras.layers.Dense(vocabulary)
        self.sampler = keras_hub.samplers.GreedySampler()
        # Build every layer with one uncached call.
        source = np.ones((1, 4), "int32")
        encoded = self.encode(source)
        x = self.target_embedding(source)
        for layer in self.decoder_layers:
            x = layer(x, encoded)
        self.output_projection(self.decoder_norm(x))

    def count_params(self):
        layers = [
            self.source_embedding,
            self.target_embedding,
            *self.encoder_layers,
            *self.decoder_layers,
            self.encoder_norm,
            self.decoder_norm,
            self.output_projection,
        ]
        return sum(layer.count_params() for layer in layers)

    def encode(self, source_ids):
        padding_mask = ops.not_equal(source_ids, 0)
        x = self.source_embedding(source_ids)
        for layer in self.encoder_layers:
            x = layer(x, padding_mask=padding_mask)
        return self.encoder_norm(x)

    def generate(self, source_ids):
        batch_size = ops.shape(source_ids)[0]
        encoded = self.encode(source_ids)
        encoder_padding_mask = ops.not_equal(source_ids, 0)
        source_length = ops.shape(source_ids)[1]
        num_layers = len(self.decoder_layers)
        self_cache = ops.zeros(
            (batch_size, num_layers, 2, self.max_length, self.num_heads, self.head_dim)
        )
        cross_cache = ops.zeros(
            (batch_size, num_layers, 2, source_length, self.num_heads, self.head_dim)
        )
        prompt = ops.concatenate(
            [
                ops.full((batch_size, 1), 2, "int32"),
                ops.zeros((batch_size, self.max_length - 1), "int32"),
            ],
            axis=1,
        )

        # Fill the cross-attention caches once (update index 0), as keras-hub's
        # seq2seq models do before sampling.
        x = self.target_embedding(prompt[:, :1])
        layer_caches = []
        for i, layer in enumerate(self.decoder_layers):
            x, layer_self, layer_cross = layer(
                x,
                encoded,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=self_cache[:, i],
                self_attention_cache_update_index=0,
                cross_attention_cache=cross_cache[:, i],
                cross_attention_cache_update_index=0,
            )
            layer_caches.append(layer_cross)
        cross_cache = ops.stack(layer_caches, axis=1)

        def next(prompt, cache, index):
            token = ops.slice(prompt, [0, index - 1], [batch_size, 1])
            x = self.target_embedding(token, start_index=index - 1)
            new_caches = []
            for i, layer in enumerate(self.decoder_layers):
                x, layer_self, _ = layer(
                    x,
                    encoded,
                    encoder_padding_mask=encoder_padding_mask,
                    self_attention_cache=cache[:, i],
                    self_attention_cache_update_index=index - 1,
                    cross_attention_cache=cross_cache[:, i],
                    cross_attention_cache_update_index=None,
                )
                new_caches.append(layer_self)
            logits = self.output_projection(self.decoder_norm(x))[:, 0]
            return logits, None, ops.stack(new_caches, axis=1)

        return self.sampler(next, prompt, cache=self_cache, index=1)


def _parameter_count(model):
    return sum(int(np.prod(w.shape)) for w in model.weights)


def _ratio(numerator, denominator, times, summary):
    return summary(times[numerator]) / summary(times[denominator])


def _ratio_rows(jit_modes, wall, cpu, beam_size):
    """(label, CPU median ratio, wall median ratio, CPU best ratio, target, met)."""
    rows = []
    for jit in jit_modes:
        greedy = f"greedy jit={jit}"
        for label, other, target in (
            (
                f"cached greedy vs full-recompute greedy (jit_compile={jit})",
                "recompute",
                TARGETS["recompute"],
            ),
            (
                f"ours vs keras-hub cached greedy (both jit_compile={jit})",
                f"keras_hub jit={jit}",
                TARGETS["keras_hub"],
            ),
        ):
            value = _ratio(other, greedy, cpu, np.median)
            rows.append(
                (
                    label,
                    value,
                    _ratio(other, greedy, wall, np.median),
                    _ratio(other, greedy, cpu, min),
                    f">= {target}x faster",
                    value >= target,
                )
            )
        beam = f"beam jit={jit}"
        value = _ratio(beam, greedy, cpu, np.median)
        rows.append(
            (
                f"beam {beam_size} time / greedy time (jit_compile={jit})",
                value,
                _ratio(beam, greedy, wall, np.median),
                _ratio(beam, greedy, cpu, min),
                f"<= {TARGETS['beam']}x",
                value <= TARGETS["beam"],
            )
        )
    return rows


def _time_rounds(contenders, recompute, repeats):
    """Wall and CPU seconds of every contender per round, rounds interleaved."""
    recompute_rounds = max(2, repeats // 2)
    wall = {name: [] for name in ["recompute", *contenders]}
    cpu = {name: [] for name in wall}
    for round_index in range(repeats):
        timed = list(contenders.items())
        if round_index < recompute_rounds:  # the slow one, fewer times
            timed.insert(0, ("recompute", recompute))
        for name, function in timed:
            wall_seconds, cpu_seconds = _seconds(function)
            wall[name].append(wall_seconds)
            cpu[name].append(cpu_seconds)
    return wall, cpu


def main():
    args = _parse_args()
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    rng = np.random.default_rng(0)
    source_ids = rng.integers(
        4, args.vocabulary_size, size=(args.batch_size, args.source_length)
    ).astype("int32")
    source_ids = tf.constant(source_ids)
    new_tokens = args.new_tokens
    model = _our_model(args)
    jit_modes = {"true": [True], "false": [False], "both": [False, True]}[
        args.jit_compile
    ]

    def ours(method, jit_compile, **kwargs):
        def run():
            ids = model.generate(
                source_ids,
                max_length=new_tokens,
                method=method,
                jit_compile=jit_compile,
                **kwargs,
            )
            return ops.convert_to_numpy(ids)

        return run

    hub = KerasHubSeq2Seq(args, max_length=new_tokens + 1)
    hub_functions = {
        jit: tf.function(hub.generate, jit_compile=jit) for jit in jit_modes
    }

    # Sanity: every run really produces new_tokens tokens.
    ids = ours("greedy", jit_modes[0])()
    assert ids.shape == (args.batch_size, new_tokens) and np.all(ids > 0)

    print(
        f"batch {args.batch_size}, source length {args.source_length}, "
        f"{new_tokens} new tokens; {args.num_layers}+{args.num_layers} layers, "
        f"d_model {args.hidden_dim}, d_ff {args.intermediate_dim}, "
        f"{args.num_heads} heads, vocabulary {args.vocabulary_size}"
    )
    print(
        f"parameters: ours {_parameter_count(model):,}, "
        f"keras-hub {hub.count_params():,}"
    )
    # Contenders run in interleaved rounds, so a burst of load from other
    # processes hits all of them; each keeps every round's times.
    contenders = {}
    for jit in jit_modes:
        contenders[f"greedy jit={jit}"] = ours("greedy", jit)
        contenders[f"beam jit={jit}"] = ours("beam", jit, beam_size=args.beam_size)
        contenders[f"keras_hub jit={jit}"] = lambda jit=jit: hub_functions[jit](
            source_ids
        ).numpy()
        # Where beam search's time goes: the decoder alone on batch and on
        # batch * beam rows.
        for rows in (1, args.beam_size):
            contenders[f"steps x{rows} jit={jit}"] = _decoder_steps(
                model, source_ids, rows, new_tokens, jit
            )
    recompute = _full_recompute_greedy(model, source_ids, new_tokens)
    _full_recompute_greedy(model, source_ids, 3)()  # trace the relaxed shapes
    for function in contenders.values():
        function()  # trace / compile
    wall, cpu = _time_rounds(contenders, recompute, args.repeats)
    print(f"{'ms':>22}  CPU median  CPU best  wall median  wall best")
    for name in wall:
        print(
            f"{name:>22}: {np.median(cpu[name]) * 1000:10.1f} "
            f"{min(cpu[name]) * 1000:9.1f} {np.median(wall[name]) * 1000:12.1f} "
            f"{min(wall[name]) * 1000:10.1f}"
        )

    rows = _ratio_rows(jit_modes, wall, cpu, args.beam_size)
    for jit in jit_modes:
        steps = _ratio(
            f"steps x{args.beam_size} jit={jit}", f"steps x1 jit={jit}", cpu, np.median
        )
        beam = _ratio(f"beam jit={jit}", f"greedy jit={jit}", cpu, np.median)
        print(
            f"jit_compile={jit}: the decoder alone (decode_step + argmax, no "
            f"search bookkeeping) on {args.beam_size}x the rows takes {steps:.2f}x "
            f"the time; beam search adds {beam / steps:.2f}x on top of that."
        )
    print()
    print("## Generation (bench/generation.py)")
    print()
    print("Command: `.venv/bin/python bench/generation.py`")
    print()
    print(
        f"Batch {args.batch_size}, source length {args.source_length}, "
        f"{new_tokens} new tokens (end token disabled so every run decodes "
        f"all of them), {args.num_layers}+{args.num_layers} layers, d_model "
        f"{args.hidden_dim}, d_ff {args.intermediate_dim}, {args.num_heads} heads, "
        f"vocabulary {args.vocabulary_size}; CPU ({platform.machine()}, "
        f"{os.cpu_count()} cores, shared; {args.threads or 'default'} TF "
        f"thread(s) for every contender), TF {tf.__version__}, Keras "
        f"{keras.__version__}. {args.repeats} interleaved rounds after a warm-up "
        f"run (full recompute: {len(wall['recompute'])}); ratios of the median CPU "
        "time of the process per run, with the ratios of the median wall-clock "
        "times and of the best CPU times beside them."
    )
    print()
    print("| comparison | ratio (CPU median) | wall median | CPU best | target | met |")
    print("|---|---|---|---|---|---|")
    for name, value, wall_value, best_value, target, met in rows:
        print(
            f"| {name} | {value:.2f}x | {wall_value:.2f}x | {best_value:.2f}x "
            f"| {target} | {'yes' if met else 'no'} |"
        )


if __name__ == "__main__":
    main()
