"""Generation panel: the tweet being written now, and the ones before it.

Generated text is shown as plain :class:`rich.text.Text`, never parsed as markup, so a
``[`` or an emoji in a sample renders as itself. Characters arrive in chunks of at most
one per frame (the sampling worker batches them); chunks of a sample that has been
replaced are ignored by id.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from tui.format import printable, visible

MAX_HISTORY = 200
CURSOR = "▌"


@dataclass
class SampleRecord:
    """One sample as shown: where it came from and what it says so far."""

    sample_id: int
    temperature: float
    source: str
    text: str = ""
    complete: bool | None = None  # None while streaming; False when cut short

    def header(self) -> Text:
        return Text(f"T {self.temperature:.1f} · {printable(self.source)}", style="dim", no_wrap=True, overflow="ellipsis")

    def body(self, cursor: bool = False) -> Text:
        text = visible(self.text)  # control and zero-width characters as a dim <U+XXXX>
        if cursor:
            text.append(CURSOR, style="dim")
        elif self.complete is False:
            text.append(" … (cut short)", style="dim italic")
        elif not self.text:
            text.append("(empty sample)", style="dim italic")
        return text


class GenerationPanel(Vertical):
    """History of samples above, the current stream below, settings on top."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current: SampleRecord | None = None
        self.history: list[SampleRecord] = []
        self._views: deque[Static] = deque()  # the history's widgets, oldest first

    def compose(self) -> ComposeResult:
        yield Static(id="gen-status")
        yield VerticalScroll(id="history")
        yield Static(Text("loading the model…", style="dim"), id="current")

    def on_mount(self) -> None:
        self.border_title = "Generation"

    # ------------------------------------------------------------ messages of the workers

    def on_sample_chunk(self, message: m.SampleChunk) -> None:
        message.stop()
        self.append(message.sample_id, message.text)

    def on_sample_finished(self, message: m.SampleFinished) -> None:
        self.finish(message.sample_id, message.complete)  # and on to the App, which schedules the next

    def on_no_model(self, message: m.NoModel) -> None:
        message.stop()
        self.show_notice(message.reason)

    # ------------------------------------------------------------ updates from the App

    def set_status(self, temperature: float, source: str | None, pace: float) -> None:
        line = Text.assemble(("temp ", "dim"), (f"{temperature:.1f}", "bold"), (" · ", "dim"),
                             (source or "no model", "bold" if source else "dim"), no_wrap=True, overflow="ellipsis")
        self.query_one("#gen-status", Static).update(line)
        self.border_subtitle = "as fast as it writes" if pace <= 0 else f"{pace:g} chars/s"

    def show_notice(self, notice: str) -> None:
        """A message in place of the current sample (no model yet, what to press)."""
        if self.current is not None:
            self._retire(complete=False)
        current = self.query_one("#current", Static)
        current.border_title = None
        current.update(Text(notice, style="italic"))

    def note(self, text: str) -> None:
        """A line in the history between samples (what the app is doing, what to press)."""
        history = self.query_one("#history", VerticalScroll)
        if not history.is_attached:
            return
        history.mount(Static(Text(text, style="italic"), classes="note"))
        history.scroll_end(animate=False, immediate=False)

    def begin(self, sample_id: int, temperature: float, source: str) -> None:
        """A new sample starts; the one on screen moves up into the history."""
        if self.current is not None:
            self._retire(complete=None)
        self.current = SampleRecord(sample_id, temperature, source)
        self._draw_current()

    def append(self, sample_id: int, text: str) -> None:
        if self.current is None or self.current.sample_id != sample_id or self.current.complete is not None:
            return  # a chunk of a stream that was already replaced
        self.current.text += text
        self._draw_current()

    def finish(self, sample_id: int, complete: bool) -> None:
        if self.current is None or self.current.sample_id != sample_id:
            return
        if self.current.complete is None:
            self.current.complete = complete
        self._draw_current()

    # ------------------------------------------------------------ internals

    def _draw_current(self) -> None:
        record = self.current
        assert record is not None
        current = self.query_one("#current", Static)
        current.border_title = record.header()
        current.update(record.body(cursor=record.complete is None))

    def _retire(self, complete: bool | None) -> None:
        """Move the current sample into the history (``complete`` None: keep what it says)."""
        record = self.current
        self.current = None
        if record is None:
            return
        if record.complete is None:
            record.complete = False if complete is None else complete
        self.history.append(record)
        history = self.query_one("#history", VerticalScroll)
        if not history.is_attached:  # the app is closing
            return
        at_end = history.scroll_y >= history.max_scroll_y - 1
        view = Static(Group(record.header(), record.body()), classes="sample")
        self._views.append(view)
        history.mount(view)
        if len(self.history) > MAX_HISTORY:
            del self.history[0]
            self._views.popleft().remove()
        if at_end:
            history.scroll_end(animate=False, immediate=False)
