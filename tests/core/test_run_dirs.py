"""One run per folder, and a run folder that is safe to share: a second training process is refused naming the owner,
an unwritable or impossible --out is found before the first step, the run lock never follows a link nor truncates
what it did not create, only tweetgen's own temp files are removed, and a resume never replaces a checkpoint of
another branch or run (issues 12 and 20).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from corehelpers import REPO, TINY_CLI, one_error_line, train_tiny

from core.cli.flags import EXIT_USAGE
from core.cli.main import main
from core.store import checkpoints, registry, runlock
from core.store.checkpoints import CheckpointError, load_checkpoint
from core.store.registry import list_checkpoints
from core.train.process import TrainJob, prepare_job

TINY = TINY_CLI
_train, _one_line = train_tiny, one_error_line


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.is_symlink()}


# ---------------------------------------------------------------- one run per folder


_HOLDER = """
import sys
from core.store import runlock
lock = runlock.acquire(sys.argv[1], fresh=True)
print("locked", flush=True)
sys.stdin.read()
"""


def _hold_lock_in_another_process(run: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_training_process_is_refused_naming_the_owner_and_a_dead_owner_does_not_block(
        tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    holder = _hold_lock_in_another_process(run)
    try:
        # the CLI
        assert _train(corpus, run) == 1
        line = _one_line(capsys)
        assert f"{run}: in use by another training run, pid {holder.pid} " in line and "--out" in line, line
        # the app's training child builds its trainer with the same check
        with pytest.raises(runlock.RunDirError, match=f"pid {holder.pid} "):
            prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
        assert not list(run.glob("*.pt")), "the refused runs wrote nothing"
    finally:
        holder.kill()  # like kill -9: the lock file stays behind, the kernel lock does not
        holder.wait()
    assert (run / runlock.LOCK_NAME).exists()
    assert _train(corpus, run) == 0, "a lock left by a dead process must not block"
    assert not (run / runlock.LOCK_NAME).exists()


def test_the_lock_is_held_for_the_run_and_released_after(tmp_path: Path, corpus: Path) -> None:
    """Within one process too: a second acquire fails while the first is held (flock is per open file)."""
    run = tmp_path / "run"
    prepared = prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
    with pytest.raises(runlock.RunDirError, match=f"pid {os.getpid()} "):
        runlock.acquire(run, fresh=False)
    prepared.release()
    runlock.acquire(run, fresh=False).release()


def test_a_fresh_run_in_a_folder_with_checkpoints_is_refused_unless_resumed(
        tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    first = ["train", str(corpus), "--home", str(home), "--run", "mine", "--max-steps", "2", *TINY]
    assert main(first) == 0
    capsys.readouterr()
    run = registry.runs_dir(home) / "mine"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for argv in (first, ["train", str(corpus), "--out", str(run), "--max-steps", "4", *TINY]):
        assert main(argv) == 1
        line = _one_line(capsys)
        assert f"{run}: already holds 1 checkpoint(s)" in line and f"--resume {run}" in line, line
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before, "nothing of the first run was touched"
    with pytest.raises(runlock.RunDirError, match="already holds"):  # the app's child, asked for a fresh run there
        prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
    assert main(["train", str(corpus), "--resume", str(run), "--max-steps", "2", "--quiet"]) == 0  # 2 more
    assert [i.step for i in list_checkpoints(run)] == [2, 4]


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".", "", "  ", "/abs", "a\\b", "x/../../y"])
def test_run_names_that_are_paths_are_refused(name: str, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", str(corpus), "--home", str(tmp_path / "home"), "--run", name, "--max-steps", "2", *TINY])
    assert exc.value.code == EXIT_USAGE
    assert "argument --run" in _one_line(capsys)
    assert not (tmp_path / "home").exists() and not (tmp_path / "escape").exists()


# ---------------------------------------------------------------- unwritable --out, found before the first step


def _no_training_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.train.trainer import Trainer

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("a training step ran before the output folder was checked")

    monkeypatch.setattr(Trainer, "train_step", refuse)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_an_unwritable_out_is_reported_before_the_first_step(code: int, tmp_path: Path, corpus: Path,
                                                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Simulated with the errno the kernel gives (tests may run as root, where chmod does not stop writes)."""
    run = tmp_path / "run"
    real_open = open

    def fake_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode and Path(path).parent == run:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "open", fake_open, raising=False)
    _no_training_steps(monkeypatch)
    assert _train(corpus, run) == 1
    line = _one_line(capsys)
    assert line.startswith(f"tweetgen train: error: {run}: cannot write checkpoints here ({os.strerror(code)})"), line
    assert "--out" in line
    with pytest.raises(CheckpointError, match="cannot write checkpoints here"):  # the app's child
        prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))


