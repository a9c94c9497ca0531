"""Training speed at equal size: real target tokens per second, ours vs keras-hub.

Two models of the same size, trained with the same loss (label-smoothed cross
entropy, padding ignored) and the same optimizer (Adam on the Noam schedule):

- ours: the translation recipe's model (`transformer_small`: 3+3 layers, width
  128, 4 heads, feed-forward 512, shared tied embeddings);
- keras-hub: `TokenAndPositionEmbedding` + 3 `TransformerEncoder` + 3
  `TransformerDecoder` layers of the same width, heads and feed-forward size,
  over the same vocabulary (keras.io's translation example, sized alike; its
  embeddings are not shared, as keras.io builds it).

Each model trains on two kinds of batches made from the same Ding training
pairs and the same tokenizer:

- `bucketed`: the recipe's length-bucketed batches (`recipe.datasets`), about
  `tokens_per_batch` tokens each, padded to the bucket's bound;
- `fixed`: keras.io's batches: 64 pairs, every one padded to `max_length`.

The speed is real (non-padding) target tokens per second of training. The
contenders run in interleaved rounds in one process: each round trains every
contender for `--steps` steps (the same batches each round), after a warm-up
round that traces the train steps and is not timed. Reported: the median
tokens per second of each contender, and the ratios the targets name:

- ours / keras-hub on equal batches (bucketed, and fixed);
- end to end: ours on bucketed batches / keras-hub on fixed batches.

Switches that may help on a CPU are measured, not assumed: `--jit-compile`
(XLA for our train step; with bucketed batches it compiles once per bucket
shape during the warm-up) and `--mixed-precision mixed_bfloat16`. With
`--switches`, one run trains our model on the bucketed batches four ways,
interleaved: as is, with XLA, in mixed_bfloat16, and with both; it reports
each against the first, and how long the warm-up (tracing, and XLA's
compiling once per bucket shape) took.

With `--losses`, one run trains our model on the bucketed batches with two
formulations of the same label-smoothed loss, interleaved: ours
(`LabelSmoothedCrossEntropy`: smoothed one-hot targets into TensorFlow's fused
softmax cross-entropy, which computes the gradient in the same pass) and the
closed form that builds no (tokens, vocabulary) target, `logsumexp(z) -
(1 - e) z_y - e mean(z)`; it reports the closed form against ours.

Run (on an otherwise idle machine):
    python bench/training_speed.py
    python bench/training_speed.py --switches   # XLA and bfloat16, in one run
    python bench/training_speed.py --losses     # the loss's formulation
    python bench/training_speed.py --quick      # a smoke run
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
from ding_tokenizer import load_or_build_tokenizer  # noqa: E402
from keras import ops  # noqa: E402
from translation_quality import fixed_length_dataset  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402
from keras_transformer_bit.data import ParallelCorpus, load_ding_de_en  # noqa: E402
from keras_transformer_bit.models.transformer.transformer_presets import (  # noqa: E402
    transformer_presets,
)
from keras_transformer_bit.recipes import LabelSmoothedCrossEntropy  # noqa: E402

TARGETS = {"equal_batches": 1.0, "end_to_end": 1.5}


def keras_hub_transformer(config, max_length):
    """keras.io's encoder-decoder, sized like our preset `config`."""
    width, heads, ff = (
        config["hidden_dim"],
        config["num_heads"],
        config["intermediate_dim"],
    )
    vocabulary_size = config["vocabulary_size"]
    encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, max_length, width, mask_zero=True
    )(encoder_inputs)
    for _ in range(config["num_layers"]):
        x = keras_hub.layers.TransformerEncoder(
            intermediate_dim=ff, num_heads=heads, dropout=config["dropout"]
        )(x)
    decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
    y = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size, max_length, width, mask_zero=True
    )(decoder_inputs)
    for _ in range(config["num_layers"]):
        y = keras_hub.layers.TransformerDecoder(
            intermediate_dim=ff, num_heads=heads, dropout=config["dropout"]
        )(y, x)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32")(y)
    return keras.Model(
        {"encoder_inputs": encoder_inputs, "decoder_inputs": decoder_inputs}, logits
    )


def take_batches(dataset, steps):
    """`steps` batches, materialised, so every round trains on the same ones."""
    batches = list(dataset.repeat().take(steps))
    real = sum(int(np.count_nonzero(labels.numpy())) for _, labels in batches)
    return batches, real


class ClosedFormLabelSmoothing(LabelSmoothedCrossEntropy):
    """The same loss without a (tokens, vocabulary) target: with smoothed
    targets q and log p = z - logsumexp(z), -sum(q log p) = logsumexp(z) -
    (1 - e) z_y - e mean(z)."""

    def call(self, y_true, y_pred):
        true_logit = ops.take_along_axis(
            y_pred, ops.cast(y_true, "int32")[..., None], axis=-1
        )[..., 0]
        return (
            ops.logsumexp(y_pred, axis=-1)
            - (1.0 - self.label_smoothing) * true_logit
            - self.label_smoothing * ops.mean(y_pred, axis=-1)
        )


