"""bench/decoding_choice.py: every decoding setting scored on the pairs given."""

import pathlib
import sys

import pytest

BENCH = pathlib.Path(__file__).parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import decoding_choice  # noqa: E402

PAIRS = [
    ("Das Haus ist alt.", "The house is old."),
    ("Ich bin hier.", "I am here."),
    ("Er ist nicht da.", "He is not there."),
]


def test_every_setting_is_decoded_and_scored_greedy_first():
    calls = []

    def translate(sources, **decoding):
        calls.append(decoding)
        assert sources == [source for source, _ in PAIRS]
        if decoding.get("length_penalty") == 1.0:  # the one exact setting
            return [reference for _, reference in PAIRS]
        return ["The the the house.", "", "He is there."]

    rows = decoding_choice.decode_grid(translate, PAIRS, [2, 4], [0.6, 1.0], [0, 2])
    beam = [
        {"method": "beam", "beam_size": size, "length_penalty": penalty}
        | ({"no_repeat_ngram_size": 2} if no_repeat else {})
        for size in (2, 4)
        for penalty in (0.6, 1.0)
        for no_repeat in (False, True)
    ]
    assert calls == [{"method": "greedy"}] + beam
    assert [r["no_repeat_ngram_size"] for r in rows] == [0] + [0, 2] * 4
    assert [(r["method"], r["beam_size"]) for r in rows][:2] == [
        ("greedy", 1),
        ("beam", 2),
    ]
    exact = [r for r in rows if r["length_penalty"] == 1.0]
    assert all(r["bleu"] == pytest.approx(100.0) for r in exact)
    assert all(r["repetitive"] == 0 and r["empty"] == 0 for r in exact)
    wrong = rows[0]
    assert wrong["bleu"] < 50 and wrong["empty"] == 1 and wrong["repetitive"] == 1


@pytest.mark.parametrize("penalty", ["nan", "inf", "-0.5", "x"])
def test_a_length_penalty_that_is_not_a_finite_non_negative_number_is_refused(
    penalty, capsys
):
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(["--length-penalties", "1.0", penalty])
    error = capsys.readouterr().err
    assert "--length-penalties" in error and repr(penalty) in error


def test_the_default_output_is_named_in_the_help(capsys):
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(["--help"])
    assert "bench_decoding_choice.md" in capsys.readouterr().out


def _row(method, beam_size, penalty, bleu):
    return dict(
        method=method,
        beam_size=beam_size,
        length_penalty=penalty,
        no_repeat_ngram_size=0,
        bleu=bleu,
        chrf=10.0,
        repetitive=0,
        empty=0,
        seconds=1.0,
    )


def test_the_report_names_the_best_setting_once_and_no_ratio_to_a_zero_greedy():
    rows = [_row("greedy", 1, None, 0.0), _row("beam", 2, 0.6, 3.5)]
    args = decoding_choice.parse_args(
        ["--beam-sizes", "2", "--length-penalties", "0.6"]
    )
    text = decoding_choice.format_report(rows, args, num_validation=3)
    assert "Best on validation: beam 2, length penalty 0.6" in text
    assert "beam beam" not in text and "inf" not in text
    assert "--beam-sizes 2 --length-penalties 0.6" in text
    rows[0]["bleu"] = 2.0
    text = decoding_choice.format_report(rows, args, num_validation=3)
    assert "| 1.75x |" in text
    rows[0]["bleu"] = 5.0
    assert "Best on validation: greedy, 5.00" in decoding_choice.format_report(
        rows, args, num_validation=3
    )


def test_an_output_in_a_missing_directory_is_refused_before_decoding(tmp_path, capsys):
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(["--output", str(tmp_path / "absent" / "x.md")])
    assert "--output" in capsys.readouterr().err


def test_minus_zero_is_a_length_penalty_of_zero():
    args = decoding_choice.parse_args(["--length-penalties", "-0"])
    assert str(args.length_penalties[0]) == "0.0"


@pytest.mark.parametrize("beam", ["65", "100000"])
def test_a_beam_wider_than_the_cap_is_refused(beam, capsys):
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(["--beam-sizes", "4", beam])
    error = capsys.readouterr().err
    assert f"--beam-sizes must be in [2, {decoding_choice.MAX_BEAM_SIZE}]" in error
    assert beam in error


