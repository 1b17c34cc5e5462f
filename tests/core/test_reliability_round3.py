"""Reliability, round 3 (issue 20), core half: a run lock that never follows a link nor truncates what it did
not create, temp-file clean-up that deletes only tweetgen's own, resumes that never replace a checkpoint of
another branch or run, and ``--check-novelty`` that knows whether the corpus is the one trained on.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from corehelpers import TINY_TWEETS

from core import registry, runlock
from core.background import TrainJob, build_trainer
from core.checkpoints import load_checkpoint
from core.cli import main

TINY = ["--hidden", "8", "--embed", "8", "--batch-size", "4", "--val-every", "0", "--quiet"]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "c.txt"
    path.write_text("\n".join(TINY_TWEETS * 2) + "\n", encoding="utf-8")
    return path


def _train(corpus: Path, out: Path, *extra: str) -> int:
    return main(["train", str(corpus), "--out", str(out), "--max-steps", "2", *TINY, *extra])


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.is_symlink()}


# ---------------------------------------------------------------- 1: the lock never follows a link


def test_a_lock_that_is_a_symlink_to_a_file_is_refused_and_the_target_is_intact(
        tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("IMPORTANT\n")
    run = tmp_path / "lk"
    run.mkdir()
    (run / runlock.LOCK_NAME).symlink_to(victim)
    assert _train(corpus, run) == 1
    line = _one_line(capsys)
    assert f"{run / runlock.LOCK_NAME}: is a symbolic link, not a run lock" in line, line
    assert victim.read_text() == "IMPORTANT\n"
    assert (run / runlock.LOCK_NAME).is_symlink() and not list(run.glob("*.pt"))
    with pytest.raises(runlock.RunDirError, match="symbolic link"):  # the app's training child too
        build_trainer(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
    assert victim.read_text() == "IMPORTANT\n"


def test_a_lock_linked_to_a_checkpoint_of_the_run_leaves_the_checkpoint_whole(
        tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert _train(corpus, run) == 0
    capsys.readouterr()
    before = _snapshot(run)
    (run / runlock.LOCK_NAME).symlink_to("step-00000002.pt")
    assert main(["train", str(corpus), "--resume", str(run), "--max-steps", "2", *TINY]) == 1
    assert "is a symbolic link" in _one_line(capsys)
    assert _snapshot(run) == before
    assert load_checkpoint(run / "step-00000002.pt").step == 2


@pytest.mark.parametrize("kind", ["dangling", "dir-link", "folder", "fifo", "socket", "hard-link", "foreign"])
def test_a_lock_path_that_is_not_a_lock_file_is_refused_in_one_line_and_left_alone(
        kind: str, tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    lock = run / runlock.LOCK_NAME
    other = tmp_path / "other.txt"
    other.write_text("precious")
    sock = None
    if kind == "dangling":
        lock.symlink_to(tmp_path / "nowhere")
    elif kind == "dir-link":
        (tmp_path / "d").mkdir()
        lock.symlink_to(tmp_path / "d")
    elif kind == "folder":
        lock.mkdir()
    elif kind == "fifo":
        os.mkfifo(lock)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(lock))
    elif kind == "hard-link":
        os.link(other, lock)
    else:  # a regular file that tweetgen did not write
        lock.write_text("precious")
    try:
        assert _train(corpus, run) == 1
        line = _one_line(capsys)
        assert f"{lock}: is " in line and "not a run lock" in line, line
    finally:
        if sock is not None:
            sock.close()
    assert other.read_text() == "precious"
    assert not (tmp_path / "nowhere").exists() and not list(run.glob("*.pt"))
    if kind == "foreign":
        assert lock.read_text() == "precious"
    if kind == "dir-link":
        assert not any((tmp_path / "d").iterdir())


def test_a_stale_lock_of_a_dead_process_is_replaced_not_rewritten(tmp_path: Path, corpus: Path) -> None:
    """A lock file left by a dead run (kill -9) gets a new inode: the old file is unlinked, never truncated."""
    run = tmp_path / "run"
    run.mkdir()
    lock = run / runlock.LOCK_NAME
    lock.write_text(json.dumps({"pid": 999999999, "host": "gone", "started": 1.0, "command": "tweetgen train"}))
    stale = lock.read_bytes()
    with open(lock, "rb") as old:  # the old inode, as the dead run left it
        held = runlock.acquire(run, fresh=True)
        try:
            assert os.pread(old.fileno(), 4096, 0) == stale, "the stale lock file was written to"
            assert json.loads(lock.read_text())["pid"] == os.getpid()
        finally:
            held.release()
    assert not lock.exists()
    assert _train(corpus, run) == 0


# ---------------------------------------------------------------- 9: only tweetgen's own temp files are removed


def test_a_new_run_removes_only_tweetgens_own_temp_files(tmp_path: Path, corpus: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    dead = 999999999  # no such process
    ours = [f".step-00000010.pt.{dead}.tmp", f".step-00000010.json.{dead}.tmp", f".write-test.{dead}.tmp"]
    theirs = [".notes.tmp", f".draft.{dead}.tmp", ".vimrc.swp.tmp", f".step-00000010.pt.{dead}.tmp.bak",
              f".mine.pt.{dead}.tmp"]
    for name in ours + theirs:
        (run / name).write_text("x")
    (tmp_path / "elsewhere").write_text("keep")
    (run / f".step-00000011.pt.{dead}.tmp").symlink_to(tmp_path / "elsewhere")  # named like ours, but a link
    assert _train(corpus, run) == 0
    left = {p.name for p in run.iterdir() if p.name.startswith(".")}
    assert not left & set(ours)
    assert set(theirs) <= left and f".step-00000011.pt.{dead}.tmp" in left
    assert (tmp_path / "elsewhere").read_text() == "keep"
