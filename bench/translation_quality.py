"""BLEU after the same wall-clock budget: keras-hub baselines vs ours (target >= 2x).

One run, one Ding German→English split and the same training budget for each of
three models:

- keras-hub baseline, the way keras.io's translation example builds it:
  `keras_hub.layers.TokenAndPositionEmbedding` + 2 `TransformerEncoder` + 2
  `TransformerDecoder` layers of width 256 (8 heads, feed-forward 2048),
  one shared WordPiece vocabulary, fixed-length padding, plain cross-entropy,
  greedy decoding with
  `keras_hub.samplers.GreedySampler`; trained (a) with RMSprop as on keras.io
  and (b) with Adam and a linear warmup;
- ours: the tutorial's recipe, `ktb.recipes.translation_recipe()`: the
  `transformer_small` preset (3+3 layers, width 128) with a WordPiece
  vocabulary per language (the target embedding tied to the output) fed
  length-bucketed batches, Noam schedule, label smoothing, cached beam search,
  trained the way users train it, through `ktb.training.TranslationRun` (the
  run directory of `ktb translate train`: a backup after every epoch and
  TensorBoard logs are part of its budget).

All three are scored with sacreBLEU (13a, cased, detokenized) on the same 1,000
test sentences, with chrF and the counts of degenerate translations (a token
repeated 3+ times in a row where the source does not; empty). Run it on a quiet
machine, and compare the numbers of one run only.

Run:
    python bench/translation_quality.py --budget-minutes 20
"""

import argparse
import os
import shutil
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ding_tokenizer import load_or_build_tokenizer  # noqa: E402
from keras import ops  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402
from keras_transformer_bit.data.ding_corpus import load_ding_de_en  # noqa: E402
from keras_transformer_bit.recipes.bleu import corpus_bleu  # noqa: E402
from keras_transformer_bit.recipes.corpus_chrf import corpus_chrf  # noqa: E402
from keras_transformer_bit.recipes.repetition_report import (  # noqa: E402
    repetition_report,
)
from keras_transformer_bit.recipes.training_budget import TrainingBudget  # noqa: E402

MAX_LENGTH = 40


def fixed_length_dataset(
    pairs, tokenizer, batch_size=64, shuffle=True, seed=0, max_length=MAX_LENGTH
):
    """keras.io style: every batch padded to `max_length` (source and target).

    Pairs whose source is longer than `max_length` tokens, or whose target
    with its start or end token is, are left out.
    """
    sources = tokenizer.tokenize(tf.constant([s for s, _ in pairs]))
    targets = tokenizer.tokenize(tf.constant([t for _, t in pairs]))
    keep = (sources.row_lengths() <= max_length) & (
        targets.row_lengths() <= max_length - 1
    )
    sources = tf.ragged.boolean_mask(sources, keep)
    targets = tf.ragged.boolean_mask(targets, keep)
    start = tf.fill([targets.nrows(), 1], tf.constant(tokenizer.start_id, tf.int64))
    end = tf.fill([targets.nrows(), 1], tf.constant(tokenizer.end_id, tf.int64))
    targets = tf.concat([start, targets, end], axis=1)
    encoder_inputs = sources.to_tensor(shape=[None, max_length])
    targets = targets.to_tensor(shape=[None, max_length + 1])
    dataset = tf.data.Dataset.from_tensor_slices(
        (
            {"encoder_inputs": encoder_inputs, "decoder_inputs": targets[:, :-1]},
            targets[:, 1:],
        )
    )
    if shuffle:
        dataset = dataset.shuffle(50_000, seed=seed)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def keras_hub_model(vocabulary_size, width=256, num_layers=2):
    import keras_hub

    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, MAX_LENGTH, width, mask_zero=True
    )(encoder_inputs)
    for _ in range(num_layers):
        x = keras_hub.layers.TransformerEncoder(intermediate_dim=2048, num_heads=8)(x)
    encoder_outputs = x
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    y = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, MAX_LENGTH, width, mask_zero=True
    )(decoder_inputs)
    for _ in range(num_layers):
        y = keras_hub.layers.TransformerDecoder(intermediate_dim=2048, num_heads=8)(
            y, encoder_outputs
        )
    y = keras.layers.Dropout(0.5)(y)
    logits = keras.layers.Dense(vocabulary_size)(y)
    return keras.Model([encoder_inputs, decoder_inputs], logits)


