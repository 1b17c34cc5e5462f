"""The run registry: where runs live, which checkpoints a run has, which is best, retention.

It reads checkpoint metadata cheaply from each file's ``.json`` sidecar (falling back to
the file itself, validated by :mod:`core.store.checkpoints`), so listing hundreds of
checkpoints does not unpickle hundreds of weight files.
"""

from __future__ import annotations

import json
import os
import re
import stat as _stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.store.checkpoints import (
    MAX_COUNT,
    SUFFIX,
    TMP_SUFFIX,
    CheckpointError,
    finite_or_none,
    is_int,
    pid_alive,
    read_metadata,
    temp_owner,
    within,
)

ENV_HOME = "TWEETGEN_HOME"


def default_home() -> Path:
    """Where runs live: ``$TWEETGEN_HOME`` or the platform's user data directory."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("tweetgen", appauthor=False)


def runs_dir(home: Path | None = None) -> Path:
    return (home or default_home()) / "runs"


@dataclass
class CheckpointInfo:
    """One line of the registry."""

    path: Path
    run: str
    step: int
    epoch: int
    val_bpc: float | None
    train_loss: float | None
    created: float
    size: int
    tags: list[str] = field(default_factory=list)
    val_step: int | None = None  # the step val_bpc was measured at (None: written before this was recorded)

    @property
    def validated(self) -> bool:
        """Whether ``val_bpc`` scores this checkpoint's own weights (not an earlier step's)."""
        return self.val_bpc is not None and self.val_step in (None, self.step)


def read_info(path: Path) -> CheckpointInfo:
    """Registry entry for one file: from its sidecar when that matches, else from the file."""
    path = Path(path)
    stat = path.stat()
    sidecar = path.with_suffix(".json")
    try:
        if sidecar.stat().st_mtime_ns >= stat.st_mtime_ns:
            candidate = json.loads(sidecar.read_text())
            if (
                isinstance(candidate, dict)
                and candidate.get("file") == path.name
                and candidate.get("size", stat.st_size) == stat.st_size  # a truncated or replaced file is re-read
                and within(candidate.get("step", 0), MAX_COUNT, low=0)  # absurd numbers: trust the .pt instead
                and within(candidate.get("created", stat.st_mtime), 1e11, low=0)
                and _stat.S_ISREG(stat.st_mode)  # never open a FIFO named like a checkpoint (it would block)
                and zipfile.is_zipfile(path)  # cheap: reads the zip directory at the end, which a cut-off file lacks
            ):
                return _info(path, stat, candidate)
    except (OSError, ValueError, TypeError, OverflowError, RecursionError):
        pass  # unreadable sidecar: read the checkpoint itself
    return _info(path, stat, read_metadata(path))  # list only what load_checkpoint would accept


def _info(path: Path, stat: os.stat_result, meta: dict[str, Any]) -> CheckpointInfo:
    return CheckpointInfo(
        path=path,
        run=str(meta.get("run") or path.parent.name),
        step=int(meta.get("step", 0)),
        epoch=int(meta.get("epoch", 0)),
        val_bpc=finite_or_none(meta.get("val_bpc")),
        train_loss=finite_or_none(meta.get("train_loss")),
        created=float(meta.get("created", stat.st_mtime)),
        size=stat.st_size,
        tags=[str(t) for t in meta.get("tags", [])] if isinstance(meta.get("tags", []), list) else [],
        val_step=meta.get("val_step") if is_int(meta.get("val_step")) else None,
    )


def list_checkpoints(root: str | Path) -> list[CheckpointInfo]:
    """Every readable checkpoint under ``root`` (a run directory or a directory of runs), oldest step first.

    Temp files of interrupted writes and unreadable files are skipped.
    """
    root = Path(root)
    if root.is_file():
        return [read_info(root)]
    if not root.is_dir():
        return []
    files = sorted(root.glob(f"*{SUFFIX}")) + sorted(root.glob(f"*/*{SUFFIX}"))
    infos: list[CheckpointInfo] = []
    for path in files:
        if path.name.startswith("."):
            continue
        try:
            infos.append(read_info(path))
        except (CheckpointError, OSError):
            continue
    infos.sort(key=lambda i: (i.run, i.step, i.created))
    return infos


def latest_checkpoint(root: str | Path) -> CheckpointInfo | None:
    infos = list_checkpoints(root)
    return max(infos, key=lambda i: (i.step, i.created)) if infos else None


def best_of(infos: list[CheckpointInfo]) -> CheckpointInfo | None:
    """The checkpoint with the lowest validation bits/char measured on its own weights (newest on a tie)."""
    scored = [i for i in infos if i.validated]
    return min(scored, key=lambda i: (i.val_bpc, -i.step)) if scored else None  # type: ignore[arg-type, return-value]


def checkpoint_to_use(infos: list[CheckpointInfo]) -> CheckpointInfo | None:
    """What a run generates from by default: its best validated checkpoint, else its newest.

    Not blindly the newest: a run whose validation got worse keeps generating from the
    weights that scored best (the app and ``tweetgen sample RUN_DIR`` agree on this).
    """
    if not infos:
        return None
    return best_of(infos) or max(infos, key=lambda i: (i.step, i.created))


def best_checkpoint(root: str | Path) -> CheckpointInfo | None:
    """The best checkpoint under ``root`` (see :func:`best_of`); None when none was validated."""
    return best_of(list_checkpoints(root))


# tweetgen's own temp names: ``.step-00000010.pt.<pid>.tmp`` and its ``.json`` (atomic_write), and the
# ``.write-test.<pid>.tmp`` probe (ensure_writable_dir). Any other ``.*.tmp`` is someone else's file.
OWN_TEMP = re.compile(r"\.(?:step-\d+\.(?:pt|json)|write-test)\.\d+" + re.escape(TMP_SUFFIX))


def remove_stale_temp_files(directory: Path) -> int:
    """Delete tweetgen's own temp files left by interrupted writes (regular files only); returns how many."""
    n = 0
    if directory.is_dir():
        for tmp in directory.glob(f".*{TMP_SUFFIX}"):
            if not OWN_TEMP.fullmatch(tmp.name) or tmp.is_symlink() or not tmp.is_file():
                continue
            owner = temp_owner(tmp)
            if owner is not None and owner != os.getpid() and pid_alive(owner):
                continue  # another live process is writing it right now
            try:
                tmp.unlink()
                n += 1
            except OSError:
                pass
    return n


