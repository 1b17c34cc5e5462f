"""core.train.process: training in a spawned process, driven through queues.

Every test starts a real child process (spawn: about a second of torch import), so
they are grouped to keep the count of processes small.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from corehelpers import TINY_TWEETS

from core.train.process import TrainingProcess, TrainJob, default_threads
from core.events import NoteEvent
from core.store.checkpoints import load_checkpoint
from core.store.registry import list_checkpoints
from core.events import CheckpointEvent, DoneEvent, EvalEvent, PauseEvent, StartEvent, StepEvent

TINY_MODEL = {"hidden_size": 16, "embed_dim": 8}
FAST = {"batch_size": 4, "warmup_steps": 2, "val_every": 0, "ckpt_every": 0, "log_interval_s": 0.0}
WAIT = 60.0  # generous: a child must import torch on a busy 2-core machine

pytestmark = pytest.mark.slow  # each test starts a process that imports torch (2-4 s)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(TINY_TWEETS) + "\n", encoding="utf-8")
    return path


def job(corpus: Path, run_dir: Path, **train: object) -> TrainJob:
    return TrainJob(corpus, run_dir, train={**FAST, **train}, model=TINY_MODEL, threads=1)


def next_of(proc: TrainingProcess, kind: type, timeout: float = WAIT) -> object:
    """Read events until one of ``kind`` arrives (fails on DoneEvent or timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = proc.get_event(timeout=0.5)
        if isinstance(event, kind):
            return event
        assert not isinstance(event, DoneEvent), f"run ended while waiting for {kind.__name__}: {event}"
    raise AssertionError(f"no {kind.__name__} within {timeout}s")


def rest(proc: TrainingProcess) -> list[object]:
    out = []
    while (event := proc.get_event(timeout=WAIT)) is not None:
        out.append(event)
    return out


def test_run_to_budget_reports_events_in_order_and_writes_checkpoints(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with TrainingProcess(job(corpus, run, max_steps=12, val_every=6, ckpt_every=6)) as proc:
        assert proc.state == "idle"
        proc.start()
        events = rest(proc)
        assert proc.wait(10) and proc.finished
    kinds = [type(e) for e in events]
    assert kinds[0] is NoteEvent and events[0].text.startswith("12 of ")
    assert kinds[1] is StartEvent and events[1].run_dir == run
    assert kinds.count(DoneEvent) == 1 and kinds[-1] is DoneEvent
    done = events[-1]
    assert done.reason == "finished" and done.step == 12 and done.last_checkpoint == run / "step-00000012.pt"
    assert [e.step for e in events if isinstance(e, CheckpointEvent)] == [6, 12]
    assert any(isinstance(e, EvalEvent) for e in events) and any(isinstance(e, StepEvent) for e in events)
    steps = [e.step for e in events]
    assert steps == sorted(steps), "events arrive in order"
    assert [i.step for i in list_checkpoints(run)] == [6, 12]
    assert proc.state == "idle" and proc.last_checkpoint == done.last_checkpoint
    assert proc.get_event(timeout=0.1) is None, "nothing after the DoneEvent"


def test_on_events_gets_every_event_in_order_from_the_pump_thread(corpus: Path, tmp_path: Path) -> None:
    """The UI's path: no reader polls get_event; the pump hands each batch over as it arrives, and
    an exception in the callback neither loses the DoneEvent nor stops the pump."""
    import threading

    batches: list[list[object]] = []
    threads: set[str] = set()

    def on_events(batch: list[object]) -> None:
        threads.add(threading.current_thread().name)
        batches.append(list(batch))
        if len(batches) == 2:
            raise ValueError("a faulty callback")

    run = tmp_path / "run"
    with TrainingProcess(job(corpus, run, max_steps=12, val_every=6, ckpt_every=6), on_events=on_events) as proc:
        proc.start()
        assert proc.wait(WAIT) and proc.finished
        with pytest.raises(RuntimeError, match="on_events"):
            proc.get_event(timeout=0)
    events = [e for batch in batches for e in batch]
    assert all(batches) and threads == {"tweetgen-train-events"}
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "finished"
    assert sum(isinstance(e, DoneEvent) for e in events) == 1
    assert [e.step for e in events if isinstance(e, CheckpointEvent)] == [6, 12]
    assert [e.step for e in events] == sorted(e.step for e in events)
    assert isinstance(proc.callback_error, ValueError)


def test_pause_save_resume_stop_from_the_parent(corpus: Path, tmp_path: Path) -> None:
    """Commands reach the trainer; stop() waits for the final checkpoint of the last completed step."""
    run = tmp_path / "run"
    proc = TrainingProcess(job(corpus, run, max_steps=1_000_000))
    proc.start()
    try:
        next_of(proc, StepEvent)
        assert proc.state == "running" and proc.pid is not None and proc.pid != os.getpid()
        proc.pause()
        paused = next_of(proc, PauseEvent)
        assert paused.paused and proc.state == "paused"
        proc.request_save()
        saved = next_of(proc, CheckpointEvent)
        assert saved.reason == "request" and saved.step == paused.step and saved.path.exists()
        assert proc.get_event(timeout=0.3) is None, "no steps while paused"
        proc.resume()
        resumed = next_of(proc, PauseEvent)
        assert not resumed.paused
        assert next_of(proc, StepEvent).step > paused.step
        done = proc.stop(timeout=WAIT)
    finally:
        proc.close()
    assert done is not None and done.reason == "stopped" and proc.finished
    assert done.last_checkpoint is not None and done.last_checkpoint.exists()
    assert load_checkpoint(done.last_checkpoint).step == done.step > paused.step
    tail = rest(proc)  # the events stop() waited for are still readable, in order
    assert isinstance(tail[-1], DoneEvent) and any(isinstance(e, CheckpointEvent) and e.reason == "stop" for e in tail)


def test_resume_trains_the_budget_again_from_the_checkpoint(corpus: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with TrainingProcess(job(corpus, run, max_steps=5)) as first:
        first.start()
        assert rest(first)[-1].step == 5
    resumed = TrainJob(corpus, run, resume_from=run, train={**FAST, "max_steps": 4}, model=TINY_MODEL, threads=1)
    with TrainingProcess(resumed) as second:
        second.start()
        events = rest(second)
    start = next(e for e in events if isinstance(e, StartEvent))
    assert start.step == 5 and start.resumed_from == run / "step-00000005.pt"
    assert events[-1].reason == "finished" and events[-1].step == 9


@pytest.mark.parametrize(
    ("make", "expect"),
    [
        (lambda d, c: TrainJob(d / "missing.csv", d / "run"), "missing.csv: no such file"),
        (lambda d, c: TrainJob(c, d / "run", resume_from=d / "bad.pt"), "bad.pt: not a tweetgen checkpoint"),
        (lambda d, c: TrainJob(c, d / "run", train={"batch_size": 0}), "batch size must be at least 1"),
    ],
    ids=["unreadable-corpus", "corrupt-checkpoint", "bad-setting"],
)
def test_failures_arrive_as_one_error_event(make, expect: str, corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 this is not a checkpoint")
    with TrainingProcess(make(tmp_path, corpus)) as proc:
        proc.start()
        events = rest(proc)
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "error"
    assert expect in done.message and "\n" not in done.message
    assert not (tmp_path / "run").exists() or not list_checkpoints(tmp_path / "run")


def test_divergence_is_reported_not_raised(corpus: Path, tmp_path: Path) -> None:
    bad = job(corpus, tmp_path / "run", max_steps=400, lr=50.0, warmup_steps=0, lr_schedule="constant", clip=1e6)
    with TrainingProcess(bad) as proc:
        proc.start()
        done = rest(proc)[-1]
    assert done.reason == "diverged" and "lower the learning rate" in done.message


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def _signal_while_training(corpus: Path, run_dir: Path, sig: int) -> tuple[DoneEvent, bool]:
    """Start a long run, send its child ``sig`` once it has stepped; the final event, and whether it exited."""
    with TrainingProcess(job(corpus, run_dir, max_steps=1_000_000)) as proc:
        proc.start()
        next_of(proc, StepEvent)
        assert proc.pid is not None
        os.kill(proc.pid, sig)
        done = rest(proc)[-1]
        return done, proc.wait(10)


def test_sigterm_in_the_child_is_a_clean_stop_with_a_checkpoint(corpus: Path, tmp_path: Path) -> None:
    done, _exited = _signal_while_training(corpus, tmp_path / "run", signal.SIGTERM)
    assert done.reason == "stopped" and done.last_checkpoint is not None
    assert load_checkpoint(done.last_checkpoint).step == done.step


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_child_killed_outright_still_ends_the_stream(corpus: Path, tmp_path: Path) -> None:
    done, exited = _signal_while_training(corpus, tmp_path / "run", signal.SIGKILL)
    assert exited
    assert done.reason == "error" and "exited unexpectedly" in done.message and "-9" in done.message


def test_child_output_goes_to_the_log_file_and_threads_leave_a_core(corpus: Path, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "train.log"
    spec = TrainJob(corpus, tmp_path / "run", train={**FAST, "max_steps": 2}, model=TINY_MODEL, log_path=log)
    log.parent.mkdir()
    log.write_text("an earlier session's line\n", encoding="utf-8")
    with TrainingProcess(spec) as proc:
        proc.start()
        assert rest(proc)[-1].reason == "finished"
    assert default_threads() == max(1, (os.cpu_count() or 1) - 1)
    stored = load_checkpoint(tmp_path / "run" / "step-00000002.pt").train_state["train_config"]
    assert stored["threads"] == default_threads()
    # A child that crashes prints its traceback: it must land in the log (appended), not on the terminal.
    # (A batch size of the wrong type is not validated, so it crashes the child with a TypeError.)
    broken = TrainJob(corpus, tmp_path / "crash", train={**FAST, "max_steps": 2, "batch_size": "four"}, model=TINY_MODEL,
                      log_path=log, threads=1)
    with TrainingProcess(broken) as proc:
        proc.start()
        done = rest(proc)[-1]
    assert done.reason == "error" and "training crashed" in done.message, done
    text = log.read_text(encoding="utf-8")
    assert text.startswith("an earlier session's line\n"), "the log is appended to, never truncated"
    assert "Traceback (most recent call last)" in text and "TypeError" in text, text[-2000:]


def test_commands_need_a_started_process(corpus: Path, tmp_path: Path) -> None:
    proc = TrainingProcess(job(corpus, tmp_path / "run"))
    with pytest.raises(RuntimeError, match="start"):
        proc.pause()
    with pytest.raises(RuntimeError, match="start"):
        proc.get_event(0)
    assert proc.stop() is None
    proc.close()


def test_close_is_idempotent_and_commands_after_it_are_ignored(corpus: Path, tmp_path: Path) -> None:
    proc = TrainingProcess(job(corpus, tmp_path / "run", max_steps=3))
    proc.start()
    assert rest(proc)[-1].reason == "finished"
    proc.close()
    proc.close()
    proc.pause()  # nothing to send to: no error
    assert proc.finished and proc.state == "idle"