def test_an_out_below_a_file_is_reported_before_the_first_step(tmp_path: Path, corpus: Path,
                                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _no_training_steps(monkeypatch)
    assert _train(corpus, corpus / "run") == 1
    line = _one_line(capsys)
    assert f"{corpus / 'run'}: cannot write checkpoints here" in line and "a file is in the way" in line, line


# ---------------------------------------------------------------- the lock never follows a link


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
        prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
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


# ---------------------------------------------------------------- only tweetgen's own temp files are removed


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


# ---------------------------------------------------------------- a resume never replaces another branch's or run's checkpoints


@pytest.fixture
def sixty(tmp_path: Path, corpus: Path) -> Path:
    """A run with checkpoints at steps 10, 20, ..., 60."""
    run = tmp_path / "run"
    assert main(["train", str(corpus), "--out", str(run), "--max-steps", "60", "--ckpt-every", "10", *TINY]) == 0
    assert [i.step for i in registry.list_checkpoints(run)] == [10, 20, 30, 40, 50, 60]
    return run


def test_resuming_an_older_checkpoint_in_its_own_run_is_refused_and_replaces_nothing(
        sixty: Path, tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    before = _snapshot(sixty)
    old = sixty / "step-00000030.pt"
    for where in ([], ["--out", str(sixty)]):
        assert main(["train", str(corpus), "--resume", str(old), "--max-steps", "20", "--ckpt-every", "10", *where, *TINY]) == 1
        line = _one_line(capsys)
        assert f"{old}: is not the newest checkpoint of {sixty} (it has steps up to 60)" in line, line
        assert f"--resume {sixty}" in line and "--out" in line, line
        assert _snapshot(sixty) == before, "nothing saved was replaced"
    # the way the line offers: a branch into a new folder
    branch = tmp_path / "branch"
    assert main(["train", str(corpus), "--resume", str(old), "--out", str(branch), "--max-steps", "20",
                 "--ckpt-every", "10", *TINY]) == 0
    assert [i.step for i in registry.list_checkpoints(branch)] == [40, 50]
    assert _snapshot(sixty) == before
    # and the run itself still continues from its newest
    assert main(["train", str(corpus), "--resume", str(sixty), "--max-steps", "10", *TINY]) == 0
    assert load_checkpoint(sixty / "step-00000070.pt").train_state["step"] == 70
    assert {k: v for k, v in _snapshot(sixty).items() if k in before} == before


def test_resuming_into_a_folder_of_another_run_is_refused_in_both_front_ends(
        sixty: Path, tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    assert _train(corpus, other) == 0
    capsys.readouterr()
    before = _snapshot(other)
    newest = sixty / "step-00000060.pt"
    for resume in (newest, sixty):  # a file, or a run directory (its newest)
        assert main(["train", str(corpus), "--resume", str(resume), "--out", str(other), "--max-steps", "5", *TINY]) == 1
        line = _one_line(capsys)
        assert f"{other}: already holds 1 checkpoint(s) of another run" in line and f"--resume {other}" in line, line
        assert _snapshot(other) == before
    with pytest.raises(runlock.RunDirError, match="of another run"):
        prepare_job(TrainJob(corpus, other, resume_from=newest, train={"max_steps": 2}, threads=1))
    assert _snapshot(other) == before


def test_resume_with_run_branches_into_that_named_run(sixty: Path, tmp_path: Path, corpus: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """``--run NAME`` with ``--resume`` names the branch's folder (it used to be ignored: the steps went into the old run)."""
    home = tmp_path / "home"
    before = _snapshot(sixty)
    argv = ["train", str(corpus), "--resume", str(sixty / "step-00000030.pt"), "--home", str(home), "--run", "fork",
            "--max-steps", "5", *TINY]
    assert main(argv) == 0
    assert [i.step for i in registry.list_checkpoints(registry.runs_dir(home) / "fork")] == [35]
    assert _snapshot(sixty) == before
    capsys.readouterr()
    assert main(argv) == 1, "a second branch into the same name would replace the first"
    assert "of another run" in _one_line(capsys)
