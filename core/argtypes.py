"""Argparse pieces shared by ``tweetgen`` and ``tweetgen-tui``: a parser whose errors are
one line, and numbers with bounds.

A bad value becomes one line naming the flag, e.g. ``tweetgen-tui: error: argument
--lr: must be > 0, got -1 (see tweetgen-tui --help)``. Kept free of heavy imports:
``tweetgen-tui`` parses its flags before Textual or torch are loaded.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports errors as a single line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def number(kind: type, low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=`` that parses ``kind`` (int or float) within [low, high].

    ``low_open`` makes the lower bound exclusive (``> low``). NaN and infinities are refused.
    """

    def num(x: float) -> str:
        return str(int(x)) if float(x).is_integer() and abs(x) < 1e7 else f"{x:g}"

    def bounds() -> str:
        lower = f"{'>' if low_open else '>='} {num(low)}" if low is not None else ""
        if lower and high is not None:
            return f"between {num(low)} and {num(high)}" if not low_open else f"{lower} and <= {num(high)}"
        return lower or f"<= {num(high)}"  # type: ignore[arg-type]

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {bounds()}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value" fallbacks
    return parse


def run_name(text: str) -> str:
    """An argparse ``type=`` for a run name: one folder name, no path separators, not ``.``/``..``, not empty."""
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if not text.strip() or text in (".", "..") or any(s in text for s in seps) or "\x00" in text:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a run name: use a plain folder name without '/', '\\' or '..' (for a path, use --out DIR)"
        )
    return text
