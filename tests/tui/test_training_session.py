"""The app's training state machine (tui/services/training_session.py), without Textual or a process."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from core.events import DoneEvent, PauseEvent, StartEvent
from tui.services.training_session import IDLE_HINT, TrainingSession

SERVICES = Path(__file__).resolve().parents[2] / "tui" / "services"


class FakeProcess:
    """Stands in for core.train.process.TrainingProcess: records what it was asked."""

    def __init__(self, finished: bool = False) -> None:
        self.stops = 0
        self.finished = finished
        self.asked: list[str] = []

    def request_stop(self) -> None:
        self.stops += 1

    def pause(self) -> None:
        self.asked.append("pause")

    def resume(self) -> None:
        self.asked.append("resume")

    def request_save(self) -> None:
        self.asked.append("save")

    def stop(self, timeout: float) -> None:
        self.asked.append(f"stop {timeout:g}")

    def close(self) -> None:
        self.asked.append("close")


def start_event(step: int = 0, resumed: bool = False) -> StartEvent:
    return StartEvent(step=step, run_dir=Path("run"), device="cpu", n_train=9, n_val=1, n_params=100,
                      total_steps=None, resumed_from=Path("run/step-1.pt") if resumed else None)


def done(reason: str, message: str = "stopped at step 7") -> DoneEvent:
    return DoneEvent(step=7, reason=reason, message=message, last_checkpoint=None)  # type: ignore[arg-type]


def session() -> tuple[TrainingSession, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    s = TrainingSession(word=lambda text: text.replace("--max-len", "--max-tweet-len"))
    s.on_change = lambda: seen.append((s.state, s.detail))
    return s, seen


def test_a_run_from_start_to_finish() -> None:
    s, seen = session()
    assert (s.state, s.detail) == ("idle", "loading…") and s.can("start") and not s.active
    s.ready()
    process = FakeProcess()
    s.launch(process)  # type: ignore[arg-type]
    assert s.state == "starting" and s.active and s.can("pause") and not s.can("save") and not s.can("start")
    assert not s.can("open"), "no other corpus while the process starts"
    s.started(start_event(step=30, resumed=True))
    assert (s.state, s.detail) == ("running", "training on cpu from step 30") and s.can("save")
    s.paused(PauseEvent(step=40, paused=True))
    assert (s.state, s.detail) == ("paused", "paused at step 40 · space to resume")
    assert s.can("resume") and not s.can("pause") and s.can("save")
    s.paused(PauseEvent(step=40, paused=False))
    assert (s.state, s.detail) == ("running", "training on cpu")
    assert s.finished(done("finished", "finished at step 50")) is process
    assert (s.state, s.detail) == ("idle", "finished at step 50 · space to train more")
    assert s.can("start") and not s.active
    assert [state for state, _ in seen] == ["idle", "starting", "running", "paused", "running", "idle"]
    assert seen[0] == ("idle", IDLE_HINT)


def test_stopping_ignores_a_late_pause_and_ends_idle() -> None:
    s, _ = session()
    process = FakeProcess()
    s.launch(process)  # type: ignore[arg-type]
    s.started(start_event())
    s.stop("saving a checkpoint before quitting…", quitting=True)
    assert process.stops == 1 and s.quitting and s.state == "stopping"
    assert not s.can("open") and not s.can("start") and not s.can("pause")
    s.paused(PauseEvent(step=3, paused=True))  # confirmed after the stop was asked: the stop stands
    assert (s.state, s.detail) == ("stopping", "saving a checkpoint before quitting…")
    s.finished(done("stopped"))
    assert s.state == "idle" and s.process is None


def test_a_start_event_after_a_stop_request_keeps_stopping() -> None:
    s, _ = session()
    s.launch(FakeProcess())  # type: ignore[arg-type]
    s.stop("saving a checkpoint, then opening x.csv…")
    s.started(start_event())
    assert s.state == "stopping" and s.detail == "training on cpu"


@pytest.mark.parametrize("reason", ["diverged", "error"])
def test_a_failed_run_shows_its_error_in_the_apps_words_and_can_train_again(reason: str) -> None:
    s, _ = session()
    s.launch(FakeProcess())  # type: ignore[arg-type]
    s.finished(done(reason, "loss diverged; try --max-len 9"))
    assert (s.state, s.detail) == ("error", "loss diverged; try --max-tweet-len 9")
    assert s.can("start") and s.can("open")
    s.ready()  # a failure shown stays shown
    assert s.state == "error"
    s.launch(FakeProcess())  # type: ignore[arg-type]
    assert s.state == "starting"


def test_a_corpus_that_failed_is_shown_and_a_second_launch_is_refused() -> None:
    s, _ = session()
    s.corpus_failed("nope.csv: no such file")
    assert (s.state, s.detail) == ("error", "corpus: nope.csv: no such file")
    s.opening()
    assert (s.state, s.detail) == ("idle", "opening the new run…")
    s.launch(FakeProcess())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="already starting"):
        s.launch(FakeProcess())  # type: ignore[arg-type]


def test_stop_without_a_process_changes_nothing_and_detach_hands_it_over() -> None:
    s, seen = session()
    s.stop("saving…", quitting=True)
    assert s.state == "idle" and not s.quitting and not seen
    process = FakeProcess()
    s.launch(process)  # type: ignore[arg-type]
    assert s.detach() is process and s.process is None and not s.active


def test_requests_reach_the_process_and_leave_the_state_to_its_events() -> None:
    s, seen = session()
    assert not s.request_save(), "nothing trains: nothing to save"
    s.pause()
    s.resume()  # no process: nothing to ask
    process = FakeProcess()
    s.launch(process)  # type: ignore[arg-type]
    changes = len(seen)
    s.pause()
    s.resume()
    assert s.request_save()
    assert process.asked == ["pause", "resume", "save"] and len(seen) == changes and s.state == "starting"


@pytest.mark.parametrize("finished, asked", [(False, ["stop 7", "close"]), (True, ["close"])])
def test_shutdown_stops_a_running_process_and_closes_it(finished: bool, asked: list[str]) -> None:
    s, _ = session()
    process = FakeProcess(finished)
    s.launch(process)  # type: ignore[arg-type]
    s.shutdown(7.0)
    assert process.asked == asked and not s.active
    s.shutdown(7.0)  # twice (unmount, then main's finally): the process is closed once
    assert process.asked == asked


def test_services_never_import_textual() -> None:
    """tui/services is the app's Textual-free half: no module there imports textual, directly."""
    for path in sorted(SERVICES.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n == "textual" or n.startswith("textual.") for n in names), f"{path.name} imports {names}"


def test_services_load_without_textual_in_a_fresh_interpreter() -> None:
    """... nor through what they import: loading them leaves textual out of sys.modules."""
    import subprocess

    code = ("import sys, tui.services.training_session, tui.services.generation_stream, tui.services.sample_book; "
            "sys.exit(1 if any(m == 'textual' or m.startswith('textual.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=SERVICES.parents[1], timeout=120).returncode == 0