def keras_hub_greedy(model, tokenizer, sources, batch_size=64):
    """keras.io's decode loop: GreedySampler over the uncached full model."""
    import keras_hub

    sampler = keras_hub.samplers.GreedySampler()
    # keras.io calls the model eagerly at every step; a tf.function gives the
    # same logits and spares the benchmark most of that Python overhead.
    call = tf.function(lambda inputs: model(inputs, training=False))
    outputs = []
    for begin in range(0, len(sources), batch_size):
        batch = sources[begin : begin + batch_size]
        encoder_inputs = tokenizer.tokenize(tf.constant(batch))[:, :MAX_LENGTH]
        encoder_inputs = tf.cast(
            encoder_inputs.to_tensor(shape=[None, MAX_LENGTH]), "int32"
        )

        def next_fn(prompt, cache, index):
            logits = call([encoder_inputs, prompt])[:, index - 1, :]
            return logits, None, cache

        prompt = ops.concatenate(
            [
                ops.full((len(batch), 1), tokenizer.start_id, dtype="int32"),
                ops.zeros((len(batch), MAX_LENGTH - 1), dtype="int32"),
            ],
            axis=-1,
        )
        generated = sampler(next_fn, prompt, stop_token_ids=[tokenizer.end_id], index=1)
        text = tokenizer.detokenize(generated)
        outputs += [t.decode("utf-8") for t in text.numpy()]
    return outputs


def train_keras_hub(name, optimizer, tokenizer, corpus, minutes, seed):
    keras.utils.set_random_seed(seed)
    model = keras_hub_model(tokenizer.vocabulary_size)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    budget = TrainingBudget(minutes)
    history = model.fit(
        fixed_length_dataset(corpus.train, tokenizer, seed=seed),
        epochs=1000,
        callbacks=[budget],
        verbose=2,
        shuffle=False,
    )
    started = time.perf_counter()
    hypotheses = keras_hub_greedy(model, tokenizer, [s for s, _ in corpus.test])
    decode_seconds = time.perf_counter() - started
    return dict(
        name=name,
        **scores(hypotheses, corpus.test),
        epochs=len(history.epoch),
        params=model.count_params(),
        decode_seconds=decode_seconds,
        sample=hypotheses[:3],
    )


def scores(hypotheses, pairs):
    """Test BLEU and chrF, and the degenerate outputs (issue 11's bounds)."""
    references = [target for _, target in pairs]
    repetitions = repetition_report(hypotheses, [source for source, _ in pairs])
    return dict(
        bleu=corpus_bleu(hypotheses, references),
        chrf=corpus_chrf(hypotheses, references),
        repetitive=repetitions["repetitive"],
        empty=repetitions["empty"],
    )


