"""Colouring text by one hidden unit's activation (the neuron view, key u; issue 19).

Each character's *background* shows the unit's state after the model read it, in (-1, 1), on a
diverging scale that reads without red/green: blue at -1, nothing at 0, orange at +1 (the
Okabe-Ito blue and orange, told apart by every common colour-vision deficiency). The text
colour, black or white, is whichever contrasts more with that background (WCAG contrast, so
never under 4.5:1).

Two scales, chosen by what the terminal can show (:func:`colour_mode` reads the app's console):

- ``"full"`` (256 colours or true colour): the background blends from the panel's own
  background (``base``) towards blue or orange in proportion to ``|a|``;
- ``"16"`` (the 16 ANSI colours, or a Windows console): three bins, blue for
  ``a <= -BIN``, none for ``|a| < BIN``, yellow (the ANSI stand-in for orange) for
  ``a >= BIN``. A blend downgraded to 16 colours would jump between unrelated colours.

Text is always plain :class:`rich.text.Text` with styles (never markup from model output);
hidden characters are shown as ``<U+XXXX>`` in their character's style (:mod:`tui.format`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.color import Color
from rich.style import Style
from rich.text import Text

from tui.format import escape_hidden, is_hidden, visible

ColourMode = Literal["full", "16"]

NEGATIVE = (0x00, 0x72, 0xB2)  # Okabe-Ito blue: activation -1
POSITIVE = (0xE6, 0x9F, 0x00)  # Okabe-Ito orange: activation +1
DARK_BASE = (0x1E, 0x1E, 0x1E)  # the panel background assumed when none is given (a dark theme)
NEUTRAL = 0.02  # |a| under this: no background at all (0 is "nothing", not a faint tint)
BIN = 1 / 3  # the 16-colour scale's bins: (-1, -BIN], (-BIN, BIN), [BIN, 1)
LEVELS = 100  # the full scale's steps each side of 0
# Given as the RGB of the standard palette's blue and yellow (VGA: its "yellow" is an orange brown), not by
# name: Textual maps ANSI colour names through its theme to other RGB values, which a 16-colour terminal then
# receives as the nearest of its colours (bright red and bright blue, measured in tmux with TERM=xterm). An exact
# palette RGB is sent as that ANSI colour itself (44 and 43), which the terminal shows in its own palette.
ANSI_NEGATIVE = Style(color=Color.from_rgb(255, 255, 255), bgcolor=Color.from_rgb(0, 0, 170))  # bright white on blue
ANSI_POSITIVE = Style(color=Color.from_rgb(0, 0, 0), bgcolor=Color.from_rgb(170, 85, 0))  # black on yellow
BLACK = (0, 0, 0)
WHITE = (255, 255, 255)
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class UnitChoice:
    """The unit the generation is coloured by (picked in the neuron view), with its legend line."""

    unit: int
    feature: str
    feature_label: str  # "inside URL"
    legend: str  # "unit 137 · inside URL · AUC 0.97 (+) · halves 0.96/0.97 · untrained 0.58"
    step: int | None  # the checkpoint it was picked in
    rank: tuple[int, int] = (1, 1)  # its place among the feature's ranked units, of how many


def colour_mode(color_system: str | None) -> ColourMode:
    """The scale for a console's ``color_system`` (Rich's name: "standard", "windows", "256", "truecolor")."""
    return "full" if color_system in ("256", "truecolor") else "16"


def palette_of(widget: Any) -> tuple[ColourMode, RGB]:
    """The scale for a Textual widget: its app's console's colours, and the widget's own background as the neutral."""
    mode = colour_mode(widget.app.console.color_system)
    r, g, b = widget.background_colors[1].rgb
    return mode, (r, g, b)


def luminance(rgb: RGB) -> float:
    """WCAG relative luminance of an sRGB colour, 0 (black) to 1 (white)."""

    def channel(c: int) -> float:
        x = c / 255
        return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4

    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: RGB, b: RGB) -> float:
    """WCAG contrast ratio of two colours, 1 (same) to 21 (black on white)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour(background: RGB) -> RGB:
    """Black or white, whichever contrasts more with ``background`` (at least 4.58:1 for any colour)."""
    return BLACK if contrast(BLACK, background) >= contrast(WHITE, background) else WHITE


def blend(base: RGB, end: RGB, t: float) -> RGB:
    """``base`` moved a share ``t`` (0..1) of the way to ``end``."""
    t = min(1.0, max(0.0, t))
    return (round(base[0] + (end[0] - base[0]) * t), round(base[1] + (end[1] - base[1]) * t),
            round(base[2] + (end[2] - base[2]) * t))


def unit_background(a: float, base: RGB = DARK_BASE) -> RGB | None:
    """The full scale's background for activation ``a`` (None: neutral, no background)."""
    if not math.isfinite(a) or abs(a) < NEUTRAL:
        return None
    return blend(base, POSITIVE if a > 0 else NEGATIVE, abs(a))


def unit_style(a: float, mode: ColourMode = "full", base: RGB = DARK_BASE) -> Style:
    """The style of a character after which the unit's state is ``a`` (in (-1, 1); NaN: none). The full
    scale has LEVELS steps each side of 0 (finer than the eye tells apart), so styles are computed once."""
    if not math.isfinite(a):
        return Style()
    if mode == "16":
        if abs(a) < BIN:
            return Style()
        return ANSI_POSITIVE if a > 0 else ANSI_NEGATIVE
    return _full_style(round(max(-1.0, min(1.0, a)) * LEVELS), base)


@functools.lru_cache(maxsize=4096)
def _full_style(level: int, base: RGB) -> Style:
    a = level / LEVELS
    background = unit_background(a, base)
    if background is None:
        return Style()
    return Style(color=Color.from_rgb(*text_colour(background)), bgcolor=Color.from_rgb(*background))


def unit_text(written: str, acts: Sequence[float], mode: ColourMode = "full", base: RGB = DARK_BASE,
              prime: str = "") -> Text:
    """``prime`` (not the model's, and without states: dim, uncoloured), then each character of ``written``
    on the background of its activation (``acts[i]``; characters past ``acts`` uncoloured). Plain text."""
    out = Text()
    if prime:
        out.append_text(visible(prime, style="dim italic"))
    run: list[str] = []
    run_style: Style | None = None
    for i, ch in enumerate(written):
        style = unit_style(acts[i], mode, base) if i < len(acts) else Style()
        if style != run_style and run:
            out.append("".join(run), style=run_style)
            run = []
        run_style = style
        run.append(escape_hidden(ch) if is_hidden(ch) else ch)
    if run:
        out.append("".join(run), style=run_style)
    return out


def scale_legend(mode: ColourMode = "full", base: RGB = DARK_BASE, compact: bool = False) -> Text:
    """One short line showing the scale as coloured cells, blue (-1) to orange (+1): "−1 ▮▮▮▮▮ +1", or,
    ``compact``, five cells alone (for a panel's legend line)."""
    steps = (-1.0, -0.5, 0.0, 0.5, 1.0) if mode == "16" or compact else (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)
    cell = " " if compact else "  "
    out = Text(no_wrap=True, overflow="ellipsis")
    if not compact:
        out.append("−1 ", style="dim")
    for a in steps:
        out.append(cell, style=unit_style(a * 0.999, mode, base))
    if not compact:
        out.append(" +1", style="dim")
    return out
