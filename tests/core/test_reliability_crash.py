"""Crash safety: SIGKILL at random moments never leaves a checkpoint that does not load.

The real ``tweetgen train`` runs as a subprocess on a tiny corpus with a tiny model and a
checkpoint every step (so a good share of its time is spent writing checkpoints), and is
killed with SIGKILL after seeded random delays, over and over, each time resuming the
run directory. After every kill: every ``.pt`` on disk loads, the registry lists exactly
the complete files, and the next resume starts from the newest complete checkpoint.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from corehelpers import TINY_TWEETS

from core.store import checkpoints

from core.store import registry
from core.store.checkpoints import CheckpointError, load_checkpoint
from core.store.registry import latest_checkpoint, list_checkpoints

KILLS = 22
SEED = 20240605



def _kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL (no chance to clean up, like a power cut) and reap the process."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

def _corpus(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(f"{t} {i}" for i in range(4) for t in TINY_TWEETS) + "\n", encoding="utf-8")
    return path


def _train_cmd(corpus: Path, run_dir: Path, resume: bool) -> list[str]:
    cmd = [sys.executable, "-m", "core.cli.main", "train", str(corpus), "--max-steps", "100000", "--hidden", "8", "--embed", "8",
           "--batch-size", "4", "--ckpt-every", "1", "--val-every", "5", "--keep-last", "4", "--keep-best", "1",
           "--threads", "1"]
    return cmd + (["--resume", str(run_dir)] if resume else ["--out", str(run_dir)])


class _Watcher:
    """Reads a child's stderr on a thread; notes the resume line and checkpoint lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.first_checkpoint = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if ": checkpoint " in line:
                self.first_checkpoint.set()

    def join(self) -> None:
        self._thread.join(timeout=10)

    def resumed_from(self) -> str | None:
        for line in self.lines:
            m = re.search(r"resuming from (\S+)$", line)
            if m:
                return m.group(1)
        return None


def _check_directory(run_dir: Path) -> tuple[int, int]:
    """Every .pt loads; the registry lists exactly them. Returns (checkpoints, temp files)."""
    files = sorted(p for p in run_dir.glob("*.pt"))
    for path in files:
        ckpt = load_checkpoint(path)  # raises CheckpointError for a half-written file
        assert path.name == checkpoints.checkpoint_name(ckpt.step)
    listed = [info.path for info in list_checkpoints(run_dir)]
    assert sorted(listed) == files, "the registry must list exactly the complete checkpoints"
    temps = list(run_dir.glob(f".*{checkpoints.TMP_SUFFIX}"))
    return len(files), len(temps)


def _wait_for_temp_file(run_dir: Path, timeout: float) -> bool:
    """Poll until a checkpoint write is in progress (its temp file exists).

    A write lasts a few milliseconds and one starts every step, so a poll every half millisecond
    finds one sooner or later; it sleeps between polls rather than spin, so that on a busy machine
    it does not take the CPU the writer needs. The timeout is generous: the wait is for the event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(e.name.endswith(checkpoints.TMP_SUFFIX) for e in os.scandir(run_dir)):
                return True
        except FileNotFoundError:
            pass
        time.sleep(0.0005)
    return False


def _kill_chain(corpus: Path, run_dir: Path, seed: int, cycles: int, stats: dict[str, int]) -> None:
    """Start, kill, check, resume, ``cycles`` times. Odd cycles aim at a checkpoint write in progress."""
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "10000"}  # no wrapping of long lines by rich
    for cycle in range(cycles):
        before = latest_checkpoint(run_dir)
        proc = subprocess.Popen(_train_cmd(corpus, run_dir, resume=before is not None), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=env)
        watcher = _Watcher(proc)
        try:
            assert watcher.first_checkpoint.wait(timeout=120), "\n".join(watcher.lines)
            if cycle % 2:
                assert _wait_for_temp_file(run_dir, timeout=120.0), "no checkpoint write seen in progress in 120 s"
                time.sleep(rng.uniform(0.0, 0.004))
                stats["aimed_at_write"] += 1
            else:
                time.sleep(rng.uniform(0.0, 0.35))
        finally:
            _kill(proc)
        watcher.join()
        assert proc.returncode == -signal.SIGKILL, (cycle, proc.returncode, watcher.lines[-3:])
        stats["kills"] += 1
        if before is not None:  # the run resumed from the newest complete checkpoint left by the previous kill
            assert watcher.resumed_from() == str(before.path), (before.path, watcher.lines[:3])
            stats["resumes"] += 1
        n_files, n_temps = _check_directory(run_dir)
        stats["temp_files_left"] += n_temps
        assert 1 <= n_files <= 4 + 1 + 1  # keep-last 4, keep-best 1, and one just written before its prune


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    """22 SIGKILLs of `tweetgen train` (two runs side by side, 11 each), after seeded random delays or
    the moment a checkpoint write is seen in progress; every file left loads and each resume continues."""
    corpus = _corpus(tmp_path)
    per_chain = [{"kills": 0, "resumes": 0, "temp_files_left": 0, "aimed_at_write": 0} for _ in range(2)]
    errors: list[BaseException] = []

    def chain(i: int) -> None:
        try:
            _kill_chain(corpus, tmp_path / f"run{i}", SEED + i, KILLS // 2, per_chain[i])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=chain, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    stats = {k: per_chain[0][k] + per_chain[1][k] for k in per_chain[0]}
    # A final, uninterrupted resume cleans up temp files and continues from the newest complete checkpoint.
    run_dir = tmp_path / "run0"
    last = latest_checkpoint(run_dir)
    assert last is not None
    env = {**os.environ, "COLUMNS": "10000"}
    proc = subprocess.run(_train_cmd(corpus, run_dir, resume=True) + ["--max-steps", "3"],  # 3 more steps
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"resuming from {last.path}" in proc.stderr
    assert Path(proc.stdout.strip()).name == checkpoints.checkpoint_name(last.step + 3)
    assert not list(run_dir.glob(f".*{checkpoints.TMP_SUFFIX}")), "temp files of interrupted writes are removed on resume"
    _check_directory(run_dir)
    print(f"\nSIGKILL stats: {stats}")
    assert stats["kills"] >= 20 and stats["resumes"] >= 18
    assert stats["aimed_at_write"] == 2 * (KILLS // 2 // 2), "every odd cycle's kill is aimed at a write in progress"


_WRITER = r"""
import sys, time
from pathlib import Path
from core.store.checkpoints import atomic_write
def write(fh):
    fh.write(b"PK" + b"x" * 100_000)
    fh.flush()
    print("mid-write", flush=True)
    time.sleep(60)