def train_ours(corpus, minutes, seed, vocabulary_size, keep_run=None):
    """The recipe as users train it: `ktb.training.TranslationRun` (what
    `ktb translate train` runs), then what the main job keeps: the last or
    the averaged weights, whichever translates the validation split better
    (the recipe's beam search through `ktb.Translator`), scored on test."""
    recipe = ktb.recipes.translation_recipe()
    if keep_run:
        run_dir = keep_run
    else:
        run_dir = os.path.join(tempfile.mkdtemp(prefix="ktb_quality_"), "run")
    try:
        run = ktb.training.TranslationRun(
            run_dir,
            data="ding",
            seed=seed,
            vocabulary_size=vocabulary_size,
            test_size=len(corpus.test),
            validation_size=len(corpus.validation),
        )
        history = run.train(epochs=1000, budget_minutes=minutes, bleu_every=0)
        _, source_tokenizer, target_tokenizer, model = run.load("last")
        candidates = {"last": model}
        if recipe.average_checkpoints:
            candidates["averaged"] = run.load("averaged")[3]
        validation_bleu = {}
        for checkpoint, candidate in candidates.items():
            translator = recipe.translator(
                candidate, source_tokenizer, target_tokenizer
            )
            hypotheses = translator([s for s, _ in corpus.validation])
            validation_bleu[checkpoint] = corpus_bleu(
                hypotheses, [t for _, t in corpus.validation]
            )
        chosen = max(validation_bleu, key=validation_bleu.get)
        model = candidates[chosen]
        translator = recipe.translator(model, source_tokenizer, target_tokenizer)
        started = time.perf_counter()
        hypotheses = translator([s for s, _ in corpus.test])
        decode_seconds = time.perf_counter() - started
    finally:
        if not keep_run:
            shutil.rmtree(os.path.dirname(run_dir), ignore_errors=True)
    return dict(
        name=(
            f"ours ({recipe.preset}: 3+3 d128, length buckets, beam "
            f"{recipe.beam_size}"
            + (f" + MBR {recipe.mbr_utility}" if recipe.mbr_utility else "")
            + f", {chosen} weights)"
        ),
        **scores(hypotheses, corpus.test),
        epochs=len(history),
        params=model.count_params(),
        decode_seconds=decode_seconds,
        validation_bleu=validation_bleu,
        sample=hypotheses[:3],
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--budget-minutes", type=float, default=20.0)
    parser.add_argument(
        "--vocabulary-size",
        type=int,
        default=ktb.recipes.translation_recipe().vocabulary_size,
    )
    parser.add_argument("--tokenizer-dir", default=None)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--output", default="bench_translation_quality.md")
    parser.add_argument(
        "--keep-run",
        default=None,
        help="train ours in this run directory and keep it (default: a "
        "temporary one, removed)",
    )
    args = parser.parse_args()
    if not args.budget_minutes > 0:
        parser.error(f"--budget-minutes must be > 0. Received: {args.budget_minutes}")

    corpus = load_ding_de_en(seed=args.seed)
    tokenizer = load_or_build_tokenizer(
        corpus, args.tokenizer_dir, args.vocabulary_size
    )
    minutes = args.budget_minutes
    warmup = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=10**6, alpha=1.0, warmup_target=5e-4, warmup_steps=1000
    )
    # Ours first: on a shared machine, load tends to fall as a session goes on,
    # so this order does not favour ours.
    runs = [
        lambda: train_ours(
            corpus, minutes, args.seed, args.vocabulary_size, args.keep_run
        ),
        lambda: train_keras_hub(
            "keras-hub 2+2 d256, RMSprop (keras.io)",
            "rmsprop",
            tokenizer,
            corpus,
            minutes,
            args.seed,
        ),
        lambda: train_keras_hub(
            "keras-hub 2+2 d256, Adam + warmup",
            keras.optimizers.Adam(warmup),
            tokenizer,
            corpus,
            minutes,
            args.seed,
        ),
    ]
    results = []
    for run in runs:
        results.append(run())
        # Print as we go: one crash late in a long run should not lose the rest.
        print(
            "RESULT",
            {k: v for k, v in results[-1].items() if k != "sample"},
            flush=True,
        )
    ours, baselines = results[0], results[1:]
    best_baseline = max(r["bleu"] for r in baselines)
    ratio = ours["bleu"] / best_baseline if best_baseline > 0 else float("inf")
    lines = [
        "## Translation quality after the same training budget",
        "",
        f"Command: `python bench/translation_quality.py --budget-minutes {minutes:g}`"
        f" (Ding de→en, {len(corpus.train)} training pairs; the baselines' shared "
        f"vocabulary has {tokenizer.vocabulary_size} subwords; sacreBLEU 13a cased "
        f"on the {len(corpus.test)} "
        "test sentences)",
        "",
        "| model | params | epochs in budget | test BLEU | chrF | repeats 3+ "
        "| empty | decode s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['params']:,} | {r['epochs']} | {r['bleu']:.2f} | "
            f"{r['chrf']:.1f} | {r['repetitive']} | {r['empty']} | "
            f"{r['decode_seconds']:.0f} |"
        )
    verdict = (
        f"**{ratio:.2f}x**"
        if best_baseline > 0
        else "undefined (both baselines at 0 BLEU; budget too short)"
    )
    chosen_on = ", ".join(
        f"{name} {bleu:.2f}" for name, bleu in ours["validation_bleu"].items()
    )
    lines += [
        "",
        f"Ours / better baseline: {verdict} (target >= 2x).",
        f"Ours kept the weights that scored best on the {len(corpus.validation)} "
        f"validation sentences (BLEU: {chosen_on}); test was scored once.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    for r in results:
        print(r["name"], r["sample"])
    with open(args.output, "w", encoding="utf-8") as file:
        file.write(text)
    return np.isfinite(ratio)


if __name__ == "__main__":
    main()
