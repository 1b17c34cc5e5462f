"""Disk faults: a full disk, a read-only or missing directory give a clear error and keep earlier checkpoints intact.

A full disk is simulated: the file object checkpoints are written through raises
``OSError(ENOSPC)`` after a number of bytes, exactly as a real full disk would in the
middle of a write. Tests run as root in CI, where chmod does not stop writes; the
read-only directory is then simulated the same way (EACCES / EROFS from ``open``).
"""

from __future__ import annotations

import builtins
import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from corehelpers import TINY_CLI, TINY_TWEETS, one_error_line, run_all, tiny_corpus_file, tiny_trainer, unwritable_prefix

from core.store import checkpoints
from core.store.checkpoints import CheckpointError, load_checkpoint
from core.store.registry import list_checkpoints
from core.cli.main import main
from core.events import CheckpointEvent

_real_open = builtins.open


class _FullDisk:
    """A writable file that accepts ``room`` bytes and then fails with ENOSPC."""

    def __init__(self, fh: Any, room: int) -> None:
        self._fh, self._room = fh, room

    def write(self, data: Any) -> int:
        n = len(memoryview(data).cast("B"))
        if n > self._room:
            self._fh.write(memoryview(data).cast("B")[: self._room])  # a partial write, then the error
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= n
        return self._fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


def _disk_fills_up(monkeypatch: pytest.MonkeyPatch, *, after_writes: int, room: int, suffix: str = ".pt") -> None:
    """From the ``after_writes``-th checkpoint write on (counting files ending in ``suffix``), the disk is full."""
    seen = {"n": 0}

    def fake_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = _real_open(path, mode, *args, **kwargs)
        if "w" in mode and str(path).endswith(checkpoints.TMP_SUFFIX) and f"{suffix}." in Path(path).name:
            seen["n"] += 1
            if seen["n"] >= after_writes:
                return _FullDisk(fh, room)
        return fh

    monkeypatch.setattr(checkpoints, "open", fake_open, raising=False)


def _snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def _no_temp_files(run: Path) -> bool:
    return not list(run.glob(f".*{checkpoints.TMP_SUFFIX}"))


@pytest.mark.parametrize("room", [0, 1000, 20_000], ids=["nothing-fits", "cut-early", "cut-late"])
def test_disk_full_mid_checkpoint_keeps_the_previous_one(room: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The third checkpoint hits a full disk part-way: a clear CheckpointError; checkpoints 1 and 2 untouched; no temp file."""
    run = tmp_path / "run"
    trainer = tiny_trainer(run, max_steps=20, ckpt_every=2)
    _disk_fills_up(monkeypatch, after_writes=3, room=room)
    events = []
    with pytest.raises(CheckpointError) as err:
        for event in trainer.run():
            events.append(event)
            if isinstance(event, CheckpointEvent) and event.step == 4:
                before = _snapshot(run)
    message = str(err.value)
    assert message.startswith(str(run / "step-00000006.pt")) and "No space left on device" in message, message
    assert "free some space" in message and "\n" not in message
    assert _snapshot(run) == before
    assert _no_temp_files(run)
    assert [i.step for i in list_checkpoints(run)] == [2, 4]
    assert load_checkpoint(run / "step-00000004.pt").step == 4
    assert trainer.last_checkpoint == run / "step-00000004.pt"


def test_disk_full_while_writing_the_sidecar_leaves_a_complete_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The .pt is already in place when the .json fails: the .pt loads and is listed, the sidecar temp is gone."""
    run = tmp_path / "run"
    _disk_fills_up(monkeypatch, after_writes=1, room=10, suffix=".json")
    with pytest.raises(CheckpointError, match="No space left on device"):
        run_all(tiny_trainer(run, max_steps=2, ckpt_every=2))
    assert _no_temp_files(run)
    assert not (run / "step-00000002.json").exists()
    assert load_checkpoint(run / "step-00000002.pt").step == 2
    assert [i.step for i in list_checkpoints(run)] == [2]


def test_cli_disk_full_is_one_line_and_keeps_earlier_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TINY_TWEETS * 2))
    run = tmp_path / "run"
    _disk_fills_up(monkeypatch, after_writes=3, room=5000)
    code = main(["train", str(corpus), "--out", str(run), "--max-steps", "30", "--ckpt-every", "3", "--hidden", "8",
                 "--embed", "8", "--val-every", "0", "--quiet"])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and len(err) == 1, err
    assert err[0].startswith(f"tweetgen train: error: {run / 'step-00000009.pt'}: cannot write checkpoint (No space left on device)")
    assert [i.step for i in list_checkpoints(run)] == [3, 6] and _no_temp_files(run)


def _deny_writes_in(monkeypatch: pytest.MonkeyPatch, directory: Path, code: int) -> None:
    def fake_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode and Path(path).parent == directory:
            raise OSError(code, os.strerror(code), str(path))
        return _real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "open", fake_open, raising=False)


