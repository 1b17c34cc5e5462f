"""The footer: Textual's, except that in a terminal too narrow for every key the two a
person must always be able to find, ``? Help`` and ``q Quit``, come first instead of
being cut off at the right edge."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # not exported by textual.widgets; textual is pinned (constraints.txt)

ALWAYS_SHOWN = ("help", "quit")  # actions, in the order they come first when narrow
ALL_KEYS_FIT = 104  # columns the compact footer needs for every key it shows (p, t and v included)


class AppFooter(Footer):
    narrow: reactive[bool] = reactive(False, recompose=True)
    """Fewer columns than ALL_KEYS_FIT: the keys of ALWAYS_SHOWN go first."""

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        if self.narrow:
            rank = {action: i for i, action in enumerate(ALWAYS_SHOWN)}
            widgets.sort(key=lambda w: rank.get(w.action, len(rank)) if isinstance(w, FooterKey) else len(rank))
        yield from widgets


def fit_footer(footer: AppFooter, width: int) -> None:
    """The palette hint costs 11 columns: the keys come first in an 80-column terminal."""
    footer.show_command_palette = width >= 100
    footer.narrow = width < ALL_KEYS_FIT  # ? Help and q Quit first, not cut off
