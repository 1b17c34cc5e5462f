"""Samples side by side, streaming together with one seed: the temperature sweep (key ``t``) and the
checkpoint comparison (key ``v``).

A :class:`ColumnsScreen` covers the main screen (the columns need the whole width: at 80
columns five of them are 16 characters wide) and shows one :class:`SampleColumn` per
setting. The screen's own worker writes every column, a character of each in turn
(:func:`tui.services.generation_stream.stream_columns`); each column handles the chunks of its own
sample, and the finished ones bubble on to the App, which checks their novelty. ``t``,
``v`` or escape goes back to the single stream; ``r`` writes the columns again with a new
seed. Cancelling is the screen's business: its worker stops when it restarts or leaves.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import Worker, get_current_worker

from core.store import policy
from tui import format as fmt
from tui import messages as m
from tui.services.generation_stream import GeneratorSource, load_source, stream_columns

from tui.widgets.footer import AppFooter, fit_footer
from tui.format import prob_legend
from tui.settings import say
from tui.widgets.generation_panel import SampleRecord

if TYPE_CHECKING:
    from core.store.registry import CheckpointInfo
    from tui.app import TweetgenApp

SWEEP_TEMPERATURES = (0.5, 0.8, 1.0, 1.5, 2.0)  # the notebook's 0.8, 1.0, 1.5, 2.0, and a cool 0.5
MAX_COMPARED = 5  # checkpoints compared at once: a sixth column would be 13 characters wide at 80 columns
COLUMN_IDS = 1_000_000_000  # the columns' sample ids start here (the single view's count from 1)
_column_ids = itertools.count(COLUMN_IDS)


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
    """Columns of samples written together; ``kind`` is "sweep" (the current model at each of
    SWEEP_TEMPERATURES) or "compare" (each of ``marked``, newest first, at most MAX_COMPARED). The
    screen's worker posts each column's chunks to it, and it hands them to the column of that sample."""

    BINDINGS = [Binding("escape", "app.leave_columns", "Back", tooltip="back to the single stream")]

    def __init__(self, kind: str, marked: Sequence[CheckpointInfo] = (), probs: bool = False) -> None:
        super().__init__(classes=f"columns-{kind}")
        self.kind = kind
        self.marked = list(marked)[:MAX_COMPARED]
        self.probs_view = probs
        seed = self._first_seed()
        self.specs = self._column_specs(seed)
        self.records = [r for r, _ in self.specs]
        self.status = self._status(seed)

    @property
    def tweetgen(self) -> TweetgenApp:
        return cast("TweetgenApp", self.app)

    # ------------------------------------------------------------ what the columns write

    def _first_seed(self) -> int:
        """One seed for every column: with --seed, the seed the next single tweet would get; else drawn."""
        app = self.tweetgen
        if app.settings.seed is not None:
            return app.settings.seed + app.generation.sample_id
        return random.SystemRandom().randrange(2**31)

    def _column_specs(self, seed: int) -> list[tuple[SampleRecord, Path | None]]:
        """(record, checkpoint to load; None: the current model) of each column."""
        app = self.tweetgen
        source = app.source
        specs: list[tuple[SampleRecord, Path | None]] = []
        if self.kind == "sweep":
            assert source is not None
            for t in SWEEP_TEMPERATURES:
                cfg = app.sample_config(t, seed)
                specs.append((SampleRecord(next(_column_ids), t, source.describe(), prime=cfg.prime, cfg=cfg,
                                           checkpoint=source.path, step=source.step), None))
        else:
            cfg = app.sample_config(app.temperature, seed)
            for info in self.marked:
                label = app.label_for(info.path)
                label = label if label.startswith("step") else f"{label} · step {info.step:,}"
                specs.append((SampleRecord(next(_column_ids), app.temperature, label, prime=cfg.prime, cfg=cfg,
                                           checkpoint=info.path, step=info.step, label=label), info.path))
        for record, _ in specs:
            record.text = record.prime
        return specs

    def _status(self, seed: int) -> Text:
        app = self.tweetgen
        parts = [("sweep" if self.kind == "sweep" else "compare", "bold"), (f" · seed {seed}", "")]
        if self.kind == "compare":
            parts.append((f" · T {app.temperature:.1f}", ""))
        if app.top_k:
            parts.append((f" · top-k {app.top_k}", ""))
        if app.top_p < 1:
            parts.append((f" · top-p {app.top_p:g}", ""))
        if app.prime:
            parts.append((" · prime ", ""))
            parts.append((fmt.printable(app.prime[:20]), "italic"))
        if self.kind == "sweep" and app.source is not None:
            parts.append((f" · {app.source.describe()}", "dim"))
        parts.append(("  ·  r: new seed · esc: back", "dim"))
        return Text.assemble(*parts, no_wrap=True, overflow="ellipsis")

    # ------------------------------------------------------------ the worker: start, restart, leave

    def _start(self) -> None:
        app = self.tweetgen
        for record, _ in self.specs:
            app.samples.keep(record)
        self._write([(r.sample_id, r.cfg, path) for r, path in self.specs], app.source, app.settings.pace)
        app.refresh_sample_keys()

    def restart(self) -> None:
        """r: the same columns again with a new seed."""
        self.workers.cancel_group(self, "columns")
        self._cut_short()
        seed = self._first_seed() if self.tweetgen.settings.seed is None else self.records[0].cfg.seed + 1
        self.specs = self._column_specs(seed)
        self.replace_columns([r for r, _ in self.specs], self._status(seed))
        self._start()

    def leave(self) -> None:
        """t, v or escape: stop writing and go back to the single stream."""
        app = self.tweetgen
        self.workers.cancel_group(self, "columns")
        self._cut_short()
        while len(app.screen_stack) > 1:  # the columns, and whatever is over them (help, the palette)
            app.pop_screen()
        app.call_after_refresh(app.main_screen.resume_single)

    def _cut_short(self) -> None:
        for record in self.records:
            if record.complete is None:
                record.complete = False

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.tweetgen.report_worker(event)

    @work(thread=True, group="columns", exclusive=True, exit_on_error=False, name="columns")
    def _write(self, specs: list[tuple[int, Any, Path | None]], current: GeneratorSource | None, pace: float) -> None:
        """Write every column together: a character of each in turn, one seed for all."""
        from core.store.checkpoints import CheckpointError

        worker = get_current_worker()
        columns: list[tuple[int, tuple[GeneratorSource, Any]]] = []
        for sample_id, cfg, path in specs:
            if path is None or (current is not None and current.path is not None and policy.same_file(path, current.path)):
                source = current
            else:
                try:
                    source = load_source(path, self.tweetgen.label_for(path))
                except CheckpointError as exc:
                    self.post_message(m.ModelFailed(path, say(exc)))
                    source = None
            if worker.is_cancelled:
                return
            if source is None:
                self.post_message(m.SampleFinished(sample_id, complete=False))
                continue
            columns.append((sample_id, (source, cfg)))
        ids = [i for i, _ in columns]
        finished: set[int] = set()
        for row in stream_columns([c for _, c in columns], pace, lambda: worker.is_cancelled):
            for sample_id, chunk in zip(ids, row):
                if chunk is None:
                    continue
                self.post_message(m.SampleChunk(sample_id, chunk.text, chunk.probs))
                if chunk.last:
                    finished.add(sample_id)
                    self.post_message(m.SampleFinished(sample_id, complete=True, eos_prob=chunk.eos_prob))
        for sample_id in ids:
            if sample_id not in finished:
                self.post_message(m.SampleFinished(sample_id, complete=False))

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
        self._start()

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
