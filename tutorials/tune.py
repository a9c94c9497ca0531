"""Hyperparameter search for BiT and the Transformer with KerasTuner.

BiT: the BiT-HyperRule (Kolesnikov et al. 2019, §3.3) already picks the
resolution, schedule, MixUp and learning rate from the dataset size; the
search asks whether multipliers around it do better on *this* dataset. The
first trial is always the HyperRule itself, so the table shows how far the
search moved from it. Data: Fashion-MNIST from the Debian package
dataset-fashion-mnist (no download).

Transformer: every trial is a whole `ktb translate train` run
(`ktb.tuning.TranslationRunTuner` trains a `ktb.training.TranslationRun` per
trial), so besides layers, width, heads, feed-forward width, dropout, warm-up,
label smoothing and learning-rate scale it tunes what makes the data: the
vocabulary size and the tokens per batch. Trials are scored by validation BLEU
(greedy), and the first trial is the translation recipe itself. By default the
data is a toy German-English TSV written here (word-for-word sentences from a
small lexicon), so that it runs anywhere in minutes; `--data ding` tunes on
the Debian German-English dictionary (bound each trial with
`--budget-minutes`), as `ktb tune transformer --data ding` does.

Usage:
    python tutorials/tune.py --family bit --tuner random_search --max-trials 4
    python tutorials/tune.py --family transformer --tuner hyperband
    python tutorials/tune.py --family transformer --data ding --budget-minutes 10
    python tutorials/tune.py --family bit --quick      # a smoke run (~2 min)
    python tutorials/tune.py --family transformer --quick

Distributed: run the same command once with KERASTUNER_TUNER_ID=chief and
once per worker with KERASTUNER_TUNER_ID=tuner0, tuner1, ..., all with
KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT pointing at the chief and the
same --directory (see docs/scaling.md). The chief prints the table.

An interrupted sweep resumes: run the same command again. --overwrite starts
over (on the chief only; a worker never wipes the shared directory).
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402

# The toy corpus: German words and their English translations.
LEXICON = {
    "ich": "i", "du": "you", "wir": "we", "sehe": "see", "habe": "have",
    "einen": "a", "den": "the", "roten": "red", "grossen": "big", "kleinen": "small",
    "hund": "dog", "ball": "ball", "baum": "tree", "heute": "today",
    "morgen": "tomorrow", "hier": "here", "dort": "there", "oft": "often",
}  # fmt: skip


def bit_search(args):
    train = ktb.data.load_fashion_mnist("train")
    test = ktb.data.load_fashion_mnist("test")
    train = train.few_shot(args.shots, seed=args.seed)
    test = test.select(list(range(args.validation_size)))
    hypermodel = ktb.tuning.BiTHyperModel(
        num_classes=train.num_classes,
        dataset_size=len(train),
        image_size=train.image_size,
        preset="bit_tiny",
        batch_size=args.batch_size,
        steps_fraction=args.steps_fraction,
        # The HyperRule asks for 128x128 crops; a quarter keeps CPU runs short.
        search_space={
            "resolution_multiplier": [0.25, 0.375],
            "learning_rate_multiplier": [1.0, 0.3, 3.0],
            "steps_multiplier": [1.0, 2.0],
            "mixup_alpha": [0.0, 0.1],
        },
        seed=args.seed,
    )
    objective = keras_tuner.Objective("val_accuracy", "max")
    return hypermodel, objective, train, test


def write_toy_corpus(path, num_pairs, seed=0):
    """Writes `num_pairs` tab-separated German-English sentence pairs."""
    rng = np.random.default_rng(seed)
    words = sorted(LEXICON)
    with open(path, "w", encoding="utf-8") as file:
        for _ in range(num_pairs):
            german = list(rng.choice(words, rng.integers(3, 8)))
            english = [LEXICON[word] for word in german]
            file.write(f"{' '.join(german).capitalize()}.\t")
            file.write(f"{' '.join(english).capitalize()}.\n")


def transformer_tuner(args):
    """A tuner whose trials are translation runs, scored by validation BLEU."""
    if args.data == "toy":
        os.makedirs(args.directory, exist_ok=True)
        data = os.path.join(args.directory, "toy_pairs.tsv")
        write_toy_corpus(data, args.examples)
        # A toy corpus needs a small model and vocabulary: the search moves
        # around them instead of around the recipe's (which is what trial 0
        # trains on --data ding).
        search_space = {
            "num_layers": [1, 2],
            "hidden_dim": [32, 64],
            "num_heads": [2, 4],
            "intermediate_multiplier": [2, 4],
            "dropout": [0.1, 0.0],
            "warmup_steps": [20, 100],
            "vocabulary_size": [200, 400],
            "tokens_per_batch": [512, 1024],
        }
        held_out = min(100, args.examples // 10)
        settings = dict(max_length=16, validation_size=held_out, test_size=held_out)
    else:
        data, search_space, settings = args.data, None, {}
    return ktb.tuning.TranslationRunTuner(
        args.tuner,
        search_space=search_space,
        max_trials=args.max_trials,
        max_epochs=args.max_epochs,
        search_seed=args.seed,
        directory=args.directory,
        project_name=f"transformer_{args.data}_{args.tuner}",
        overwrite=args.overwrite,
        data=data,
        **settings,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--family", choices=["bit", "transformer"], default="bit")
    parser.add_argument(
        "--tuner", choices=ktb.tuning.TUNER_NAMES, default="random_search"
    )
    parser.add_argument("--max-trials", type=int, default=4)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--shots", type=int, default=20, help="BiT: images per class")
    parser.add_argument("--validation-size", type=int, default=1000)
    parser.add_argument("--steps-fraction", type=float, default=0.004)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--examples", type=int, default=2048, help="Transformer: toy pairs"
    )
    parser.add_argument(
        "--data", default="toy", help="Transformer: toy (written here), ding, a TSV"
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="Transformer: minutes per trial",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--directory", default=os.path.join(tempfile.gettempdir(), "ktb_tune")
    )
    parser.add_argument("--quick", action="store_true", help="2 tiny trials")
    parser.add_argument(
        "--overwrite", action="store_true", help="start over instead of resuming"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.max_trials, args.epochs, args.max_epochs = 2, 1, 2
        args.shots, args.validation_size, args.examples = 5, 200, 600
        args.steps_fraction = 0.001
    if args.family == "bit":
        hypermodel, objective, train, validation = bit_search(args)
        tuner = ktb.tuning.make_tuner(
            args.tuner,
            hypermodel,
            objective=objective,
            max_trials=args.max_trials,
            max_epochs=args.max_epochs,
            directory=args.directory,
            project_name=f"{args.family}_{args.tuner}",
            overwrite=args.overwrite,
            seed=args.seed,
        )
        tuner.search(train, validation_data=validation, epochs=args.epochs, verbose=0)
    else:
        tuner = transformer_tuner(args)
        tuner.search(
            epochs=args.epochs,
            budget_minutes=args.budget_minutes,
            bleu_examples=100,
            verbose=0,
        )
    objective = tuner.oracle.objective
    role = os.environ.get("KERASTUNER_TUNER_ID")
    if role and role != "chief":
        print(f"{role}: done; the chief prints the results.")  # it holds the trials
        return 0
    print(f"\n{args.tuner} over {args.family} ({objective.name}, best first):\n")
    print(ktb.tuning.results_table(tuner))
    if args.family == "transformer":
        # The best trial is an ordinary run directory of `ktb translate`.
        (best,) = tuner.get_best_run_dirs()
        print(f"\nThe best trial's run: {best}")
        print(f"  ktb translate evaluate --model-dir {best}")
        run = ktb.training.TranslationRun(best)
        _, source_tokenizer, target_tokenizer, model = run.load()
        translator = ktb.Translator(model, source_tokenizer, target_tokenizer)
        source, reference = run.corpus().test[0]
        print(f"  {source} -> {translator([source])[0]} (reference: {reference})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
