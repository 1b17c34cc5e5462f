"""One training process per run directory.

``acquire(run_dir, fresh=...)`` is called by both front ends (``tweetgen train`` and the
app's training child, :func:`core.train.process.prepare_job`) before the first step:

- the directory is created if missing and must take a file (a temp file is created and
  removed), so an unwritable ``--out`` is reported at once, not at the first checkpoint;
- it takes an exclusive ``flock`` on ``<run_dir>/.tweetgen.lock``. The kernel drops the
  lock when its process ends, however it ends (even ``kill -9``), so a lock left by a
  dead process is never mistaken for a live one. The file holds the owner's pid, host
  and command, which the refusal names;
- a *fresh* run (not a resume) is refused in a directory that already holds
  checkpoints: it would mix two runs' files in one folder.

Every refusal is a :class:`RunDirError` (a :class:`~core.store.checkpoints.CheckpointError`,
so both front ends already report it as one line).
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any

from core.errors import Hint, joined
from core.errors import hint as _hint
from core.store.checkpoints import SUFFIX, CheckpointError, ensure_writable_dir

OTHER_RUN = _hint("choose another {run} or {run_dir}")  # how a new run goes elsewhere, unless the caller says

LOCK_NAME = ".tweetgen.lock"
LOCK_MAX_BYTES = 64 * 1024  # a lock file of ours holds a pid, a host and a command line

try:
    import fcntl
except ImportError:  # Windows: no flock; the run directory is then not locked
    fcntl = None  # type: ignore[assignment]


class RunDirError(CheckpointError):
    """A run directory that cannot be used for this run; ``str()`` is one line."""


def checkpoint_files(run_dir: Path) -> list[Path]:
    """The checkpoint files directly in ``run_dir`` (temp files excluded)."""
    try:
        return sorted(p for p in Path(run_dir).glob(f"*{SUFFIX}") if not p.name.startswith("."))
    except OSError:
        return []


class RunLock:
    """A held lock on a run directory; :meth:`release` (or the process' end) frees it."""

    def __init__(self, run_dir: Path, fd: int | None) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK_NAME
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file and drop the lock. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if os.lstat(self.path).st_ino == os.fstat(fd).st_ino:  # only our own file, never what replaced it
                self.path.unlink()  # while still holding it: a waiting process re-checks the inode
        except OSError:
            pass
        os.close(fd)

    def __del__(self) -> None:
        self.release()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _owner(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info: Any = json.loads(os.read(fd, 4096).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another training process"
    started = info.get("started")
    when = time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) and 0 < started < 1e11 else ""
    command = str(info.get("command", ""))
    command = command if len(command) <= 100 else command[:99] + "…"
    return f"pid {info.get('pid')} on {info.get('host', '?')}{when}" + (f": {command}" if command else "")


def acquire(run_dir: str | Path, *, fresh: bool, hint: str | Hint = OTHER_RUN,
            resumed: tuple[Path, int] | None = None) -> RunLock:
    """Check that ``run_dir`` is writable, lock it for this process, and refuse to write over another run or branch.

    ``fresh``: a new run, refused in a folder that holds checkpoints. ``resumed``: (the checkpoint
    file a resume starts from, its step), refused where continuing would replace or shadow saved
    checkpoints (:func:`branch_conflict`).
    """
    run_dir = Path(run_dir)
    ensure_writable_dir(run_dir)
    lock = _lock(run_dir, hint)
    problem = None
    if fresh:
        existing = checkpoint_files(run_dir)
        if existing:
            problem = joined(f"{run_dir}: already holds {len(existing)} checkpoint(s) of an earlier run (newest {existing[-1].name}); "
                             "continue it with ", _resume(run_dir), ", or ", hint, " for a new run")
    elif resumed is not None:
        problem = branch_conflict(run_dir, *resumed, hint=hint)
    if problem is not None:
        lock.release()
        raise RunDirError(problem)
    return lock


_STEP_NAME = re.compile(r"step-(\d+)" + re.escape(SUFFIX))


def _step_of(path: Path) -> int | None:
    """A checkpoint's step: from its name (``step-00000040.pt``), else from the file; None when unreadable."""
    found = _STEP_NAME.fullmatch(path.name)
    if found:
        return int(found.group(1))
    from core.store.registry import read_info

    try:
        return read_info(path).step
    except (CheckpointError, OSError):
        return None


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def branch_conflict(run_dir: Path, checkpoint: Path, step: int, *, hint: str | Hint) -> Hint | None:
    """Why resuming ``checkpoint`` (at ``step``) into ``run_dir`` would replace something saved, or None.

    Nothing already saved is replaced: a resume continues a run in its own folder only from
    that folder's newest checkpoint (from an older one the new steps would overwrite the later
    checkpoints, and ``--resume RUN`` would then mix the two branches), and it writes into
    another folder only when that folder holds no checkpoints (another run's would be replaced,
    and "best" compared across runs). The one-line answer says how to go on: continue the
    newest, or branch into a new folder.
    """
    existing = checkpoint_files(run_dir)
    if not existing:
        return None  # a new folder: a new branch, nothing to replace
    if not _same_dir(Path(checkpoint).parent, run_dir):
        return joined(f"{run_dir}: already holds {len(existing)} checkpoint(s) of another run (newest {existing[-1].name}); "
                      f"resuming {checkpoint} there would mix the two runs. To branch from step {step}, ", hint,
                      " (a new folder); to continue that run, ", _resume(run_dir))
    later = sorted(s for s in (_step_of(p) for p in existing if p.name != Path(checkpoint).name) if s is not None and s > step)
    if not later:
        return None  # the newest: a plain continuation
    return joined(f"{checkpoint}: is not the newest checkpoint of {run_dir} (it has steps up to {later[-1]}); continuing "
                  f"from step {step} there would replace the later ones. Continue the newest with ", _resume(run_dir),
                  f", or to branch from step {step}, ", hint, " (a new folder)")


def _resume(run_dir: Path) -> Hint:
    return _hint("{resume}", resume=run_dir)


def _lock(run_dir: Path, hint: str | Hint) -> RunLock:
    """Lock ``<run_dir>/.tweetgen.lock`` without ever following a link or writing into a file this process
    did not create.

    The file is created with ``O_EXCL|O_NOFOLLOW``, and only a file created so gets the owner's
    details. An existing one (left by a process that died) is opened read-only, never truncated;
    once its lock is held, it is removed if it is a lock file of ours (JSON naming a pid, or empty) and a
    new one is created. A symlink, folder, pipe, device, a file with other names (hard links) or a
    file of another kind is refused in one line, left as it is.
    """
    if fcntl is None:
        return RunLock(run_dir, None)
    path = run_dir / LOCK_NAME
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    for _ in range(20):
        created = True
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | nofollow, 0o644)
        except FileExistsError:
            created = False
            try:  # read-only and non-blocking: a FIFO must not block, and nothing is written to a file we did not create
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | nofollow)
            except FileNotFoundError:
                continue  # its owner removed it as we looked: create it
            except OSError as exc:
                raise _not_a_lock(path, hint, exc) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP or os.path.islink(path):
                raise _not_a_lock(path, hint, exc) from None
            raise RunDirError(f"{path}: cannot create the run lock ({exc.strerror})", hint) from None
        try:
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            raise _not_a_lock(path, hint, exc) from None
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            os.close(fd)
            raise _not_a_lock(path, hint, None, hard_links=stat.S_ISREG(st.st_mode))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                return RunLock(run_dir, None)  # a filesystem without flock: run unlocked rather than not at all
            owner = _owner(fd)
            os.close(fd)
            raise RunDirError(joined(f"{run_dir}: in use by another training run, {owner}; wait for it to end or stop it, or ",
                                     hint)) from None
        try:
            same = os.fstat(fd).st_ino == os.lstat(path).st_ino
        except OSError:
            same = False
        if not same:  # the previous owner removed the file as we opened it: lock the new one
            os.close(fd)
            continue
        if not created:  # a dead process' lock: ours to remove only if it is one
            if not _is_lock_file(fd):
                os.close(fd)
                raise _not_a_lock(path, hint, None)
            try:
                os.unlink(path)  # while holding its lock: a process waiting on it re-checks the inode
            except OSError as exc:
                os.close(fd)
                raise RunDirError(f"{path}: cannot replace the stale run lock ({exc.strerror})", hint) from None
            os.close(fd)
            continue
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else ""}
        try:
            os.write(fd, json.dumps(info).encode())
        except OSError:
            pass  # the owner's details are for the message only; the lock itself is held
        return RunLock(run_dir, fd)
    raise RunDirError(f"{run_dir}: could not lock the run directory (it keeps changing)", hint)


def _is_lock_file(fd: int) -> bool:
    """Whether an existing lock file is one tweetgen wrote: empty, or a small JSON object naming a pid."""
    try:
        data = os.pread(fd, LOCK_MAX_BYTES + 1, 0)
    except OSError:
        return False
    if not data.strip():
        return True
    if len(data) > LOCK_MAX_BYTES:
        return False
    try:
        info = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(info, dict) and "pid" in info


def _not_a_lock(path: Path, hint: str | Hint, exc: OSError | None, *, hard_links: bool = False) -> RunDirError:
    """The one-line refusal of a lock path that is not a lock file of ours; the path is left untouched."""
    if hard_links:
        what = "a file with other names (hard links)"
    elif exc is not None and exc.errno == errno.ELOOP or os.path.islink(path):
        what = "a symbolic link"
    elif path.is_dir():
        what = "a folder"
    elif exc is not None:
        what = f"not a file tweetgen can use ({exc.strerror})"
    elif path.exists() and not path.is_file():
        what = "not a regular file (a pipe, socket or device)"
    else:
        what = "a file tweetgen did not write"
    return RunDirError(joined(f"{path}: is {what}, not a run lock; tweetgen leaves it as it is. "
                              "Move it away if it is not needed, or ", hint))
