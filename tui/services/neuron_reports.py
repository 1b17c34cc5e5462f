"""The unit finder's reports for the app's checkpoints, and what is still to score (the neuron view, key u).

No Textual here: :class:`NeuronReports` is the bookkeeping that :class:`tui.widgets.neuron_watch.NeuronWatch`
(the widget that runs the finder in a worker) and :class:`tui.screens.neurons.NeuronScreen` (the view)
share. It holds one :class:`core.neurons.finder.NeuronReport` per checkpoint (or the one-line reason
there is none), a queue of checkpoints to score, and says when a feature first got a tracker across
the run's checkpoints ("inside URL: unit 41 from step 600").

It queues nothing until the view has been opened (:meth:`NeuronReports.activate`): until then a
checkpoint written by training costs nothing. From then on every checkpoint the run writes is
queued; the one the view shows goes first.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

IDLE_CLOSE_S = 30.0  # the finder's process (~370 MB resident with torch, 490 MB at its peak) ends this long after its last job
TEXT_POOL = 300  # validation texts kept per checkpoint, for the view's "where the unit fires most"
APP_HINT = "put the corpus back where it trained, or beside the checkpoint"  # ends the one-line error


def first_trackers(reports: Iterable[tuple[int, Any]]) -> dict[str, tuple[int, int]]:
    """For each feature, (step, unit) of the first checkpoint (by step) whose report has a tracker for it,
    with that report's best tracker. ``reports``: (step, NeuronReport) pairs in any order."""
    first: dict[str, tuple[int, int]] = {}
    for step, report in sorted(reports, key=lambda sr: sr[0]):
        for feature in report.ranked:
            if feature in first:
                continue
            trackers = report.trackers(feature)
            if trackers:
                first[feature] = (step, trackers[0].unit)
    return first


class NeuronReports:
    """Reports by checkpoint path, and a queue of checkpoints to score, one at a time."""

    def __init__(self) -> None:
        self.active = False  # the view was opened: score the run's checkpoints as they come
        self.reports: dict[Path, Any] = {}  # NeuronReport by checkpoint path
        self.errors: dict[Path, str] = {}
        self.steps: dict[Path, int] = {}  # the step of each checkpoint known (the run's, and any shown)
        self.queue: list[Path] = []
        self.running: Path | None = None
        self.texts: dict[Path, list[str] | None] = {}  # up to TEXT_POOL validation texts by checkpoint path
        self.selection: tuple[str, dict[str, int]] | None = None  # the view's feature and unit picks, kept between opens

    # ------------------------------------------------------------ what to score

    def activate(self, shown: Path | None, run: Iterable[tuple[Path, int]]) -> None:
        """The view opened on checkpoint ``shown`` (None: an untrained model); ``run``: (path, step) of the
        run's checkpoints. ``shown`` is scored first, then the run's, oldest first."""
        self.active = True
        self.checkpoints(run)
        if shown is not None:
            self.want(shown, first=True)

    def checkpoints(self, run: Iterable[tuple[Path, int]]) -> None:
        """The run's checkpoints as listed now: the new ones are queued (when active)."""
        for path, step in sorted(run, key=lambda ps: ps[1]):
            self.steps[path] = step
            if self.active:
                self.want(path)

    def want(self, path: Path, first: bool = False) -> None:
        """Queue ``path`` unless it is scored, failed or queued already (``first``: to the front)."""
        if path in self.reports or path in self.errors or path == self.running:
            return
        if path in self.queue:
            if not first:
                return
            self.queue.remove(path)
        if first:
            self.queue.insert(0, path)
        else:
            self.queue.append(path)

    def forget_missing(self, present: Iterable[Path]) -> None:
        """Drop the queued checkpoints that are no longer listed (deleted by retention)."""
        keep = set(present)
        self.queue = [p for p in self.queue if p in keep]

    @property
    def pending(self) -> int:
        return len(self.queue) + (self.running is not None)

    # ------------------------------------------------------------ one job at a time

    def next_job(self) -> Path | None:
        """The checkpoint to score now (it is then ``running``), or None: one is running, or none is queued."""
        if self.running is not None or not self.queue:
            return None
        self.running = self.queue.pop(0)
        return self.running

    def scored(self, path: Path, report: Any, texts: list[str] | None) -> None:
        """``path``'s report arrived (with up to TEXT_POOL of its validation texts; None: not found)."""
        self.reports[path] = report
        self.texts[path] = texts
        self.steps.setdefault(path, report.step)
        self._done(path)

    def failed(self, path: Path, error: str) -> None:
        """No report for ``path``: ``error`` is one line (the corpus moved, a damaged checkpoint, a crash)."""
        self.errors[path] = error
        self._done(path)

    def _done(self, path: Path) -> None:
        if self.running == path:
            self.running = None

    # ------------------------------------------------------------ across training

    def first_trackers(self, run: Iterable[Path]) -> dict[str, tuple[int, int]]:
        """:func:`first_trackers` over the reports of the checkpoints ``run`` (the run's, listed)."""
        return first_trackers((self.reports[p].step, self.reports[p]) for p in run if p in self.reports)
