"""Which corpus a run trained on: each DATA file by absolute path and a fingerprint of its bytes.

A checkpoint records ``data_files``: one ``{"path", "size", "sha256"}`` per DATA given to
``tweetgen train`` or the app. ``sha256`` hashes the size, the first MiB and the last MiB
(of each tweets part, for an unpacked archive folder), so recording a 3 GB corpus costs two
reads of a MiB, not a pass over the file: a file edited only in its middle, at the same size,
is not told apart (an edit that shifts text moves the last MiB, and most edits change the
size). :func:`find_recorded` says in one line whether the file at the recorded path is still
the one trained on, and finds it beside the checkpoint when it has moved there (the demo
corpus sits beside the demo checkpoint wherever the package is installed).

Checkpoints written before this was recorded hold ``data_path``/``data_paths`` as given
(possibly relative) and no fingerprint; :func:`find_recorded` still resolves those the old way.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

ENDS = 1 << 20  # bytes hashed at each end of a file


class ProvenanceError(Exception):
    """The recorded corpus is missing, moved, or not the file trained on; ``str()`` is one line."""


def _hash_file(path: Path, h: Any) -> int:
    """Feed ``path``'s size, first and last MiB to ``h``; returns the size. Regular files only."""
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path}: not a regular file")
        h.update(f"{st.st_size}\0".encode())
        h.update(fh.read(ENDS))
        if st.st_size > ENDS:
            fh.seek(max(ENDS, st.st_size - ENDS))
            h.update(fh.read(ENDS))
    return st.st_size


def fingerprint(path: str | Path) -> dict[str, Any] | None:
    """``{"size", "sha256"}`` of a corpus file, or of an unpacked archive folder's tweets parts; None when
    it cannot be read (a pipe, a device, gone)."""
    from core.data.archive import folder_parts

    path = Path(path)
    h = hashlib.sha256()
    try:
        if path.is_dir():
            size = 0
            for part in folder_parts(path):
                h.update(f"{part.name}\0".encode())
                size += _hash_file(part, h)
        else:
            size = _hash_file(path, h)
    except OSError:
        return None
    return {"size": size, "sha256": h.hexdigest()[:32]}


def record(paths: list[Path] | tuple[Path, ...]) -> list[dict[str, Any]]:
    """What a checkpoint stores about its corpus: each file's absolute path and fingerprint."""
    out = []
    for p in paths:
        entry: dict[str, Any] = {"path": os.path.abspath(p)}
        entry.update(fingerprint(p) or {"size": None, "sha256": None})
        out.append(entry)
    return out


def _recorded_entries(train_state: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The checkpoint's ``data_files`` (when well formed), else its bare paths without fingerprints; None: none recorded."""
    files = train_state.get("data_files")
    if isinstance(files, list) and files and all(isinstance(f, dict) and isinstance(f.get("path"), str) and f["path"] for f in files):
        return files
    paths = train_state.get("data_paths") or [train_state.get("data_path")]
    if isinstance(paths, list) and paths and all(isinstance(p, str) and p for p in paths):
        return [{"path": p} for p in paths]
    return None


def _describe_change(then: dict[str, Any], now: dict[str, Any] | None) -> str:
    if now is None:
        return "it cannot be read"
    if then.get("size") != now["size"]:
        return f"{then.get('size'):,} bytes when trained on, {now['size']:,} now"
    return "same size, different content"


def find_recorded(train_state: dict[str, Any], checkpoint: Path, *, hint: str) -> list[Path]:
    """The corpus files a checkpoint trained on, checked against their fingerprints.

    Raises :class:`ProvenanceError` (one line, ending with ``hint``: how to give a corpus) when none is
    recorded, a file is missing or moved, or the file at its path is not the one trained on.
    """
    entries = _recorded_entries(train_state)
    if entries is None:
        raise ProvenanceError(f"{checkpoint}: records no training corpus; {hint}")
    found = []
    for entry in entries:
        path = Path(entry["path"])
        beside = Path(checkpoint).parent / path.name
        if entry.get("sha256") is None:  # an older checkpoint: a path only, perhaps relative to where it trained
            if not path.exists() and not path.is_absolute() and beside.exists():
                path = beside  # the demo's corpus sits beside its checkpoint
            if not path.exists():
                raise ProvenanceError(f"{checkpoint}: its training corpus {path} is not there any more; {hint}")
            found.append(path)
            continue
        then = {"size": entry.get("size"), "sha256": entry.get("sha256")}
        if path.exists():
            now = fingerprint(path)
            if now != then:
                raise ProvenanceError(f"{checkpoint}: {path} is not the corpus this checkpoint trained on "
                                      f"({_describe_change(then, now)}); to compare with it anyway, --check-novelty {path}")
            found.append(path)
        elif beside.exists() and fingerprint(beside) == then:
            found.append(beside)  # moved beside the checkpoint: the same bytes
        else:
            raise ProvenanceError(f"{checkpoint}: its training corpus {path} is not there any more (moved or deleted); {hint}")
    return found
