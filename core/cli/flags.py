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
from collections.abc import Mapping
from typing import Any, NoReturn

from core.cli.words import CLI_WORDS  # noqa: F401 - tweetgen's words for core's hints, re-exported
from core.errors import TweetgenError, hint, joined

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports errors as a single line (no usage dump), exit status 2.

    A value's hint is in the front end's own flags: each parser builds its ``type=`` with its words
    (:func:`run_name_type`)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def number(kind: type, low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Callable[[str], Any]:
    """An argparse ``type=`` that parses ``kind`` (int or float) within [low, high].

    ``low_open`` makes the lower bound exclusive (``> low``). NaN and infinities are refused.
    """

    def num(x: float) -> str:  # an int bound exactly (a seed's 9223372036854775807, not 9.22337e+18)
        return str(int(x)) if float(x).is_integer() and (kind is int or abs(x) < 1e7) else f"{x:g}"

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


class RunNameError(TweetgenError, ValueError):
    """A run name that cannot be one folder name."""


NAME_MAX_BYTES = 255  # the longest file name most file systems take (ext4, APFS, NTFS in UTF-16 units)


def run_name_type(words: Mapping[str, str]) -> Callable[[str], str]:
    """An argparse ``type=`` for a run name whose hint names the front end's flag (``words``: its words
    for each setting, :mod:`core.errors`)."""

    def parse(text: str) -> str:
        try:
            return run_name(text)
        except RunNameError as exc:
            raise argparse.ArgumentTypeError(exc.render(words)) from None

    parse.__name__ = "run_name"
    return parse


def run_name(text: str) -> str:
    """A run name: one folder name, no path separators, not ``.``/``..``, not empty, no control
    characters (a newline in a folder name breaks every listing), and short enough to be a file
    name (else the run would fail only when its folder is made). Raises :class:`RunNameError`."""
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if not text.strip() or text in (".", "..") or any(s in text for s in seps) or not text.isprintable():
        raise RunNameError(f"{text!r} is not a run name", joined(
            "use a plain folder name without '/', '\\', '..' or control characters (for a path, use ",
            hint("{run_dir})", run_dir="DIR")))
    if len(text.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES:
        raise RunNameError(
            f"a run name is at most {NAME_MAX_BYTES} bytes, this one is {len(text.encode('utf-8', 'surrogatepass')):,}; "
            "use a shorter one"
        )
    return text


# ---------------------------------------------------------------- the one table of numbers

MAX_COUNT = 10**12  # steps, epochs, intervals, texts, characters

# Every numeric setting of both front ends, keyed by setting, with its bounds: ``tweetgen``
# and ``tweetgen-tui`` take their ``type=`` from here, so a value one refuses the other
# refuses too. Every number has an upper bound: an absurd value is refused in one line
# instead of overflowing later (an ETA of 1e30 steps, a 1e300-minute budget, a seed
# torch cannot take, a 1e9-wide model).
NUMBERS: dict[str, Callable[[str], Any]] = {
    # training budget and schedule
    "max_steps": number(int, 1, MAX_COUNT),
    "epochs": number(int, 1, 10**9),
    "minutes": number(float, 0, 1e7, low_open=True),  # about 19 years
    "val_every": number(int, 0, MAX_COUNT),
    "ckpt_every": number(int, 0, MAX_COUNT),
    "sample_every": number(int, 0, MAX_COUNT),
    "keep_last": number(int, 0, MAX_COUNT),
    "keep_best": number(int, 0, MAX_COUNT),
    "seed": number(int, 0, 2**63 - 1),  # torch.manual_seed takes 64 bits; the app adds the tweet's number
    "threads": number(int, 1, 4096),
    # model and optimizer (larger than memory allows is refused later, by the memory check)
    "hidden_size": number(int, 1, 2**20),
    "embed_dim": number(int, 1, 2**20),
    "num_layers": number(int, 1, 64),
    "batch_size": number(int, 1, 2**20),
    "dropout": number(float, 0, 0.95),
    "weight_decay": number(float, 0, 100),
    "lr": number(float, 0, 1e3, low_open=True),
    "clip": number(float, 0, 1e12, low_open=True),
    "val_fraction": number(float, 0, 0.5),
    # corpus filters
    "max_tweet_len": number(int, 1, MAX_COUNT),  # tweetgen train/eval --max-len, tweetgen-tui --max-tweet-len
    "min_len": number(int, 1, MAX_COUNT),
    # generation
    "num_samples": number(int, 1, MAX_COUNT),
    "sample_max_len": number(int, 1, MAX_COUNT),  # tweetgen sample --max-len, tweetgen-tui --max-len
    "length": number(int, 1, 1024),
    "temperature": number(float, 0, 100),  # tweetgen sample; the app's own range is below
    "app_temperature": number(float, 0.1, 5.0),  # tweetgen-tui: + and - step it by 0.1 (tui.settings)
    "top_k": number(int, 0, 2**20),
    "top_p": number(float, 0, 1, low_open=True),
    "copy_threshold": number(int, 1, 10_000),
    "pace": number(float, 0, 1e6),  # characters per second on screen
    "gap": number(float, 0, 86_400),  # seconds between tweets: a day at most
}
for _name, _parse in NUMBERS.items():
    _parse.setting = _name  # type: ignore[attr-defined]  # tests check every numeric flag comes from here


# ---------------------------------------------------------------- hints, in tweetgen's words

# tweetgen's words for the settings core's hints name: core/cli/words.py (CLI_WORDS, imported above)
