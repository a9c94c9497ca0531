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
bias is -1e9), so no run stops early. The markdown block printed at the end
goes into docs/benchmarks.md.
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
    parser.add_argument("--repeats", type=int, default=4)
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
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


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
    # Contenders run in interleaved rounds and each keeps its best time, so a
    # burst of load from other processes does not favour one of them.
    contenders = {}
    for jit in jit_modes:
        contenders[f"greedy jit={jit}"] = ours("greedy", jit)
        contenders[f"beam jit={jit}"] = ours("beam", jit, beam_size=args.beam_size)
        contenders[f"keras_hub jit={jit}"] = lambda jit=jit: hub_functions[jit](
            source_ids
        ).numpy()
    recompute = _full_recompute_greedy(model, source_ids, new_tokens)
    _full_recompute_greedy(model, source_ids, 3)()  # trace the relaxed shapes
    for function in contenders.values():
        function()  # trace / compile
    timings = {name: float("inf") for name in ["recompute", *contenders]}
    for round_index in range(args.repeats):
        if round_index < max(1, args.repeats // 2):  # the slow one, fewer times
            timings["recompute"] = min(timings["recompute"], _seconds(recompute))
        for name, function in contenders.items():
            timings[name] = min(timings[name], _seconds(function))
    for name, seconds in timings.items():
        print(f"{name:>22}: {seconds * 1000:9.1f} ms")

    rows = []
    for jit in jit_modes:
        greedy = timings[f"greedy jit={jit}"]
        rows += [
            (
                f"cached greedy vs full-recompute greedy (jit_compile={jit})",
                timings["recompute"] / greedy,
                f">= {TARGETS['recompute']}x faster",
                timings["recompute"] / greedy >= TARGETS["recompute"],
            ),
            (
                f"ours vs keras-hub cached greedy (both jit_compile={jit})",
                timings[f"keras_hub jit={jit}"] / greedy,
                f">= {TARGETS['keras_hub']}x faster",
                timings[f"keras_hub jit={jit}"] / greedy >= TARGETS["keras_hub"],
            ),
            (
                f"beam {args.beam_size} time / greedy time (jit_compile={jit})",
                timings[f"beam jit={jit}"] / greedy,
                f"<= {TARGETS['beam']}x",
                timings[f"beam jit={jit}"] / greedy <= TARGETS["beam"],
            ),
        ]
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
        f"thread(s)), TF {tf.__version__}, Keras "
        f"{keras.__version__}. Best of {args.repeats} interleaved rounds after a "
        "warm-up run "
        f"(full recompute: best of {max(1, args.repeats // 2)})."
    )
    print()
    print("| comparison | ratio | target | met |")
    print("|---|---|---|---|")
    for name, ratio, target, met in rows:
        print(f"| {name} | {ratio:.2f}x | {target} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
