"""Test helper: ``tweetgen`` as torchrun's entry point, recording what this rank writes.

Not a launcher: torchrun starts it like ``.venv/bin/tweetgen``. An audit hook notes every
file this process opens for writing, creates, renames or removes under ``$PROBE_ROOT``;
the list goes to ``$PROBE_OUT/rank-<RANK>.txt`` (outside the root) when the command ends.
"""

from __future__ import annotations

import os
import sys
from typing import Any

ROOT = os.environ["PROBE_ROOT"]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
writes: list[str] = []


def _under_root(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and os.path.abspath(os.fspath(path)).startswith(ROOT)


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & WRITE_FLAGS)
        if writing and _under_root(path):
            writes.append(f"open {path}")
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate") and _under_root(args[0]):
        writes.append(f"{event} {args[0]}")
    elif event == "os.rename" and (_under_root(args[0]) or _under_root(args[1])):
        writes.append(f"{event} {args[0]} -> {args[1]}")


if __name__ == "__main__":
    sys.addaudithook(_hook)
    from core.cli.main import main

    try:
        code = main(sys.argv[1:])
    finally:
        out = os.path.join(os.environ["PROBE_OUT"], f"rank-{os.environ.get('RANK', '0')}.txt")
        with open(out, "w", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in writes))
    raise SystemExit(code)
