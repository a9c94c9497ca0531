"""Is the translation input pipeline ever the bottleneck? (target: >= 5x the model)

Measures, in one process on the same Ding German→English batches:
- the tf.data pipeline alone (tokenize, add start/end, filter, bucket, pad,
  prefetch), in batches per second, over full passes of the training split;
- the model's train step (`train_on_batch` on batches held in memory), in steps
  per second;
and prints the ratio, plus the padding share of bucketed vs fixed-length batches.

Run:
    python bench/translation_pipeline.py [--tokenizer-dir DIR] [--steps 30]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from ding_tokenizer import load_or_build_tokenizer  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402
from keras_transformer_bit.data.ding_corpus import load_ding_de_en  # noqa: E402
from keras_transformer_bit.data.translation_pipeline import (  # noqa: E402
    make_translation_dataset,
    padding_statistics,
)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer-dir", default=None)
    parser.add_argument("--vocabulary-size", type=int, default=6000)
    parser.add_argument("--tokens-per-batch", type=int, default=4096)
    parser.add_argument("--max-length", type=int, default=48)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--output", default="bench_translation_pipeline.md")
    args = parser.parse_args()

    corpus = load_ding_de_en()
    tokenizer = load_or_build_tokenizer(
        corpus, args.tokenizer_dir, args.vocabulary_size
    )

    def dataset():
        return make_translation_dataset(
            corpus.train,
            tokenizer,
            tokenizer,
            max_length=args.max_length,
            tokens_per_batch=args.tokens_per_batch,
        )

    # The pipeline alone, from strings each pass (nothing cached).
    pipeline = dataset()
    for _ in pipeline.take(5):  # warm up the tokenizer ops and buffers
        pass
    started = time.perf_counter()
    num_batches = 0
    for _ in range(args.passes):
        for _ in pipeline:
            num_batches += 1
    pipeline_rate = num_batches / (time.perf_counter() - started)

    # The model's train step on batches already in memory.
    batches = list(dataset().take(args.steps + 10))
    model = ktb.models.Transformer.from_preset(
        "transformer_tiny",
        vocabulary_size=tokenizer.vocabulary_size,
        num_layers=3,
        hidden_dim=128,
        intermediate_dim=512,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=ktb.recipes.LabelSmoothedCrossEntropy(),
    )
    for inputs, labels in batches[:10]:  # compile every bucket shape seen
        model.train_on_batch(inputs, labels)
    started = time.perf_counter()
    for inputs, labels in batches[10:]:
        model.train_on_batch(inputs, labels)
    step_rate = (len(batches) - 10) / (time.perf_counter() - started)

    padding = padding_statistics(pipeline, max_length=args.max_length)
    ratio = pipeline_rate / step_rate
    lines = [
        "## Translation input pipeline vs train step",
        "",
        "Command: `python bench/translation_pipeline.py "
        f"--tokens-per-batch {args.tokens_per_batch} --max-length {args.max_length}`",
        "",
        "| measure | value |",
        "|---|---|",
        f"| pipeline (Ding de→en, {num_batches} batches) "
        f"| {pipeline_rate:.1f} batches/s |",
        f"| train step (Transformer 3+3, d=128, {model.count_params():,} params) "
        f"| {step_rate:.2f} steps/s |",
        f"| **pipeline / train step** | **{ratio:.1f}x** (target >= 5x) |",
        f"| padding, length buckets | {padding['padding_fraction']:.1%} |",
        f"| padding, fixed length {args.max_length} | "
        f"{padding['fixed_length_padding_fraction']:.1%} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with open(args.output, "w", encoding="utf-8") as file:
        file.write(text)


if __name__ == "__main__":
    main()