def delete_checkpoint(path: Path) -> None:
    """Delete a checkpoint, its ``.json`` summary and its ``.neurons.json`` report (core.neurons.finder.cache_path):
    retention must not leave a sidecar describing a checkpoint that is gone."""
    for p in (path, path.with_suffix(".json"), path.with_name(path.stem + ".neurons.json")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def prune(run_dir: Path, keep_last: int, keep_best: int) -> list[Path]:
    """Retention: keep the newest ``keep_last`` and the best ``keep_best`` (lowest val bits/char).

    ``keep_last <= 0`` keeps everything. Returns the deleted paths.
    """
    if keep_last <= 0:
        return []
    infos = [i for i in list_checkpoints(run_dir) if i.path.parent == run_dir]
    # "last" = most recently written: a run resumed from an early checkpoint must not have
    # its new checkpoints deleted because older ones carry higher step numbers.
    by_time = sorted(infos, key=lambda i: (i.created, i.step))
    keep = {i.path for i in by_time[-keep_last:]}
    scored = sorted((i for i in infos if i.validated), key=lambda i: i.val_bpc)  # type: ignore[arg-type, return-value]
    keep |= {i.path for i in scored[: max(0, keep_best)]}
    removed = []
    for info in infos:
        if info.path not in keep:
            delete_checkpoint(info.path)
            removed.append(info.path)
    return removed


def resolve_checkpoint(path: str | Path, *, best: bool = False) -> Path:
    """A checkpoint file as given, or from a run directory the one to use.

    To resume (``best=False``): the directory's newest checkpoint, where training left
    off. To generate (``best=True``): :func:`checkpoint_to_use`, its best validated one.
    A directory without checkpoints is a one-line :class:`CheckpointError`.
    """
    path = Path(path)
    if not path.is_dir():
        return path
    info = checkpoint_to_use(list_checkpoints(path)) if best else latest_checkpoint(path)
    if info is None:
        raise CheckpointError(f"{path}: no checkpoints in this directory; give a .pt file or a run directory")
    return info.path
