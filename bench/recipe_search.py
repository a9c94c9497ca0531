"""Searches the translation recipe on validation BLEU, at the main job's budget.

Each trial is one `ktb.training.TranslationRun` on the Ding split of the main
job (1,000 test and 1,000 validation sentences, seed 1234), trained for the
same wall-clock budget as `tutorials/translate.py`, in its own process, one
after the other. A trial is a set of run settings (any `TranslationRun`
setting, e.g. `phrase_pairs`, `model_overrides`, `label_smoothing`), plus
`mixed_precision`. After training, the last weights and, when the trial
averages checkpoints, the averaged ones are decoded with the recipe's beam
search through `ktb.Translator` on all validation sentences and scored with
sacreBLEU (13a, cased) and chrF. The test split is never decoded here: it is
for the final number of the chosen recipe only (the main job).

Writes `results.json` (one entry per trial, appended as each finishes: a
killed search reruns only the trials it had not finished) and `results.md`
under `--output-dir`, and prints the table.

Run (on an otherwise idle machine; 20 minutes of training per trial):
    python bench/recipe_search.py --trials bench/recipe_trials.json
    python bench/recipe_search.py --quick      # smoke test: 6 s of training a
                                               # trial, a few minutes in all
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

QUICK_TRIALS = [
    {"name": "base", "settings": {"average_checkpoints": 0}},
    {"name": "averaged", "settings": {"average_checkpoints": 2}},
]
QUICK_SETTINGS = dict(
    preset="transformer_tiny",
    model_overrides=dict(num_layers=1, hidden_dim=16, intermediate_dim=32, num_heads=2),
    vocabulary_size=200,
    max_length=24,
    tokens_per_batch=256,
)


def run_trial(trial, args):
    """Trains one trial and scores it on validation; returns its results."""
    import keras_transformer_bit as ktb
    from keras_transformer_bit.recipes import corpus_bleu, corpus_chrf
    from keras_transformer_bit.training import TranslationRun

    settings = dict(
        data=args.data,
        test_size=args.held_out_size,
        validation_size=args.held_out_size,
        seed=args.seed,
    )
    if args.quick:
        settings.update(QUICK_SETTINGS)
    settings.update(trial.get("settings", {}))
    model_dir = os.path.join(args.output_dir, trial["name"])
    recorders = _record_epoch_weights() if args.average_windows else []
    run = TranslationRun(
        model_dir, mixed_precision=trial.get("mixed_precision", False), **settings
    )
    history = run.train(
        epochs=1000,  # the budget stops training
        budget_minutes=args.budget_minutes,
        bleu_every=4,
        bleu_examples=100,
    )
    config = run.resolve_config()
    corpus = run.corpus()
    sources = [source for source, _ in corpus.validation]
    references = [target for _, target in corpus.validation]
    recipe = ktb.recipes.translation_recipe(
        **{
            key: config[key]
            for key in ("max_length", "beam_size", "length_penalty")
            if key in config
        }
    )
    result = {
        "name": trial["name"],
        "settings": trial.get("settings", {}),
        "mixed_precision": trial.get("mixed_precision", False),
        "epochs": history[-1]["epoch"],
        "minutes": sum(entry.get("run_minutes", 0.0) for entry in history),
        "train_pairs": len(corpus.train),
        "validation_sentences": len(sources),
    }
    checkpoints = ["last"] + (["averaged"] if config.get("average_checkpoints") else [])
    for checkpoint in checkpoints:
        _, source_tokenizer, target_tokenizer, model = run.load(checkpoint)
        translator = recipe.translator(model, source_tokenizer, target_tokenizer)
        started = time.perf_counter()
        hypotheses = translator(sources)
        result[f"{checkpoint}_bleu"] = round(corpus_bleu(hypotheses, references), 2)
        result[f"{checkpoint}_chrf"] = round(corpus_chrf(hypotheses, references), 1)
        result[f"{checkpoint}_decode_seconds"] = round(time.perf_counter() - started, 1)
    if recorders:
        # Averages of other windows of the same run's last epochs, each
        # decoded like the others (the model's weights are replaced in turn).
        recorder = recorders[-1]
        _, source_tokenizer, target_tokenizer, model = run.load("last")
        translator = recipe.translator(model, source_tokenizer, target_tokenizer)
        for window in sorted(set(args.average_windows)):
            if window > recorder.num_recorded:
                print(
                    f"[search] {trial['name']}: averaging window {window} skipped: "
                    f"the trial trained {recorder.num_recorded} epochs",
                    file=sys.stderr,
                )
                continue
            model.set_weights(recorder.averaged_weights(last=window))
            hypotheses = translator(sources)
            name = f"averaged_{window}"
            result[f"{name}_bleu"] = round(corpus_bleu(hypotheses, references), 2)
            result[f"{name}_chrf"] = round(corpus_chrf(hypotheses, references), 1)
            checkpoints.append(name)
    result["val_bleu"] = max(result[f"{c}_bleu"] for c in checkpoints)
    return result


def _record_epoch_weights():
    """Makes the runs of this process keep every epoch's weights in memory
    (not just the recipe's last `average_checkpoints`), so `--average-windows`
    can score averages of other lengths from the same training. Returns the
    list that each run's averaging callback joins."""
    from keras_transformer_bit.recipes import CheckpointAveraging
    from keras_transformer_bit.training import translation_run

    recorders = []

    class RecordingAveraging(CheckpointAveraging):
        """Keeps every epoch; what the run reads and saves is still the mean
        of the recipe's last `num_checkpoints`."""

        def __init__(self, num_checkpoints=5, apply_on_train_end=True):
            super().__init__(num_checkpoints, apply_on_train_end)
            self._kept = collections.deque()  # unbounded: every epoch
            recorders.append(self)

        @property
        def num_kept(self):
            return min(len(self._kept), self.num_checkpoints)

        @property
        def num_recorded(self):
            return len(self._kept)

        def averaged_weights(self, last=None):
            return super().averaged_weights(last=last or self.num_checkpoints)

    translation_run.CheckpointAveraging = RecordingAveraging
    return recorders


def table(results):
    """The markdown table of the trials, best validation BLEU first."""
    lines = [
        "| trial | settings | epochs | train pairs | val BLEU last | val BLEU "
        "averaged | val chrF (best) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    windows = sorted(
        {int(key.split("_")[1]) for r in results for key in r if _is_window(key)}
    )
    if windows:
        lines[0] = lines[0].replace(
            " val chrF", "".join(f" averaged {w} |" for w in windows) + " val chrF"
        )
        lines[1] = "|---|---|" + "---:|" * (5 + len(windows))
    for result in sorted(results, key=lambda r: -r["val_bleu"]):
        settings = dict(result["settings"])
        if result["mixed_precision"]:
            settings["mixed_precision"] = "bfloat16"
        best = next(
            key[: -len("_bleu")]
            for key in result
            if key.endswith("_bleu")
            and key != "val_bleu"
            and result[key] == result["val_bleu"]
        )
        lines.append(
            f"| {result['name']} | `{json.dumps(settings)}` | {result['epochs']} | "
            f"{result['train_pairs']:,} | {result['last_bleu']:.2f} | "
            f"{_number(result.get('averaged_bleu'))} | "
            + "".join(
                f"{_number(result.get(f'averaged_{w}_bleu'))} | " for w in windows
            )
            + f"{result[f'{best}_chrf']:.1f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--trials",
        help="JSON file: a list of {name, settings, mixed_precision} trials",
    )
    parser.add_argument("--budget-minutes", type=float, default=20.0)
    parser.add_argument("--output-dir", default="runs/recipe_search")
    parser.add_argument("--data", default="ding")
    parser.add_argument("--held-out-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--average-windows",
        type=_positive_int,
        nargs="*",
        default=[],
        help="also score the mean of the last N epochs' weights, for each N",
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # one trial, in-process
    args = parser.parse_args()
    if args.quick:
        args.budget_minutes = min(args.budget_minutes, 0.1)
        args.held_out_size = min(args.held_out_size, 20)
        trials = QUICK_TRIALS
    elif args.trials:
        with open(args.trials, encoding="utf-8") as file:
            trials = json.load(file)
    else:
        parser.error("give --trials FILE (or --quick)")
    names = [trial.get("name") for trial in trials]
    if len(set(names)) != len(names) or not all(names):
        parser.error(f"every trial needs a unique name. Received: {names}")
    os.makedirs(args.output_dir, exist_ok=True)
    results_path = os.path.join(args.output_dir, "results.json")

    if args.only is not None:
        trial = next(trial for trial in trials if trial["name"] == args.only)
        result = run_trial(trial, args)
        results = _read(results_path) + [result]
        with open(results_path, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=2)
        return

    for trial in trials:
        if any(result["name"] == trial["name"] for result in _read(results_path)):
            print(f"[search] {trial['name']}: done before, skipped")
            continue
        print(f"[search] {trial['name']}: {json.dumps(trial)}", flush=True)
        # Each trial in its own process: same memory, same threads, no state.
        subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--only", trial["name"]],
            check=True,
        )
    results = [r for r in _read(results_path) if r["name"] in names]
    markdown = table(results)
    with open(os.path.join(args.output_dir, "results.md"), "w", encoding="utf-8") as f:
        f.write(markdown + "\n")
    print(markdown)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {text!r}")
    return value


def _is_window(key):
    parts = key.split("_")
    return len(parts) == 3 and parts[0] == "averaged" and parts[1].isdigit()


def _number(value):
    return "-" if value is None else f"{value:.2f}"


def _read(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as file:
        return json.load(file)


if __name__ == "__main__":
    main()
