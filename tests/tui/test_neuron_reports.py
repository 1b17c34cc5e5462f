"""The neuron view's bookkeeping (tui/services/neuron_reports.py), without Textual or a finder: what is queued
and in which order, one job at a time, checkpoints deleted by retention, and when a feature first got a tracker."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tui.services.neuron_reports import NeuronReports, first_trackers


@dataclass
class FakeUnit:
    unit: int
    tracker: bool


@dataclass
class FakeReport:
    step: int
    ranked: dict[str, list[FakeUnit]] = field(default_factory=dict)

    def trackers(self, feature: str) -> list[FakeUnit]:
        return [u for u in self.ranked.get(feature, []) if u.tracker]


def p(step: int) -> Path:
    return Path(f"/run/step-{step:08d}.pt")


def test_nothing_is_queued_until_the_view_opens_then_the_shown_checkpoint_goes_first() -> None:
    book = NeuronReports()
    book.checkpoints([(p(400), 400), (p(200), 200)])
    assert book.queue == [] and book.next_job() is None  # training wrote checkpoints: no cost until u
    book.activate(p(600), [(p(400), 400), (p(200), 200), (p(600), 600)])
    assert book.queue == [p(600), p(200), p(400)]  # the one shown, then the run's oldest first
    assert book.next_job() == p(600) and book.next_job() is None  # one job at a time
    assert book.pending == 3
    book.want(p(400), first=True)
    assert book.queue == [p(400), p(200)]
    book.want(p(600))  # running: not queued again
    assert book.queue == [p(400), p(200)]


def test_scored_and_failed_are_never_queued_again_and_deleted_ones_are_dropped() -> None:
    book = NeuronReports()
    book.activate(None, [(p(200), 200), (p(400), 400), (p(800), 800)])
    assert book.next_job() == p(200)
    book.scored(p(200), FakeReport(200), ["a text"])
    assert book.next_job() == p(400)
    book.failed(p(400), "records no training corpus; put it back")
    book.checkpoints([(p(200), 200), (p(400), 400), (p(800), 800)])  # listed again
    assert book.queue == [p(800)] and book.running is None
    book.forget_missing([p(200), p(400)])  # step 800 deleted by retention before its turn
    assert book.queue == [] and book.pending == 0
    assert book.texts[p(200)] == ["a text"] and book.errors[p(400)].startswith("records")


def test_first_trackers_by_step_whatever_the_order() -> None:
    early = FakeReport(600, {"url": [FakeUnit(41, True)], "quote": [FakeUnit(3, False)]})
    late = FakeReport(1200, {"url": [FakeUnit(17, True)], "quote": [FakeUnit(9, True)]})
    none = FakeReport(200, {"url": [FakeUnit(5, False)]})
    assert first_trackers([(1200, late), (200, none), (600, early)]) == {"url": (600, 41), "quote": (1200, 9)}
    book = NeuronReports()
    for path, report in ((p(1200), late), (p(600), early)):
        book.reports[path] = report
    assert book.first_trackers([p(600), p(1200), p(200)]) == {"url": (600, 41), "quote": (1200, 9)}
    assert book.first_trackers([p(1200)]) == {"url": (1200, 17), "quote": (1200, 9)}  # only the run's listed ones
