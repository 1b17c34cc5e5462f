"""Clean stop: SIGINT/SIGTERM during `tweetgen train` save the current step and exit 0.

The app's `q` is covered in tests/tui/test_app_reliability.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from corehelpers import TINY_TWEETS, run_all, tiny_trainer

from core.store.checkpoints import load_checkpoint

from core.store.registry import list_checkpoints
from core.events import CheckpointEvent, DoneEvent, StepEvent


def _start_training(tmp_path: Path) -> tuple[subprocess.Popen[str], list[str], threading.Event, Path, threading.Thread]:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(TINY_TWEETS * 2) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "core.cli.main", "train", str(corpus), "--out", str(out), "--max-steps", "100000",
           "--hidden", "8", "--embed", "8", "--batch-size", "4", "--val-every", "3", "--ckpt-every", "0", "--threads", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "10000"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            m = re.match(r"step (\d+): val", line)
            if m and int(m.group(1)) >= 9:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, lines, ready, out, reader


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_the_current_step_and_exits_0(tmp_path: Path, sig: signal.Signals) -> None:
    """Sent mid-run (twice, as an impatient user would), the signal ends in a 'stop' checkpoint at or past every reported step."""
    proc, lines, ready, out, reader = _start_training(tmp_path)
    try:
        assert ready.wait(timeout=120), lines
        proc.send_signal(sig)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)  # stderr is read by that thread only
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    assert proc.returncode == 0, lines
    assert "Traceback" not in "\n".join(lines)
    last_reported = max(int(m.group(1)) for line in lines if (m := re.match(r"step (\d+): val", line)))
    saved = Path(stdout.strip())
    ckpt = load_checkpoint(saved)
    assert ckpt.step >= last_reported, "a completed step was lost"
    assert any(f"stopped at step {ckpt.step}; checkpoint saved" in line for line in lines), lines[-3:]
    infos = list_checkpoints(out)
    assert [i.path for i in infos] == [saved], "with --ckpt-every 0 the stop checkpoint is the only one"
    assert infos[0].tags == ["stop"]


def test_stop_between_steps_saves_exactly_the_last_completed_step(tmp_path: Path) -> None:
    """stop() (what the signal handler calls) after step 7 completes gives a checkpoint of step 7, not 6 or 8."""
    trainer = tiny_trainer(tmp_path / "run", max_steps=1000, log_interval_s=0.0)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, StepEvent) and event.step == 7:
            trainer.stop()
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "stopped"
    saves = [e for e in events if isinstance(e, CheckpointEvent)]
    assert [(e.step, e.reason) for e in saves] == [(7, "stop")]
    assert load_checkpoint(saves[0].path).step == 7


def test_stop_while_paused_still_saves(tmp_path: Path) -> None:
    """A stop that arrives while training is paused saves the step reached before the pause."""
    trainer = tiny_trainer(tmp_path / "run", max_steps=1000, log_interval_s=0.0)
    for event in trainer.run():
        if isinstance(event, StepEvent) and event.step == 4:
            trainer.pause()
            threading.Timer(0.2, trainer.stop).start()
        if isinstance(event, DoneEvent):
            assert event.reason == "stopped" and event.last_checkpoint is not None
            assert load_checkpoint(event.last_checkpoint).step == 4


def test_stop_at_a_step_that_already_has_a_checkpoint_rewrites_it_whole(tmp_path: Path) -> None:
    """Stopping right after a periodic checkpoint writes the 'stop' one over it atomically; it still loads."""
    trainer = tiny_trainer(tmp_path / "run", max_steps=1000, ckpt_every=5, log_interval_s=0.0)
    for event in trainer.run():
        if isinstance(event, CheckpointEvent) and event.reason == "periodic" and event.step == 10:
            trainer.stop()
    infos = list_checkpoints(tmp_path / "run")
    assert [i.step for i in infos] == [5, 10]
    assert infos[-1].tags == ["stop"]
    assert load_checkpoint(infos[-1].path).step == 10
    run_all(tiny_trainer(tmp_path / "run", max_steps=12, resume_from=load_checkpoint(infos[-1].path)))
    assert [i.step for i in list_checkpoints(tmp_path / "run")] == [5, 10, 12]
