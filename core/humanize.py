"""Durations for people, shared by the CLI's tables and the app's panels (one rounding for both)."""

from __future__ import annotations

import time

AGE_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


def age(created: float, *, now: float | None = None, suffix: bool = True) -> str:
    """How long ago ``created`` (a Unix time) was, in its largest whole unit: "42s ago", "3m ago",
    "5h ago", "2d ago" (without " ago" for a column headed "age"). Whole units count down, as a
    clock does: 1 h 59 min is "1h", not "2h"; a time in the future reads "0s"."""
    secs = max(0.0, (time.time() if now is None else now) - created)
    text = f"{int(secs)}s"
    for unit, size in AGE_UNITS:
        if secs >= size:
            text = f"{int(secs // size)}{unit}"
            break
    return f"{text} ago" if suffix else text
