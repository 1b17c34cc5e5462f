"""``tweetgen neurons --html FILE``: the texts coloured by each feature's best unit, one self-contained page.

Each character's background follows the unit's activation on a diverging, colour-blind-safe
scale (blue -1, white 0, orange +1, as the app colours it), with black or white text chosen for
contrast. Plain HTML, every text escaped; no script, no external file.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from core.neurons.features import FEATURES

BLUE = (33, 102, 172)  # -1
ORANGE = (230, 97, 1)  # +1
WHITE = (247, 247, 247)  # 0


def colour(a: float) -> tuple[int, int, int]:
    """An activation in [-1, 1] -> (r, g, b) between blue, white and orange."""
    a = max(-1.0, min(1.0, a))
    end = ORANGE if a >= 0 else BLUE
    t = abs(a)
    return tuple(round(w + (e - w) * t) for w, e in zip(WHITE, end))  # type: ignore[return-value]


def text_colour(rgb: tuple[int, int, int]) -> str:
    """Black or white, whichever contrasts more with ``rgb`` (relative luminance, WCAG)."""
    def lin(c: int) -> float:
        x = c / 255
        return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
    return "#000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#fff"


def coloured_text(text: str, acts: Sequence[float]) -> str:
    """One ``<span>`` per character, its background the activation's colour."""
    spans = []
    for ch, a in zip(text, acts):
        rgb = colour(float(a))
        shown = "\u00b7" if ch == " " else ("\u21b5" if ch == "\n" else ch)
        spans.append(f'<span style="background:rgb{rgb};color:{text_colour(rgb)}" title="{float(a):+.2f}">'
                     f"{html.escape(shown)}</span>")
    return "".join(spans)


def page(title: str, sections: Sequence[tuple[str, str, Sequence[tuple[str, Sequence[float]]]]]) -> str:
    """A whole page: ``sections`` are (feature, legend line, [(text, activations)])."""
    parts = [f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
             "p.t{font-family:monospace;white-space:pre-wrap;line-height:1.6}</style>",
             f"<h1>{html.escape(title)}</h1>",
             "<p>Background: the unit's activation after reading each character, blue -1, white 0, orange +1.</p>"]
    for feature, legend, texts in sections:
        parts.append(f"<h2>{html.escape(FEATURES.get(feature, feature))}</h2><p>{html.escape(legend)}</p>")
        parts.extend(f'<p class="t">{coloured_text(t, a)}</p>' for t, a in texts)
    return "\n".join(parts) + "\n"
