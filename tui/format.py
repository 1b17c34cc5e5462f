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


# ---------------------------------------------------------------- the probability view (key p)

# The model's probability (softmax at T=1) of each written character, in four buckets drawn with the 16 ANSI
# colours only (and the last one reversed: readable without colour at all), most expected first.
PROB_BUCKETS: tuple[tuple[float, str, str], ...] = (
    (0.5, "green", "≥50%"),
    (0.1, "yellow", "≥10%"),
    (0.01, "red", "≥1%"),
    (0.0, "bold reverse red", "<1%"),
)


def prob_style(p: float) -> str:
    """The style of a character the model gave probability ``p``."""
    for floor, style, _ in PROB_BUCKETS:
        if p >= floor:
            return style
    return PROB_BUCKETS[-1][1]


def prob_legend() -> Text:
    """One short line: what the colours of the probability view mean."""
    out = Text("p(char), T=1: ", style="dim", no_wrap=True, overflow="ellipsis")
    for i, (_, style, label) in enumerate(PROB_BUCKETS):
        if i:
            out.append(" ")
        out.append(label, style=style)
    return out


def prob_text(prime: str, written: str, probs: "list[float] | tuple[float, ...]") -> Text:
    """``prime`` (not the model's: dim) then each written character styled by its probability;
    hidden characters shown as ``<U+XXXX>`` in their character's style. Plain text, never markup."""
    out = Text()
    if prime:
        out.append_text(visible(prime, style="dim italic"))
    run_start, run_style = 0, None
    for i, ch in enumerate(written):
        style = prob_style(probs[i]) if i < len(probs) else ""
        if is_hidden(ch):
            if run_start < i:
                out.append(written[run_start:i], style=run_style or "")
            out.append(escape_hidden(ch), style=style)
            run_start, run_style = i + 1, None
            continue
        if style != run_style:
            if run_start < i:
                out.append(written[run_start:i], style=run_style or "")
            run_start, run_style = i, style
    if run_start < len(written):
        out.append(written[run_start:], style=run_style or "")
    return out


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message (torch's run to several)."""
    from tui.settings import say  # a core error's hint in this app's flags

    lines = [line.strip() for line in say(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
