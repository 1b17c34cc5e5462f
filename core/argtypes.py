"""Argparse value types shared by ``tweetgen`` and ``tweetgen-tui``: numbers with bounds.

A bad value becomes argparse's usual one-line usage error naming the flag, e.g.
``argument --lr: must be > 0, got -1``. Kept free of heavy imports: ``tweetgen-tui``
parses its flags before Textual or torch are loaded.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def number(kind: type, low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=`` that parses ``kind`` (int or float) within [low, high].

    ``low_open`` makes the lower bound exclusive (``> low``). NaN and infinities are refused.
    """

    def bounds() -> str:
        lower = f"{'>' if low_open else '>='} {low:g}" if low is not None else ""
        if lower and high is not None:
            return f"between {low:g} and {high:g}" if not low_open else f"{lower} and <= {high:g}"
        return lower or f"<= {high:g}"

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