atomic_write(Path(sys.argv[1]), write)
"""


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_write_keeps_the_old_file(tmp_path: Path) -> None:
    """Deterministic variant: a process killed while it is writing over a checkpoint leaves the old one whole."""
    from corehelpers import tiny_trainer, run_all

    trainer = tiny_trainer(tmp_path / "run", max_steps=4)
    run_all(trainer)
    target = trainer.last_checkpoint
    assert target is not None
    original = target.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "mid-write"
        temps = list(target.parent.glob(f".*{checkpoints.TMP_SUFFIX}"))
        assert len(temps) == 1
        assert registry.remove_stale_temp_files(target.parent) == 0, "a live writer's temp file is not touched"
    finally:
        _kill(proc)
    assert target.read_bytes() == original
    assert load_checkpoint(target).step == 4
    assert [i.path for i in list_checkpoints(target.parent)] == [target], "the temp file is never listed"
    assert temps[0].exists()
    assert registry.remove_stale_temp_files(target.parent) == 1, "a dead writer's temp file is removed"
    assert not temps[0].exists()


def test_registry_skips_a_truncated_file_even_with_a_matching_sidecar(tmp_path: Path) -> None:
    """A checkpoint cut short after its sidecar was written (disk error, interrupted copy) is not listed."""
    from corehelpers import tiny_trainer, run_all

    trainer = tiny_trainer(tmp_path / "run", max_steps=4, ckpt_every=2)
    run_all(trainer)
    good, cut = sorted((tmp_path / "run").glob("*.pt"))
    sidecar = cut.with_suffix(".json")
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    os.utime(sidecar)  # the sidecar is newer than the damaged file, so only a content check can catch it
    assert [i.path for i in list_checkpoints(tmp_path / "run")] == [good]
    assert latest_checkpoint(tmp_path / "run").path == good  # type: ignore[union-attr]
    with pytest.raises(CheckpointError, match="not a tweetgen checkpoint"):
        load_checkpoint(cut)


def test_killed_mid_prune_or_before_sidecar_still_lists_only_complete_files(tmp_path: Path) -> None:
    """A kill between writing a .pt and its sidecar, or between deleting a .pt and its sidecar, confuses nothing."""
    from corehelpers import tiny_trainer, run_all

    trainer = tiny_trainer(tmp_path / "run", max_steps=6, ckpt_every=2)
    run_all(trainer)
    a, b, c = sorted((tmp_path / "run").glob("*.pt"))
    c.with_suffix(".json").unlink()  # killed before the sidecar was written
    a.unlink()  # killed after prune deleted the .pt but before its sidecar
    infos = list_checkpoints(tmp_path / "run")
    assert [i.path for i in infos] == [b, c]
    assert infos[-1].step == 6
    assert torch.equal(load_checkpoint(c).model_state["decoder.bias"], trainer.averaged_model().decoder.bias.detach())
