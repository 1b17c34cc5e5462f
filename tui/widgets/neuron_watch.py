"""The unit finder run for the app's checkpoints, one at a time, in a worker (the neuron view, key u).

:class:`NeuronWatch` is an invisible widget on the main screen: it outlives the neuron view (the
view comes and goes; the run's checkpoints are scored meanwhile), and owns the worker whose output
that view shows. What is known and what is queued is :class:`tui.services.neuron_reports.NeuronReports`
(``watch.book``); the work itself, :func:`core.neurons.finder.report_for_checkpoint` (cached beside each
checkpoint, so a checkpoint is scored once, ever), runs in the finder's own spawned process
(:mod:`tui.services.neuron_process`: one torch thread, a lowered CPU priority), so it never holds this
process' GIL: the worker thread here only waits for the answer. The process ends
``idle_close_s`` after its last job and starts again for the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState, get_current_worker

from tui.services.neuron_process import FinderGone, FinderProcess, Scored
from tui.services.neuron_reports import APP_HINT, IDLE_CLOSE_S, TEXT_POOL, NeuronReports


@dataclass
class ReportReady(Message):
    """The finder's report for ``path`` (from its cache, or computed)."""

    path: Path
    report: Any  # core.neurons.finder.NeuronReport
    texts: list[str] | None = None  # up to TEXT_POOL of its validation texts (None: not found)


@dataclass
class ReportFailed(Message):
    """No report for ``path``: ``error`` is one line (the corpus moved, a damaged checkpoint)."""

    path: Path
    error: str


class ReportsChanged(Message):
    """Posted to the screens that show reports (``shows_neuron_reports``): a report arrived or failed."""


class NeuronWatch(Widget):
    """Runs the finder for the checkpoints :attr:`book` queues, one worker at a time."""

    DEFAULT_CSS = "NeuronWatch { display: none; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.book = NeuronReports()
        self.finder: FinderProcess | None = None  # started with the first job, closed when idle
        self.idle_close_s = IDLE_CLOSE_S
        self._idle_timer: Any = None

    # ------------------------------------------------------------ what to score (NeuronReports, then run)

    def activate(self, shown: Path | None, run: Iterable[tuple[Path, int]]) -> None:
        """The view opened (see :meth:`NeuronReports.activate`)."""
        self.book.activate(shown, run)
        self._next()

    def checkpoints(self, run: Iterable[tuple[Path, int]], present: Iterable[Path] = ()) -> None:
        """The checkpoints listed now: ``run`` (path, step) are the run's (the new ones are queued once the view
        was opened); queued ones no longer ``present`` (deleted by retention) are dropped."""
        self.book.forget_missing(present)
        self.book.checkpoints(run)
        self._next()

    def want(self, path: Path, first: bool = False) -> None:
        self.book.want(path, first)
        self._next()

    # ------------------------------------------------------------ the worker

    def _next(self) -> None:
        if not self.is_attached or self.book.running is not None:
            return
        path = self.book.next_job()
        if path is None:
            if self.finder is not None and self._idle_timer is None:
                self._idle_timer = self.set_timer(self.idle_close_s, self._close_idle)
            return
        if self._idle_timer is not None:
            self._idle_timer.stop()
            self._idle_timer = None
        if self.finder is None:
            self.finder = FinderProcess(APP_HINT)
        self._find(path)

    def _close_idle(self) -> None:
        self._idle_timer = None
        if self.book.pending == 0 and self.finder is not None:
            finder, self.finder = self.finder, None
            finder.close()  # (a job later starts a new one: ~2 s to import torch there)

    def on_unmount(self) -> None:
        finder, self.finder = self.finder, None
        if finder is not None:
            finder.close()

    @work(thread=True, group="neurons", exit_on_error=False, name="unit finder")
    def _find(self, path: Path) -> None:
        """Waits for the finder's process (the work is there: this thread holds no GIL meanwhile)."""
        worker = get_current_worker()
        finder = self.finder
        if finder is None:
            return
        try:
            scored = finder.score(path, TEXT_POOL, lambda: worker.is_cancelled)
        except FinderGone as exc:
            scored = Scored(error=str(exc))
        if scored is None:
            return
        message: Message = ReportReady(path, scored.report, scored.texts) if scored.report is not None \
            else ReportFailed(path, scored.error or "the finder failed")
        if not worker.is_cancelled:
            try:
                self.post_message(message)
            except RuntimeError:  # the app has closed
                pass

    def on_report_ready(self, message: ReportReady) -> None:
        message.stop()
        self.book.scored(message.path, message.report, message.texts)
        self._done()

    def on_report_failed(self, message: ReportFailed) -> None:
        message.stop()
        self.book.failed(message.path, message.error)
        self._done()

    def _done(self) -> None:
        for screen in self.app.screen_stack:
            if getattr(screen, "shows_neuron_reports", False):
                screen.post_message(ReportsChanged())
        self._next()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A crash in the worker (not a one-line error from the finder): reported by the App's one handler,
        and recorded as that checkpoint's error, so the queue goes on."""
        report = getattr(self.app, "report_worker", None)
        if report is not None:
            report(event)
        running = self.book.running
        if event.state == WorkerState.ERROR and running is not None:
            error = event.worker.error
            self.book.failed(running, f"{type(error).__name__}: {error}" if error is not None else "the finder failed")
            self._done()
