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
from corehelpers import TINY_CLI, one_error_line, tiny_corpus_file, train_tiny, TINY_TWEETS

from core.store import registry, runlock
from core.train.process import TrainJob, prepare_job
from core.store.checkpoints import load_checkpoint
from core.cli.main import main

TINY = TINY_CLI
_train, _one_line = train_tiny, one_error_line


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return tiny_corpus_file(tmp_path)


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


# ---------------------------------------------------------------- 3: a resume never replaces another branch's or run's checkpoints


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


# ---------------------------------------------------------------- 7: --check-novelty knows the corpus it trained on


@pytest.fixture
def novelty_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """A run trained from its own folder on ``tweets.txt`` given by a relative path."""
    here = tmp_path / "here"
    here.mkdir()
    (here / "tweets.txt").write_text("\n".join(TINY_TWEETS * 2) + "\n", encoding="utf-8")
    monkeypatch.chdir(here)
    assert main(["train", "tweets.txt", "--out", str(tmp_path / "run"), "--max-steps", "2", *TINY]) == 0
    capsys.readouterr()
    return here / "tweets.txt", tmp_path / "run" / "step-00000002.pt"


def _novelty(ckpt: Path) -> list[str]:
    return ["sample", str(ckpt), "-n", "1", "--seed", "1", "--check-novelty"]


def test_the_corpus_is_recorded_by_absolute_path_and_fingerprint(novelty_run: tuple[Path, Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    corpus, ckpt = novelty_run
    ts = load_checkpoint(ckpt).train_state
    assert ts["data_path"] == str(corpus) and ts["data_paths"] == [str(corpus)]
    assert ts["data_files"][0]["size"] == corpus.stat().st_size and len(ts["data_files"][0]["sha256"]) == 32
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # run from another folder: the recorded file is still found
    assert main(_novelty(ckpt)) == 0
    assert "of 1 texts copy" in capsys.readouterr().err
    (elsewhere / "tweets.txt").write_text("something else entirely\n")  # a different file of that name here
    assert main(_novelty(ckpt)) == 0  # is not used: the recorded path is absolute
    assert "of 1 texts copy" in capsys.readouterr().err


@pytest.mark.parametrize("change", ["replaced", "same-size", "appended"])
def test_a_changed_corpus_is_named_in_one_line(change: str, novelty_run: tuple[Path, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    corpus, ckpt = novelty_run
    data = corpus.read_bytes()
    if change == "replaced":
        corpus.write_text("an entirely different corpus\nof two lines\n")
    elif change == "same-size":
        corpus.write_bytes(data.replace(b"the", b"THE"))
    else:
        corpus.write_bytes(data + b"one more tweet\n")
    assert main(_novelty(ckpt)) == 1
    line = _one_line(capsys)
    assert f"{corpus} is not the corpus this checkpoint trained on" in line, line
    assert f"--check-novelty {corpus}" in line
    if change == "same-size":
        assert "same size, different content" in line
    else:
        assert f"{len(data):,} bytes when trained on" in line
    assert main([*_novelty(ckpt), str(corpus)]) == 0, "given explicitly, it is used"


def test_a_moved_corpus_is_named_in_one_line_and_found_beside_the_checkpoint(
        novelty_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    corpus, ckpt = novelty_run
    beside = ckpt.parent / corpus.name
    corpus.rename(beside.with_suffix(".moved"))
    assert main(_novelty(ckpt)) == 1
    line = _one_line(capsys)
    assert f"its training corpus {corpus} is not there any more (moved or deleted)" in line and "--check-novelty DATA" in line
    beside.with_suffix(".moved").rename(beside)  # beside the checkpoint, the same bytes: used
    assert main(_novelty(ckpt)) == 0
    capsys.readouterr()
    beside.write_text("not the same\n")
    assert main(_novelty(ckpt)) == 1
    assert "is not there any more" in _one_line(capsys)


def test_old_checkpoints_with_relative_paths_and_no_fingerprint_still_work(
        novelty_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    corpus, ckpt = novelty_run
    payload = torch.load(ckpt, weights_only=True)
    for key in ("data_files",):
        payload["train_state"].pop(key)
    payload["train_state"]["data_path"] = "tweets.txt"
    payload["train_state"]["data_paths"] = ["tweets.txt"]
    old = tmp_path / "old" / "step-00000002.pt"
    old.parent.mkdir()
    torch.save(payload, old)
    assert main(_novelty(old)) == 0  # relative to the folder it trained in (the cwd here)
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(_novelty(old)) == 1
    assert "tweets.txt is not there any more" in _one_line(capsys)
    (old.parent / "tweets.txt").write_bytes(corpus.read_bytes())  # beside the checkpoint, as the demo ships
    assert main(_novelty(old)) == 0