def test_help_shows_the_defaults_without_loading_tensorflow():
    import subprocess

    script = (
        "import sys; sys.argv = ['decoding_choice.py', '--help']\n"
        f"sys.path.insert(0, {str(BENCH)!r})\n"
        "import decoding_choice\n"
        "try:\n    decoding_choice.parse_args()\nexcept SystemExit:\n    pass\n"
        "print('TF LOADED' if 'tensorflow' in sys.modules else 'NO TF')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("NO TF")
    for default in ("4 8", "0.6 1.0 1.4", "runs/tutorial_translate", "auto"):
        assert f"default: {default}" in " ".join(out.split()), out


@pytest.mark.parametrize("output", ["", "."])
def test_an_output_that_is_no_file_is_refused_before_decoding(output, capsys):
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(["--output", output])
    assert "--output must be a file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, repeated",
    [
        (["--beam-sizes", "4", "8", "4"], "--beam-sizes repeats 4"),
        (["--length-penalties", "1", "1.0"], "--length-penalties repeats 1"),
        (["--length-penalties", "0", "-0"], "--length-penalties repeats 0"),
        (["--no-repeat-ngram-sizes", "2", "2"], "--no-repeat-ngram-sizes repeats 2"),
    ],
)
def test_a_repeated_grid_value_is_refused_before_decoding(flags, repeated, capsys):
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(flags)
    assert repeated in capsys.readouterr().err


def test_an_unknown_checkpoint_is_refused_before_loading(capsys):
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(["--checkpoint", "bogus"])
    error = capsys.readouterr().err
    assert "--checkpoint" in error and "'bogus'" in error and "averaged" in error
    # The bench keeps its own copy (its --help loads no TensorFlow): the same.
    from keras_transformer_bit.training.translation_run import CHECKPOINT_CHOICES

    assert decoding_choice.CHECKPOINTS == CHECKPOINT_CHOICES


def test_length_penalties_above_the_samplers_bound_are_refused(capsys):
    from keras_transformer_bit.samplers.beam_sampler import MAX_LENGTH_PENALTY

    assert decoding_choice.MAX_LENGTH_PENALTY == MAX_LENGTH_PENALTY
    decoding_choice.parse_args(["--length-penalties", str(MAX_LENGTH_PENALTY)])
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(["--length-penalties", "1e308"])
    assert "'1e308'" in capsys.readouterr().err


def test_a_run_dir_without_a_run_is_refused_before_loading(
    tmp_path, capsys, monkeypatch
):
    # Before, TensorFlow loaded first (14 s), then the message was vague.
    monkeypatch.setattr(decoding_choice, "_package", _refuse_to_load)
    argv = ["decoding_choice.py", "--run-dir", str(tmp_path / "absent")]
    monkeypatch.setattr(sys, "argv", argv + ["--output", str(tmp_path / "t.md")])
    with pytest.raises(SystemExit):
        decoding_choice.main()
    error = capsys.readouterr().err
    assert "--run-dir" in error and "translate_config.json" in error
    assert "ktb translate train" in error


def _refuse_to_load():
    raise AssertionError("the package was loaded before --run-dir was checked")


def test_max_repeat_runs_are_a_grid_axis_and_named_in_the_report():
    calls = []

    def translate(sources, **decoding):
        calls.append(decoding)
        return [reference for _, reference in PAIRS]

    rows = decoding_choice.decode_grid(
        translate, PAIRS, [4], [1.0], [0], max_repeat_runs=[0, 2]
    )
    assert calls[1:] == [
        {"method": "beam", "beam_size": 4, "length_penalty": 1.0},
        {"method": "beam", "beam_size": 4, "length_penalty": 1.0, "max_repeat_run": 2},
    ]
    assert [r["max_repeat_run"] for r in rows] == [0, 0, 2]
    rows[2]["bleu"] += 1.0
    args = decoding_choice.parse_args(
        ["--beam-sizes", "4", "--max-repeat-runs", "0", "2"]
    )
    text = decoding_choice.format_report(rows, args, num_validation=3)
    assert "--max-repeat-runs 0 2" in text and "max repeat run |" in text
    assert "max_repeat_run 2" in text.split("Best on validation")[1]


@pytest.mark.parametrize(
    "values, message",
    [(["-1"], "--max-repeat-runs must be >= 0"), (["2", "2"], "--max-repeat-runs rep")],
)
def test_bad_max_repeat_runs_are_refused(values, message, capsys):
    with pytest.raises(SystemExit):
        decoding_choice.parse_args(["--max-repeat-runs", *values])
    assert message in capsys.readouterr().err
