"""Hyperparameter search for BiT and the Transformer with KerasTuner.

BiT: the BiT-HyperRule (Kolesnikov et al. 2019, §3.3) already picks the
resolution, schedule, MixUp and learning rate from the dataset size; the
search asks whether multipliers around it do better on *this* dataset. The
first trial is always the HyperRule itself, so the table shows how far the
search moved from it. Data: Fashion-MNIST from the Debian package
dataset-fashion-mnist (no download).

Transformer: layers, width, heads, feed-forward width, dropout, warmup, label
smoothing and learning-rate scale, on a toy task (reverse a random token
sequence) so that it runs anywhere; `ktb tune transformer --data ding` does
the same on the Debian German-English dictionary.

Usage:
    python tutorials/tune.py --family bit --tuner random_search --max-trials 4
    python tutorials/tune.py --family transformer --tuner hyperband
    python tutorials/tune.py --family bit --quick      # a smoke run (~2 min)

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from multi_worker import VOCABULARY_SIZE, reversal_dataset  # noqa: E402

import keras_transformer_bit as ktb  # noqa: E402


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


def transformer_search(args):
    hypermodel = ktb.tuning.TransformerHyperModel(
        VOCABULARY_SIZE,
        search_space={
            "num_layers": [1, 2],
            "hidden_dim": [32, 64],
            "num_heads": [2, 4],
            "intermediate_multiplier": [2, 4],
            "dropout": [0.0, 0.1],
            "warmup_steps": [50, 200],
            "label_smoothing": [0.1, 0.0],
            "learning_rate_scale": [1.0, 2.0],
        },
        max_sequence_length=32,
        jit_compile=False,
    )
    objective = keras_tuner.Objective("val_masked_token_accuracy", "max")
    train = reversal_dataset(args.examples, args.batch_size, seed=0)
    validation = reversal_dataset(256, args.batch_size, seed=1)
    return hypermodel, objective, train, validation


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
    parser.add_argument("--examples", type=int, default=2048)
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
        args.shots, args.validation_size, args.examples = 5, 200, 256
        args.steps_fraction = 0.001
    search = bit_search if args.family == "bit" else transformer_search
    hypermodel, objective, train, validation = search(args)
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
    role = os.environ.get("KERASTUNER_TUNER_ID")
    if role and role != "chief":
        print(f"{role}: done; the chief prints the results.")  # it holds the trials
        return 0
    print(f"\n{args.tuner} over {args.family} ({objective.name}, best first):\n")
    print(ktb.tuning.results_table(tuner))
    return 0


if __name__ == "__main__":
    sys.exit(main())
