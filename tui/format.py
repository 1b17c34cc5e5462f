"""Small formatting helpers shared by the panels (numbers, durations, ages)."""

from __future__ import annotations

import math
import time
import unicodedata

from rich.text import Text

from core import humanize

# Characters a terminal does not draw as one visible cell of their own: controls (Cc), format characters
# such as U+202E right-to-left override, zero-width spaces/joiners, U+2060 and U+FEFF (Cf), line and
# paragraph separators, surrogates, private use and unassigned code points. Printed raw they reorder or
# shift what follows and break the panel borders, so they are shown as a dim <U+XXXX> instead.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
KEEP = frozenset("\n")  # a line break in a tweet wraps the text, it does not break the layout


def is_hidden(ch: str) -> bool:
    return ch not in KEEP and unicodedata.category(ch) in HIDDEN_CATEGORIES


def escape_hidden(ch: str) -> str:
    return f"<U+{ord(ch):04X}>"


def visible(text: str, style: str = "", hidden_style: str = "dim") -> Text:
    """``text`` as plain Rich Text (never markup) with every hidden character shown as a dim ``<U+XXXX>``."""
    if text.isprintable() or not any(is_hidden(ch) for ch in text):
        return Text(text, style=style)
    out = Text(style=style)
    start = 0
    for i, ch in enumerate(text):
        if is_hidden(ch):
            if start < i:
                out.append(text[start:i])
            out.append(escape_hidden(ch), style=hidden_style)
            start = i + 1
    if start < len(text):
        out.append(text[start:])
    return out


def printable(text: str) -> str:
    """The same as :func:`visible`, as a plain string (for titles, notifications and labels)."""
    if text.isprintable():
        return text
    return "".join(escape_hidden(ch) if is_hidden(ch) else ch for ch in text)


def now() -> float:
    """The wall clock used for ages; a test replaces it to freeze the screen."""
    return time.time()


def age(created: float, suffix: bool = True) -> str:
    """:func:`core.humanize.age` on :func:`now`'s clock (the CLI's ``list`` rounds the same way)."""
    return humanize.age(created, now=now(), suffix=suffix)


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def rate(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.1f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def bpc(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.3f}"
