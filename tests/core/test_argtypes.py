"""core.cli.flags.number: the bounded number type both command lines use."""

from __future__ import annotations

import argparse
import re

import pytest

from core.cli.flags import number


@pytest.mark.parametrize(
    ("parser", "text", "message"),
    [
        (number(int, 1), "0", "must be >= 1, got 0"),
        (number(int, 1), "1.5", "'1.5' is not an integer"),
        (number(float, 0, low_open=True), "0", "must be > 0, got 0"),
        (number(float, 0.1, 5.0), "9", "must be between 0.1 and 5, got 9"),
        (number(float, 0, 1, low_open=True), "0", "must be > 0 and <= 1, got 0"),
        (number(float, None, 2.0), "3", "must be <= 2, got 3"),
        (number(float), "nan", "'nan' is not a finite number"),
        (number(float), "inf", "'inf' is not a finite number"),
        (number(float), "abc", "'abc' is not a number"),
    ],
)
def test_bad_values_say_what_is_wrong(parser, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as info:
        parser(text)
    assert str(info.value) == message


def test_good_values_come_back_typed_and_bounds_are_inclusive_unless_open() -> None:
    assert number(int, 1)("1") == 1 and isinstance(number(int, 1)("7"), int)
    assert number(float, 0.1, 5.0)("5") == 5.0 and number(float, 0.1, 5.0)("0.1") == 0.1
    assert number(float, 0, low_open=True)("1e-9") == 1e-9
    assert number(int).__name__ == "int" and number(float).__name__ == "float"


def test_both_command_lines_use_it(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI and the app word a range error the same way, naming the flag."""
    from core.cli.main import build_parser as cli_parser
    from tui.__main__ import build_parser as tui_parser

    for parser, argv in ((cli_parser(), ["train", "x.txt", "--lr", "0"]), (tui_parser(), ["--lr", "0"])):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert re.search(r"argument --lr: must be > 0( and <= \S+)?, got 0", err), err
        assert len(err.strip().splitlines()) == 1, err  # one line, no usage dump
