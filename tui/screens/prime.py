"""The prime (key ``/``): type the start of a tweet and the model continues it.

Enter applies what is typed (an empty line clears the prime); escape leaves it as it was.
The text is shown and sent as plain text: characters the model has never seen are read
as ``<unk>``, as the CLI's ``--prime`` does (the App says which).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

MAX_PRIME = 120  # characters: room for the model to write after it within a 140-character tweet
HELP = "Start the tweet with (enter: write on from it · empty: no prime · escape: cancel)"


class PrimeInput(Input):
    """An Input of at most MAX_PRIME characters that keeps what fits of a longer paste and says so.

    (Textual's ``max_length`` refuses an insertion that would pass it whole: a 121-character paste
    vanished without a word.)"""

    @dataclass
    class Cut(Message):
        """Text typed or pasted did not all fit (or only its first line was taken)."""

        note: str

    def replace(self, text: str, start: int, end: int) -> None:
        value = self.value
        start, end = sorted((max(0, start), min(len(value), end)))
        room = max(0, MAX_PRIME - (len(value) - (end - start)))
        if len(text) > room:
            self.post_message(self.Cut(f"A prime holds at most {MAX_PRIME} characters: kept {room:,} of the "
                                       f"{len(text):,} given."))
            text = text[:room]
        super().replace(text, start, end)

    def _on_paste(self, event: events.Paste) -> None:
        lines = event.text.splitlines()
        if len(lines) > 1:  # Input takes the first line only
            self.post_message(self.Cut(f"A prime is one line: kept the first of the {len(lines):,} pasted."))
        # (no super() call: Textual dispatches the event to Input._on_paste as well, which inserts it)


class PrimeScreen(ModalScreen[str | None]):
    """A one-line input over the app; dismisses with the prime, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="keep the prime as it was")]

    def __init__(self, prime: str) -> None:
        super().__init__()
        self.prime = prime

    def compose(self) -> ComposeResult:
        with Vertical(id="prime-box"):
            yield Static(HELP, id="prime-help", markup=False)
            yield PrimeInput(self.prime[:MAX_PRIME], placeholder="e.g. the cat", id="prime-input")

    def on_mount(self) -> None:
        self.query_one("#prime-box").border_title = "Prime"
        self.query_one(Input).focus()

    @on(PrimeInput.Cut)
    def _cut(self, event: PrimeInput.Cut) -> None:
        """Said where the user looks, in the box, until the next edit that fits."""
        event.stop()
        self.query_one("#prime-help", Static).update(event.note)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.is_active:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        if self.is_active:
            self.dismiss(None)
