import pytest

from keras_transformer_bit.cli import main as cli_main
from keras_transformer_bit.cli.tune import parse_search_space


def test_tune_parser_has_both_families():
    parser = cli_main.build_parser()
    args = parser.parse_args(
        ["tune", "bit", "--data", "fashion_mnist", "--tuner", "hyperband"]
    )
    assert args.family == "bit" and args.tuner == "hyperband"
    assert args.handler.__name__ == "bit_command"
    args = parser.parse_args(["tune", "transformer", "--data", "ding"])
    assert args.handler.__name__ == "transformer_command"
    with pytest.raises(SystemExit):
        parser.parse_args(["tune", "bit", "--data", "x", "--tuner", "grid"])


def test_search_space_json():
    assert parse_search_space(
        '{"dropout": {"min": 0.0, "max": 0.3}, "num_layers": [1, 2]}'
    ) == {"dropout": (0.0, 0.3), "num_layers": [1, 2]}
    assert parse_search_space(None) is None
    with pytest.raises(ValueError, match="must be a JSON object"):
        parse_search_space("[1, 2]")
    with pytest.raises(ValueError, match="A range is"):
        parse_search_space('{"dropout": {"low": 0}}')
