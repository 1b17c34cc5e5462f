"""Small formatting helpers shared by the panels (numbers, durations, ages)."""

from __future__ import annotations

import math
import time


def now() -> float:
    """The wall clock used for ages; a test replaces it to freeze the screen."""
    return time.time()


def age(created: float, suffix: bool = True) -> str:
    """How long ago: "42s ago", "3m ago", "5h ago", "2d ago" (without " ago" for a column headed "age")."""
    secs = max(0.0, now() - created)
    text = f"{secs:.0f}s"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            text = f"{secs // size:.0f}{unit}"
            break
    return f"{text} ago" if suffix else text


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