class Contender:
    """One model on one kind of batches: a compiled train step and its batches."""

    def __init__(
        self, name, model, recipe, batches, real_tokens, jit_compile, loss=None
    ):
        self.name = name
        self.model = model
        # The same schedule for both: the recipe's, for the shared width.
        width = transformer_presets[recipe.preset]["config"]["hidden_dim"]
        model.compile(
            optimizer=recipe.optimizer(width),
            loss=loss
            or LabelSmoothedCrossEntropy(label_smoothing=recipe.label_smoothing),
            jit_compile=jit_compile,
        )
        self.batches = batches
        self.real_tokens = real_tokens
        self.seconds = []

    def run(self, timed=True):
        started = time.perf_counter()
        for x, y in self.batches:
            self.model.train_on_batch(x, y)
        if timed:
            self.seconds.append(time.perf_counter() - started)

    def tokens_per_second(self):
        return self.real_tokens / float(np.median(self.seconds))


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="steps per round")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--tokenizer-dir", default=None)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--jit-compile", choices=["false", "true"], default="false")
    parser.add_argument(
        "--mixed-precision", choices=["float32", "mixed_bfloat16"], default="float32"
    )
    parser.add_argument(
        "--switches",
        action="store_true",
        help="ours only, bucketed: float32, XLA, mixed_bfloat16, both",
    )
    parser.add_argument(
        "--losses",
        action="store_true",
        help="ours only, bucketed: our loss against its closed form",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default="bench_training_speed.json")
    args = parser.parse_args()
    args.steps = args.steps or (3 if args.quick else 60)
    args.rounds = args.rounds or (2 if args.quick else 5)
    for name in ("steps", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1. Received: {getattr(args, name)}")
    return args


def make_contenders(args, recipe, corpus, tokenizer):
    keras.config.set_dtype_policy(args.mixed_precision)
    config = {
        **transformer_presets[recipe.preset]["config"],
        "vocabulary_size": tokenizer.vocabulary_size,
    }
    bucketed, _ = recipe.datasets(corpus, tokenizer, tokenizer, seed=args.seed)
    kinds = {
        "bucketed": take_batches(bucketed, args.steps),
        "fixed": take_batches(
            fixed_length_dataset(
                corpus.train, tokenizer, seed=0, max_length=recipe.max_length
            ),
            args.steps,
        ),
    }
    jit = args.jit_compile == "true"
    contenders = []
    for kind, (batches, real) in kinds.items():
        keras.utils.set_random_seed(args.seed)
        ours = recipe.build_model(vocabulary_size=tokenizer.vocabulary_size)
        contenders.append(Contender(f"ours {kind}", ours, recipe, batches, real, jit))
        keras.utils.set_random_seed(args.seed)
        hub = keras_hub_transformer(config, recipe.max_length)
        contenders.append(
            Contender(f"keras-hub {kind}", hub, recipe, batches, real, jit)
        )
    return contenders


# --switches: (name, jit_compile, dtype policy).
SWITCHES = (
    ("float32", False, "float32"),
    ("XLA", True, "float32"),
    ("mixed_bfloat16", False, "mixed_bfloat16"),
    ("XLA + mixed_bfloat16", True, "mixed_bfloat16"),
)


def make_switch_contenders(args, recipe, corpus, tokenizer):
    """Our model on the bucketed batches, once per switch setting."""
    bucketed, _ = recipe.datasets(corpus, tokenizer, tokenizer, seed=args.seed)
    batches, real = take_batches(bucketed, args.steps)
    contenders = []
    for name, jit, policy in SWITCHES:
        keras.config.set_dtype_policy(policy)  # layers take it when built
        keras.utils.set_random_seed(args.seed)
        model = recipe.build_model(vocabulary_size=tokenizer.vocabulary_size)
        contenders.append(Contender(name, model, recipe, batches, real, jit))
    keras.config.set_dtype_policy("float32")
    return contenders


def make_loss_contenders(args, recipe, corpus, tokenizer):
    """Our model on the bucketed batches, with each formulation of the loss."""
    bucketed, _ = recipe.datasets(corpus, tokenizer, tokenizer, seed=args.seed)
    batches, real = take_batches(bucketed, args.steps)
    jit = args.jit_compile == "true"
    contenders = []
    for name, loss_class in (
        ("ours", LabelSmoothedCrossEntropy),
        ("closed form", ClosedFormLabelSmoothing),
    ):
        keras.utils.set_random_seed(args.seed)
        model = recipe.build_model(vocabulary_size=tokenizer.vocabulary_size)
        loss = loss_class(label_smoothing=recipe.label_smoothing)
        contenders.append(Contender(name, model, recipe, batches, real, jit, loss))
    return contenders


def losses_report(args, contenders, vocabulary_size):
    speed = {c.name: c.tokens_per_second() for c in contenders}
    ratio = speed["closed form"] / speed["ours"]
    lines = [
        f"Command: `python bench/training_speed.py --losses` (our model on the "
        f"bucketed batches, {vocabulary_size:,} subwords, "
        f"{contenders[0].model.count_params():,} parameters; {args.rounds} "
        f"rounds of {args.steps} steps per loss, "
        "interleaved; median)",
        "",
        "| loss | real target tokens / s | / ours |",
        "|---|---|---|",
    ]
    for c in contenders:
        lines.append(
            f"| {c.name} | {speed[c.name]:,.0f} | "
            f"{speed[c.name] / speed['ours']:.2f}x |"
        )
    return "\n".join(lines), {"tokens_per_second": speed, "closed form / ours": ratio}


def switches_report(args, contenders, warmup_seconds):
    speed = {c.name: c.tokens_per_second() for c in contenders}
    base = speed["float32"]
    lines = [
        f"Command: `python bench/training_speed.py --switches` (ours on the "
        f"bucketed batches; {args.rounds} rounds of {args.steps} steps per "
        "setting, interleaved; median)",
        "",
        "| setting | real target tokens / s | / float32 | warm-up s (trace, compile) |",
        "|---|---|---|---|",
    ]
    for c in contenders:
        lines.append(
            f"| {c.name} | {speed[c.name]:,.0f} | {speed[c.name] / base:.2f}x | "
            f"{warmup_seconds[c.name]:.0f} |"
        )
    return "\n".join(lines), speed


def main():
    args = parse_arguments()
    recipe = ktb.recipes.translation_recipe()
    corpus = load_ding_de_en(seed=args.seed)
    vocabulary_size = recipe.vocabulary_size
    if args.quick:
        corpus = ParallelCorpus(
            train=corpus.train[:600], validation=[], test=[], name="quick slice"
        )
        vocabulary_size = 1000
    tokenizer = load_or_build_tokenizer(corpus, args.tokenizer_dir, vocabulary_size)
    make = make_contenders
    if args.switches:
        make = make_switch_contenders
    elif args.losses:
        make = make_loss_contenders
    contenders = make(args, recipe, corpus, tokenizer)
    warmup_seconds = {}
    for contender in contenders:
        started = time.perf_counter()
        contender.run(timed=False)  # traces (and with XLA compiles) the steps
        warmup_seconds[contender.name] = time.perf_counter() - started
    for _ in range(args.rounds):
        for contender in contenders:
            contender.run()
    if args.switches:
        text, speed = switches_report(args, contenders, warmup_seconds)
        write_results(args, text, {"tokens_per_second": speed}, contenders)
        return
    if args.losses:
        text, results = losses_report(args, contenders, tokenizer.vocabulary_size)
        write_results(args, text, results, contenders)
        return
    speed = {c.name: c.tokens_per_second() for c in contenders}
    ratios = {
        "ours / keras-hub, bucketed batches": speed["ours bucketed"]
        / speed["keras-hub bucketed"],
        "ours / keras-hub, fixed batches": speed["ours fixed"]
        / speed["keras-hub fixed"],
        "end to end: ours bucketed / keras-hub fixed": speed["ours bucketed"]
        / speed["keras-hub fixed"],
    }
    targets = [
        TARGETS["equal_batches"],
        TARGETS["equal_batches"],
        TARGETS["end_to_end"],
    ]
    lines = [
        f"Command: `python bench/training_speed.py --jit-compile {args.jit_compile} "
        f"--mixed-precision {args.mixed_precision}` ({args.rounds} rounds of "
        f"{args.steps} steps per contender, interleaved; median)",
        "",
        "| contender | parameters | real target tokens / s |",
        "|---|---|---|",
    ]
    for c in contenders:
        lines.append(
            f"| {c.name} | {c.model.count_params():,} | {speed[c.name]:,.0f} |"
        )
    lines += ["", "| ratio | value | target | met |", "|---|---|---|---|"]
    for (label, value), target in zip(ratios.items(), targets):
        lines.append(
            f"| {label} | {value:.2f}x | >= {target}x | "
            f"{'yes' if value >= target else 'no'} |"
        )
    text = "\n".join(lines)
    write_results(
        args, text, {"tokens_per_second": speed, "ratios": ratios}, contenders
    )


def write_results(args, text, results, contenders):
    """Prints the table; writes it (`.md`) and the numbers (`--output`)."""
    print(text)
    with open(args.output, "w", encoding="utf-8") as file:
        json.dump(
            {
                "args": vars(args),
                **results,
                "seconds": {c.name: c.seconds for c in contenders},
            },
            file,
            indent=2,
        )
    with open(os.path.splitext(args.output)[0] + ".md", "w", encoding="utf-8") as file:
        file.write(text + "\n")


if __name__ == "__main__":
    main()