def _trained_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """A run of 2 steps trained by the CLI on a tiny corpus: (its folder, the corpus)."""
    run = tmp_path / "run"
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TINY_TWEETS * 2))
    assert main(["train", str(corpus), "--out", str(run), "--max-steps", "2", "--hidden", "8", "--embed", "8", "--quiet"]) == 0
    capsys.readouterr()
    return run, corpus


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS], ids=["permission-denied", "read-only-filesystem"])
def test_read_only_output_directory(code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An output directory that cannot be written: one clear line, the existing checkpoint untouched.

    As a normal user the directory is really made read-only; as root (where chmod does not stop
    writes) ``open`` is made to fail with the same errno the kernel would give. The same, with the kernel
    refusing the writes as root too: :func:`test_a_really_unwritable_output_directory`.
    """
    run, corpus = _trained_run(tmp_path, capsys)
    before = _snapshot(run)
    simulated = os.geteuid() == 0 or code == errno.EROFS
    if simulated:
        _deny_writes_in(monkeypatch, run, code)
    else:
        run.chmod(0o555)
        assert not os.access(run, os.W_OK), "chmod 0555 did not make the folder read-only for this user"
    try:
        result = main(["train", str(corpus), "--resume", str(run), "--max-steps", "4", "--quiet"])
    finally:
        run.chmod(0o755)
    err = capsys.readouterr().err.splitlines()
    assert result == 1 and len(err) == 1, err
    # found before the first step (issue 12), so the line names the folder, not a checkpoint file
    assert f"{run}: cannot write checkpoint" in err[0]
    assert "not writable" in err[0] and "--out" in err[0], err[0]
    assert _snapshot(run) == before


@pytest.mark.parametrize(("how", "code"), [("permission", errno.EACCES), ("read-only-mount", errno.EROFS)])
def test_a_really_unwritable_output_directory(how: str, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The kernel refuses the writes (no patched ``open``), as root too: a 0555 folder for a process without
    CAP_DAC_OVERRIDE, or a read-only bind mount. One clear line naming the errno, the checkpoint untouched."""
    run, corpus = _trained_run(tmp_path, capsys)
    before = _snapshot(run)
    prefix = unwritable_prefix(run, how)
    if how == "permission":
        run.chmod(0o555)
    try:
        proc = subprocess.run([*prefix, sys.executable, "-m", "core.cli.main", "train", str(corpus), "--resume", str(run),
                               "--max-steps", "4", "--quiet"], capture_output=True, text=True, timeout=300)
    finally:
        run.chmod(0o755)
    err = proc.stderr.splitlines()
    assert proc.returncode == 1 and len(err) == 1, proc.stderr
    assert f"{run}: cannot write checkpoint" in err[0] and f"({os.strerror(code)})" in err[0], err[0]
    assert "not writable" in err[0] and "--out" in err[0], err[0]
    assert _snapshot(run) == before


def test_missing_output_directory_is_created(tmp_path: Path) -> None:
    run = tmp_path / "not" / "yet" / "there"
    run_all(tiny_trainer(run, max_steps=2, ckpt_every=2))
    assert [i.step for i in list_checkpoints(run)] == [2]


def test_output_directory_deleted_mid_run_is_recreated(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer = tiny_trainer(run, max_steps=6, ckpt_every=2)
    for event in trainer.run():
        if isinstance(event, CheckpointEvent) and event.step == 2:
            for p in run.iterdir():
                p.unlink()
            run.rmdir()
    assert [i.step for i in list_checkpoints(run)] == [4, 6]


def test_output_path_that_is_a_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TINY_TWEETS * 2))
    blocker = tmp_path / "taken"
    blocker.write_text("keep me")
    assert main(["train", str(corpus), "--out", str(blocker), "--max-steps", "2", "--hidden", "8", "--quiet"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "cannot write checkpoint" in err[0] and "a file is in the way" in err[0] and "--out" in err[0], err
    assert blocker.read_text() == "keep me"


# ---------------------------------------------------------------- disk full while writing the sidecar


def test_disk_full_on_the_sidecar_names_the_checkpoint_and_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tiny_corpus_file(tmp_path)
    run = tmp_path / "run"
    real = checkpoints.atomic_write

    def full_on_json(path: Path, write: Any) -> None:
        if Path(path).suffix == ".json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, write)

    monkeypatch.setattr(checkpoints, "atomic_write", full_on_json)
    assert main(["train", str(corpus), "--out", str(run), "--max-steps", "4", "--ckpt-every", "2", *TINY_CLI]) == 1
    line = one_error_line(capsys)
    pt = run / "step-00000002.pt"
    assert line.startswith(f"tweetgen train: error: {pt}: cannot write checkpoint (No space left on device)"), line
    assert ".json" not in line
    assert load_checkpoint(pt).step == 2 and [i.step for i in list_checkpoints(run)] == [2]
