"""The prime (key ``/``): type the start of a tweet and the model continues it.

Enter applies what is typed (an empty line clears the prime); escape leaves it as it was.
The text is shown and sent as plain text: characters the model has never seen are read
as ``<unk>``, as the CLI's ``--prime`` does (the App says which).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

MAX_PRIME = 120  # characters: room for the model to write after it within a 140-character tweet


class PrimeScreen(ModalScreen[str | None]):
    """A one-line input over the app; dismisses with the prime, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="keep the prime as it was")]

    def __init__(self, prime: str) -> None:
        super().__init__()
        self.prime = prime

    def compose(self) -> ComposeResult:
        with Vertical(id="prime-box"):
            yield Static("Start the tweet with (enter: write on from it · empty: no prime · escape: cancel)",
                         id="prime-help", markup=False)
            yield Input(self.prime, placeholder="e.g. the cat", max_length=MAX_PRIME, id="prime-input")

    def on_mount(self) -> None:
        self.query_one("#prime-box").border_title = "Prime"
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.is_active:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        if self.is_active:
            self.dismiss(None)
