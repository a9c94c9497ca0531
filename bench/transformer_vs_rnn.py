"""The Transformer against a recurrent baseline, on the same data and CPU budget.

Vaswani et al. (2017) claim the Transformer beats recurrent encoder-decoders
with attention in quality and trains much faster, because it parallelises
over positions. This benchmark puts that claim to the test in miniature:

- the Transformer: `ktb.recipes.translation_recipe()`'s model and training
  (the `transformer_small` preset, 3+3 layers of width 128), with one shared,
  tied vocabulary as the baseline has;
- the baseline: `bench/recurrent_baseline.py`, a 2-layer bidirectional LSTM
  encoder and an LSTM decoder with Luong attention and input feeding, shared
  tied embeddings, matched to the Transformer in parameters (2.15M each at a
  6,000-token vocabulary).

Both read the same Ding German→English split through the same shared
WordPiece tokenizer and the same length-bucketed tf.data pipeline
(`recipe.datasets`), train with the same label-smoothed loss and Adam on the
same Noam schedule (the same peak learning rate: the schedule is computed for
width 128, the embedding width of both), and decode the test set with the
same beam search (`recipe.beam_size` and `recipe.length_penalty` in the
package's `BeamSampler`), both decoded through `ktb.Translator` (the
package's one strings-to-strings path; any model with `generate_ids` runs in
it), with sources cut at `recipe.max_length` tokens, and scored with
sacreBLEU BLEU and chrF. The recurrent model also clips the global gradient
norm at 5, as the recurrent systems of the time did (Luong et al. 2015, Wu et
al. 2016); the Transformer recipe does not clip.

Each model trains for the same wall-clock budget, one after the other, from the
same seed. Validation BLEU (greedy, on the first `--validation-sentences`
validation pairs) is measured at epoch ends, at most every
`--eval-interval-minutes` of training; the time it takes is not counted in the
budget, so the curves plot BLEU against training time only.

Reported per model: test BLEU and chrF, real (non-padding) target tokens per
second in training (overall, and after the first epoch, which also traces the
train step), epochs reached (fractional), and the validation curve. Writes
`results.json`, `results.md` and `validation_bleu.png` under `--output-dir`
and prints the markdown table.

Run (on an otherwise idle machine):
    python bench/transformer_vs_rnn.py --minutes 20
    python bench/transformer_vs_rnn.py --quick        # smoke test, ~2 minutes
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from ding_tokenizer import load_or_build_tokenizer  # noqa: E402
from keras import ops  # noqa: E402
from recurrent_baseline import RecurrentTranslator  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402
from keras_transformer_bit.data import ParallelCorpus, load_ding_de_en  # noqa: E402
from keras_transformer_bit.recipes import (  # noqa: E402
    LabelSmoothedCrossEntropy,
    NoamSchedule,
    TrainingBudget,
    corpus_bleu,
    corpus_chrf,
)

# --quick: a slice of the corpus that both models get through in seconds.
QUICK = dict(
    train_pairs=1000, validation=20, test=40, vocabulary_size=2000, minutes=0.5
)


def translator(model, tokenizer, max_length, method, **options):
    """The `ktb.Translator` both models decode with (sources cut at max_length)."""
    return ktb.Translator(
        model,
        tokenizer,
        tokenizer,
        method=method,
        max_length=max_length,
        max_source_length=max_length,
        **options,
    )


class RealTargetTokens(keras.metrics.Metric):
    """Counts the non-padding labels a model trained on (reset every epoch)."""

    def __init__(self, name="real_target_tokens", pad_token_id=0, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_token_id = pad_token_id
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype="float32", name="total"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        real = ops.not_equal(ops.cast(y_true, "int32"), self.pad_token_id)
        self.total.assign_add(ops.sum(ops.cast(real, "float32")))

    def result(self):
        return self.total

    def reset_state(self):
        self.total.assign(0.0)


class TimedTraining(TrainingBudget):
    """A `TrainingBudget` whose clock stops while validation BLEU is measured.

    At the end of an epoch, once at least `eval_interval_minutes` of training
    have passed since the last measurement, and at the end of training, it
    translates `validation_pairs` greedily and records `(training minutes,
    epochs reached, BLEU)` in `curve`. It also records each epoch's training
    time, so that throughput can leave out the first (tracing) epoch.
    """

    def __init__(
        self, minutes, validation_pairs, tokenizer, max_length, eval_interval_minutes
    ):
        super().__init__(minutes)
        self.sources = [source for source, _ in validation_pairs]
        self.references = [target for _, target in validation_pairs]
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.eval_interval_seconds = 60 * eval_interval_minutes
        self.excluded_seconds = 0.0
        self.curve = []
        self.epoch_seconds = []
        self.steps = 0
        self.steps_per_epoch = None
        self.last_eval_seconds = None
        self.training_seconds = None
        self._translator = None

    @property
    def elapsed_seconds(self):
        return super().elapsed_seconds - self.excluded_seconds

    def start(self):
        super().start()
        self.excluded_seconds = 0.0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        seconds = self.elapsed_seconds
        self.epoch_seconds.append(seconds)
        if not self.model.stop_training and self.steps_per_epoch is None:
            self.steps_per_epoch = self.steps
        last = self.last_eval_seconds
        if not self.model.stop_training and (
            last is None or seconds - last >= self.eval_interval_seconds
        ):
            self.evaluate(seconds)

    def on_train_end(self, logs=None):
        self.training_seconds = self.elapsed_seconds
        self.evaluate(self.training_seconds)

    def epochs_reached(self):
        if self.steps_per_epoch is None:
            return None
        return self.steps / self.steps_per_epoch

    def evaluate(self, seconds):
        started = time.perf_counter()
        if self._translator is None:  # traced once, reused at every evaluation
            self._translator = translator(
                self.model, self.tokenizer, self.max_length, method="greedy"
            )
        hypotheses = self._translator(self.sources)
        bleu = corpus_bleu(hypotheses, self.references)
        self.curve.append({"minutes": seconds / 60, "steps": self.steps, "bleu": bleu})
        self.last_eval_seconds = seconds
        self.excluded_seconds += time.perf_counter() - started
        print(f"  validation BLEU {bleu:.2f} after {seconds / 60:.1f} min of training")


def build_transformer(recipe, vocabulary_size, learning_rate_scale=None):
    model = recipe.build_model(vocabulary_size=vocabulary_size)
    optimizer = recipe.optimizer(model.hidden_dim)  # the recipe's, unchanged
    return model, optimizer, f"Transformer ({recipe.preset})"


def build_recurrent(recipe, vocabulary_size, learning_rate_scale=None):
    model = RecurrentTranslator(vocabulary_size=vocabulary_size)
    # The Transformer's schedule at the same width (the shared embedding's), so
    # both peak at the same learning rate; clipping as in the RNN systems.
    schedule = NoamSchedule(
        model.embedding_dim,
        warmup_steps=recipe.warmup_steps,
        scale=learning_rate_scale or recipe.learning_rate_scale,
    )
    optimizer = keras.optimizers.Adam(
        schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9, global_clipnorm=5.0
    )
    return model, optimizer, "BiLSTM + Luong attention (recurrent_baseline)"


def train_and_test(build, recipe, corpus, tokenizer, args):
    keras.utils.set_random_seed(args.seed)
    model, optimizer, name = build(
        recipe, tokenizer.vocabulary_size, args.recurrent_learning_rate_scale
    )
    print(f"\n=== {name}: {model.count_params():,} parameters ===", flush=True)
    model.compile(
        optimizer=optimizer,
        loss=LabelSmoothedCrossEntropy(label_smoothing=recipe.label_smoothing),
        metrics=[RealTargetTokens()],
        jit_compile=False,  # as recipe.compile: XLA recompiles per batch shape
    )
    train, _ = recipe.datasets(corpus, tokenizer, tokenizer, seed=args.seed)
    timer = TimedTraining(
        args.minutes,
        corpus.validation[: args.validation_sentences],
        tokenizer,
        recipe.max_length,
        args.eval_interval_minutes,
    )
    history = model.fit(
        train, epochs=10**6, callbacks=[timer], verbose=2, shuffle=False
    )
    if timer.steps_per_epoch is None:  # the budget ended inside epoch 1
        timer.steps_per_epoch = sum(1 for _ in train)
    for point in timer.curve:
        point["epochs"] = point["steps"] / timer.steps_per_epoch
    tokens = [float(t) for t in history.history["real_target_tokens"]]
    seconds = timer.training_seconds
    after_first = None
    if len(tokens) >= 2:  # the last epoch may be partial; it still counts
        after_first = sum(tokens[1:]) / (seconds - timer.epoch_seconds[0])

    started = time.perf_counter()
    sources = [source for source, _ in corpus.test]
    references = [target for _, target in corpus.test]
    hypotheses = translator(
        model,
        tokenizer,
        recipe.max_length,
        method="beam",
        beam_size=recipe.beam_size,
        length_penalty=recipe.length_penalty,
    )(sources)
    decode_seconds = time.perf_counter() - started
    result = {
        "name": name,
        "parameters": int(model.count_params()),
        "training_minutes": seconds / 60,
        "epochs_reached": timer.steps / timer.steps_per_epoch,
        "steps": timer.steps,
        "real_target_tokens": sum(tokens),
        "tokens_per_second": sum(tokens) / seconds,
        "tokens_per_second_after_first_epoch": after_first,
        "epoch_tokens": tokens,
        "epoch_end_training_seconds": timer.epoch_seconds,
        "validation_curve": timer.curve,
        "test_bleu": corpus_bleu(hypotheses, references),
        "test_chrf": corpus_chrf(hypotheses, references),
        "decode_seconds": decode_seconds,
        "samples": [
            {"source": s, "reference": r, "translation": h}
            for s, r, h in list(zip(sources, references, hypotheses))[:3]
        ],
    }
    print("RESULT", json.dumps({k: result[k] for k in list(result)[:8]}), flush=True)
    return result


def markdown_table(results):
    lines = [
        "| model | parameters | epochs reached | training min | real target "
        "tok/s | tok/s after epoch 1 | test BLEU | test chrF | beam decode s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        after = r["tokens_per_second_after_first_epoch"]
        lines.append(
            f"| {r['name']} | {r['parameters']:,} | {r['epochs_reached']:.2f} | "
            f"{r['training_minutes']:.1f} | {r['tokens_per_second']:,.0f} | "
            + ("n/a" if after is None else f"{after:,.0f}")
            + f" | {r['test_bleu']:.2f} | {r['test_chrf']:.1f} | "
            f"{r['decode_seconds']:.0f} |"
        )
    return "\n".join(lines)


def plot_curves(results, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for r in results:
        curve = r["validation_curve"]
        axes.plot(
            [p["minutes"] for p in curve],
            [p["bleu"] for p in curve],
            marker="o",
            label=f"{r['name']} (test BLEU {r['test_bleu']:.2f})",
        )
    axes.set_xlabel("training time (minutes, validation excluded)")
    axes.set_ylabel("validation BLEU (greedy)")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="default 20")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--tokenizer-dir", default=None)
    parser.add_argument("--output-dir", default="runs/transformer_vs_rnn")
    parser.add_argument("--validation-sentences", type=int, default=None)
    parser.add_argument("--eval-interval-minutes", type=float, default=None)
    parser.add_argument(
        "--recurrent-learning-rate-scale",
        type=float,
        default=None,
        help="scale of the recurrent model's Noam schedule (default: the recipe's)",
    )
    args = parser.parse_args()
    quick = QUICK if args.quick else {}
    if args.minutes is None:
        args.minutes = quick.get("minutes", 20.0)
    if args.validation_sentences is None:
        args.validation_sentences = quick.get("validation", 200)
    if args.eval_interval_minutes is None:
        args.eval_interval_minutes = 0.0 if args.quick else args.minutes / 15
    if not args.minutes > 0:
        parser.error(f"--minutes must be > 0. Received: {args.minutes}")
    if args.validation_sentences <= 0:
        parser.error(
            f"--validation-sentences must be > 0. Received: {args.validation_sentences}"
        )
    scale = args.recurrent_learning_rate_scale
    if scale is not None and not scale > 0:
        parser.error(f"--recurrent-learning-rate-scale must be > 0. Received: {scale}")
    if args.eval_interval_minutes < 0:
        parser.error(
            "--eval-interval-minutes must be >= 0. "
            f"Received: {args.eval_interval_minutes}"
        )
    return args


def main():
    args = parse_arguments()
    recipe = ktb.recipes.translation_recipe()
    corpus = load_ding_de_en(test_size=1000, validation_size=1000, seed=args.seed)
    vocabulary_size = recipe.vocabulary_size
    if args.quick:
        corpus = ParallelCorpus(
            train=corpus.train[: QUICK["train_pairs"]],
            validation=corpus.validation[: QUICK["validation"]],
            test=corpus.test[: QUICK["test"]],
            source_language=corpus.source_language,
            target_language=corpus.target_language,
            name=f"{corpus.name} (quick slice)",
        )
        vocabulary_size = QUICK["vocabulary_size"]
    print(corpus.summary())
    tokenizer = load_or_build_tokenizer(corpus, args.tokenizer_dir, vocabulary_size)
    os.makedirs(args.output_dir, exist_ok=True)

    results = [
        train_and_test(build, recipe, corpus, tokenizer, args)
        for build in (build_transformer, build_recurrent)
    ]

    command = "python bench/transformer_vs_rnn.py " + (
        "--quick" if args.quick else f"--minutes {args.minutes:g}"
    )
    setting = (
        f"Ding de→en, {len(corpus.train):,} training pairs, shared vocabulary of "
        f"{tokenizer.vocabulary_size:,}; {args.minutes:g} min of training each; "
        f"test: {len(corpus.test):,} sentences, beam {recipe.beam_size}, length "
        f"penalty {recipe.length_penalty}, sacreBLEU 13a cased"
    )
    transformer, recurrent = results
    bleu_gap = transformer["test_bleu"] - recurrent["test_bleu"]
    speedup = transformer["tokens_per_second"] / recurrent["tokens_per_second"]
    verdict = (
        f"Transformer - recurrent: {bleu_gap:+.2f} BLEU; the Transformer trains on "
        f"{speedup:.2f}x the real target tokens per second."
    )
    text = "\n".join(
        [f"Command: `{command}`", "", setting, "", markdown_table(results), "", verdict]
    )
    print("\n" + text)
    for r in results:
        print(f"\n{r['name']}:")
        for sample in r["samples"]:
            print(f"  {sample['source']}\n    -> {sample['translation']}")
    png = plot_curves(
        results,
        os.path.join(args.output_dir, "validation_bleu.png"),
        f"Validation BLEU against training time ({args.minutes:g} min each)",
    )
    with open(os.path.join(args.output_dir, "results.md"), "w") as file:
        file.write(text + "\n")
    with open(os.path.join(args.output_dir, "results.json"), "w") as file:
        json.dump(
            {
                "command": command,
                "setting": setting,
                "arguments": vars(args),
                "recipe": {
                    k: v
                    for k, v in vars(recipe).items()
                    if isinstance(v, (int, float, str))
                },
                "results": results,
            },
            file,
            indent=2,
        )
    print(f"\nWrote {png}, results.md and results.json in {args.output_dir}")


if __name__ == "__main__":
    main()
