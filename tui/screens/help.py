"""The `?` screen: every key of the app, read from the App's BINDINGS so it cannot drift."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# keys that belong to widgets rather than the App, listed for completeness
OTHER_KEYS = (
    ("enter", "on a checkpoint: generate from it now"),
    ("space", "on a checkpoint: mark it (or unmark it) for v, the comparison"),
    ("r", "in the sweep or comparison: the same columns with a new seed"),
    ("↑ ↓ pgup pgdn", "move in the checkpoint list, scroll the sample history"),
    ("↑ ↓ ← →", "in the neuron view (u): pick the feature, and the unit among its best"),
    ("tab", "move focus between the history and the checkpoint list"),
    ("ctrl+p", "command palette: every action above, by name"),
    ("escape", "close this screen (so do ? and q); leave the sweep or comparison"),
)


def key_rows(bindings: Iterable[Binding]) -> list[tuple[str, str]]:
    """(keys, what they do) for each distinct action, in BINDINGS order."""
    rows: list[tuple[str, str]] = []
    for binding in bindings:
        keys = binding.key_display or binding.key
        what = binding.tooltip or binding.description
        if (keys, what) not in rows:
            rows.append((keys, what))
    return rows


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; escape, ? or q closes it."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", key_display="?"),
        Binding("q", "dismiss", "Close"),  # as in less or htop: q leaves the help, not the app
    ]

    def __init__(self, bindings: Iterable[Binding]) -> None:
        super().__init__()
        self.rows = key_rows(bindings)

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(ratio=1)
        for keys, what in self.rows:
            table.add_row(Text(keys), Text(what))
        table.add_row("", "")
        for keys, what in OTHER_KEYS:
            table.add_row(Text(keys, style="dim"), Text(what, style="dim"))
        with VerticalScroll(id="help-body"):
            yield Static(table)

    def on_mount(self) -> None:
        body = self.query_one("#help-body")
        body.border_title = "Keys"
        body.border_subtitle = "escape, ? or q to close"
