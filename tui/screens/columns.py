"""Samples side by side, streaming together with one seed: the temperature sweep (key ``t``) and the
checkpoint comparison (key ``v``).

A :class:`ColumnsScreen` covers the main screen (the columns need the whole width: at 80
columns five of them are 16 characters wide) and shows one :class:`SampleColumn` per
setting. One worker of the App writes every column, a character of each in turn
(:func:`tui.services.generation_stream.stream_columns`); each column handles the chunks of its own
sample, and the finished ones bubble on to the App, which checks their novelty. ``t``,
``v`` or escape goes back to the single stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from tui.widgets.footer import AppFooter, fit_footer
from tui.format import prob_legend
from tui.widgets.generation_panel import SampleRecord

if TYPE_CHECKING:
    from tui import messages as m

SWEEP_TEMPERATURES = (0.5, 0.8, 1.0, 1.5, 2.0)  # the notebook's 0.8, 1.0, 1.5, 2.0, and a cool 0.5
MAX_COMPARED = 5  # checkpoints compared at once: a sixth column would be 13 characters wide at 80 columns


class SampleColumn(VerticalScroll):
    """One sample of the sweep or the comparison, titled by what differs (``T 1.5``, ``step 20``)."""

    def __init__(self, record: SampleRecord, probs: bool) -> None:
        super().__init__(classes="sample-column")
        self.record = record
        self.probs_view = probs
        self._height = -1  # lines the body was laid out with

    def compose(self) -> ComposeResult:
        yield Static(classes="column-body")

    def on_mount(self) -> None:
        self.border_title = self.record.label or self.record.settings()
        self.redraw()

    def add(self, text: str, probs: tuple[float, ...]) -> None:
        record = self.record
        if record.complete is None:
            record.text += text
            record.probs.extend(probs)
            self.redraw()

    def finish(self, complete: bool, eos_prob: float | None) -> None:
        record = self.record
        if record.complete is None:
            record.complete = complete
            record.eos_prob = eos_prob
            self.redraw(layout=True)
            # once more after that frame: the first layout can measure the body before the score
            # line's last wrap is known (a flaky missing last word in the snapshots of issue 10)
            self.call_after_refresh(self.redraw, True)

    def redraw(self, layout: bool = False) -> None:
        """Draw the sample again. While it streams, a layout pass (the costly part of a frame with five
        columns streaming) only when its estimated wrapped height changes: most chunks add characters to
        the last line. ``layout``: always (a finished sample, its score and novelty lines: the estimate
        can miss a wrap, e.g. around wide emoji, and the last word would be clipped)."""
        record = self.record
        body = self.query_one(".column-body", Static)
        view = record.view(cursor=record.complete is None, probs=self.probs_view, header=False)
        width = body.size.width
        if width <= 0:
            body.update(view)
            return
        parts = view.renderables if isinstance(view, Group) else [view]
        height = sum(len(part.wrap(self.app.console, width)) for part in parts if isinstance(part, Text))
        body.update(view, layout=layout or height != self._height)
        self._height = height


class ColumnsScreen(Screen[None]):
    """Columns of samples written together; ``kind`` is "sweep" or "compare". The worker posts each
    column's chunks to this screen, which hands them to the column of that sample."""

    BINDINGS = [Binding("escape", "app.leave_columns", "Back", tooltip="back to the single stream")]

    def __init__(self, kind: str, records: Sequence[SampleRecord], status: Text, probs: bool) -> None:
        super().__init__(classes=f"columns-{kind}")
        self.kind = kind
        self.records = list(records)
        self.status = status
        self.probs_view = probs

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.status, id="columns-status")
        legend = Static(prob_legend(), id="columns-legend")
        legend.display = self.probs_view
        yield legend
        with Horizontal(id="columns"):
            for record in self.records:
                yield SampleColumn(record, self.probs_view)
        yield AppFooter(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "temperature sweep" if self.kind == "sweep" else "checkpoints compared"
        fit_footer(self.query_one(AppFooter), self.app.size.width)

    @property
    def columns(self) -> list[SampleColumn]:
        return list(self.query(SampleColumn))

    def _column(self, sample_id: int) -> SampleColumn | None:
        return next((c for c in self.columns if c.record.sample_id == sample_id), None)

    def on_sample_chunk(self, message: m.SampleChunk) -> None:
        message.stop()
        column = self._column(message.sample_id)
        if column is not None:
            column.add(message.text, message.probs)

    def on_sample_finished(self, message: m.SampleFinished) -> None:
        column = self._column(message.sample_id)  # and on to the App, which checks its novelty
        if column is not None:
            column.finish(message.complete, message.eos_prob)

    def replace_columns(self, records: Sequence[SampleRecord], status: Text) -> None:
        """New samples in the same columns (r: a new seed)."""
        self.records = list(records)
        self.status = status
        self.query_one("#columns-status", Static).update(status)
        for column, record in zip(self.columns, self.records):
            column.record = record
            column.border_title = record.label or record.settings()
            column.redraw()

    def set_probs_view(self, on: bool) -> None:
        self.probs_view = on
        self.query_one("#columns-legend", Static).display = on
        for column in self.columns:
            column.probs_view = on
            column.redraw(layout=True)

    def redraw(self, record: SampleRecord) -> None:
        for column in self.columns:
            if column.record is record:
                column.redraw(layout=True)  # its novelty arrived: a line more
