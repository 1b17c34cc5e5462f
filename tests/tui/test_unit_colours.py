"""The neuron view's colour scale on its own (tui.widgets.unit_colours): sign, neutral at 0, contrast, 16 colours."""

from __future__ import annotations

import pytest
from rich.color import ColorSystem

from tui.widgets.unit_colours import (
    ANSI_NEGATIVE,
    ANSI_POSITIVE,
    DARK_BASE,
    NEGATIVE,
    POSITIVE,
    colour_mode,
    contrast,
    scale_legend,
    unit_background,
    unit_style,
    unit_text,
)

LIGHT_BASE = (0xF5, 0xF5, 0xF5)
GRID = [i / 50 for i in range(-50, 51)]


def rgb(style) -> tuple[int, int, int]:
    triplet = style.bgcolor.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def fg(style) -> tuple[int, int, int]:
    triplet = style.color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


@pytest.mark.parametrize("base", [DARK_BASE, LIGHT_BASE])
def test_sign_picks_the_hue(base) -> None:
    """Negative activations go towards blue, positive towards orange; the ends are the scale's colours."""
    for a in GRID:
        if abs(a) < 0.1:
            continue
        r, g, b = rgb(unit_style(a, "full", base))
        assert (b > r) if a < 0 else (r > b), (a, (r, g, b))
    assert unit_background(-1.0, base) == NEGATIVE
    assert unit_background(1.0, base) == POSITIVE


@pytest.mark.parametrize("mode", ["full", "16"])
def test_neutral_at_zero(mode) -> None:
    """0 (and NaN: no state, e.g. a prime) has no background and no colour: the text as it is."""
    for a in (0.0, -0.0, 0.01, -0.01, float("nan")):
        style = unit_style(a, mode)
        assert style.bgcolor is None and style.color is None, (a, style)


def test_stronger_activation_moves_further_from_the_base() -> None:
    base = DARK_BASE

    def distance(a: float) -> int:
        return sum(abs(c - b) for c, b in zip(rgb(unit_style(a, "full", base)), base))

    for sign in (-1, 1):
        values = [distance(sign * x / 10) for x in range(1, 11)]
        assert values == sorted(values) and values[0] < values[-1]


@pytest.mark.parametrize("base", [DARK_BASE, LIGHT_BASE, (0x80, 0x80, 0x80)])
def test_text_colour_contrasts_with_every_background(base) -> None:
    """The text colour (black or white) is at least WCAG AA (4.5:1) on every background of the scale."""
    for a in GRID:
        style = unit_style(a, "full", base)
        if style.bgcolor is None:
            continue
        assert contrast(fg(style), rgb(style)) >= 4.5, (a, fg(style), rgb(style))


def test_sixteen_colours_three_bins() -> None:
    """16 colours: blue background at and below -1/3, nothing between, yellow at and above +1/3; only ANSI colours."""
    assert unit_style(-0.9, "16") == ANSI_NEGATIVE == unit_style(-0.34, "16")
    assert unit_style(0.9, "16") == ANSI_POSITIVE == unit_style(0.34, "16")
    assert unit_style(0.3, "16") == unit_style(-0.3, "16") == unit_style(0.0, "16")
    assert unit_style(0.3, "16").bgcolor is None
    # what a 16-colour terminal receives: exactly ANSI blue and yellow backgrounds (44, 43), bright white and black text
    standard = ColorSystem.STANDARD
    assert ANSI_NEGATIVE.bgcolor.downgrade(standard).number == 4 and ANSI_POSITIVE.bgcolor.downgrade(standard).number == 3
    assert ANSI_NEGATIVE.color.downgrade(standard).number == 15 and ANSI_POSITIVE.color.downgrade(standard).number == 0
    assert unit_style(-0.9, "16").bgcolor.downgrade(standard).number == 4


def test_colour_mode_follows_the_console() -> None:
    assert colour_mode("truecolor") == colour_mode("256") == "full"
    assert colour_mode("standard") == colour_mode("windows") == colour_mode(None) == "16"


def test_unit_text_styles_each_character_and_keeps_markup_plain() -> None:
    """One style per character by its activation; "[b]" stays text; hidden characters are escaped in their style;
    the prime is uncoloured and characters past the activations are plain."""
    written = "[b]x\u202e"
    acts = [-1.0, 0.0, 1.0, 0.5]
    text = unit_text(written, acts, "full", prime="hi ")
    assert text.plain == "hi [b]x<U+202E>"
    styles = {span.start: span.style for span in text.spans}
    assert styles[3].bgcolor is not None and rgb(styles[3]) == NEGATIVE  # "["
    assert rgb(styles[5]) == POSITIVE  # "]"
    assert styles[6].bgcolor is not None  # "x" at 0.5
    assert not any(s.start <= 7 < s.end and s.style.bgcolor is not None for s in text.spans)  # no activation given
    assert 4 not in styles  # "b" at 0: neutral, no style
    prime_styles = [s.style for s in text.spans if s.end <= 3]
    assert all("dim" in str(s) for s in prime_styles)


def test_scale_legend_shows_both_ends() -> None:
    for mode in ("full", "16"):
        legend = scale_legend(mode)
        backgrounds = [s.style.bgcolor for s in legend.spans if getattr(s.style, "bgcolor", None) is not None]
        assert len(backgrounds) >= 2
        assert legend.plain.startswith("−1") and legend.plain.endswith("+1")
