"""Time from process start to the first frame of ``tweetgen-tui``, measured from outside.

The app is started in a pseudo-terminal of a fixed size, exactly as a user starts it
(the ``tweetgen-tui`` entry point of the venv, else ``python -m tui``). The clock starts
just before the process is spawned and stops when the terminal has received the first
full frame: the alternate screen is switched on and at least ``MIN_VISIBLE`` printable
characters have been painted after it. Then the app is asked to quit with ctrl+q (and
killed if it does not). Nothing inside the app is instrumented, so this is what a
person sees.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time
from pathlib import Path
from typing import Any

from bench.common import REPO

ALT_SCREEN = b"\x1b[?1049h"
MIN_VISIBLE = 200
_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
COLS, ROWS = 120, 40


def tui_command() -> list[str]:
    exe = Path(sys.executable).with_name("tweetgen-tui")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("tweetgen-tui")
    return [found] if found else [sys.executable, "-m", "tui"]


def _visible(data: bytes) -> int:
    text = _ESCAPES.sub(b"", data)
    return sum(1 for b in text if 32 < b < 127 or b >= 128)


def first_frame_once(extra_args: list[str] | None = None, timeout: float = 20.0) -> dict[str, Any]:
    """One start of the app; returns seconds to the first frame and to the alt screen."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    with tempfile.TemporaryDirectory(prefix="tweetgen-bench-tui-") as home:
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS), TWEETGEN_HOME=home,
                   PYTHONWARNINGS="ignore")
        env.pop("TEXTUAL", None)
        start = time.perf_counter()
        proc = subprocess.Popen(tui_command() + list(extra_args or []), stdin=slave, stdout=slave, stderr=slave,
                                cwd=REPO, env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        buf = b""
        alt_at = frame_at = None
        try:
            while time.perf_counter() - start < timeout:
                ready, _, _ = select.select([master], [], [], 0.05)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    buf += chunk
                    now = time.perf_counter()
                    if alt_at is None and ALT_SCREEN in buf:
                        alt_at = now
                    if alt_at is not None and _visible(buf[buf.index(ALT_SCREEN):]) >= MIN_VISIBLE:
                        frame_at = now
                        break
                elif proc.poll() is not None:
                    break
        finally:
            _quit(proc, master)
    result: dict[str, Any] = {"first_frame_s": None if frame_at is None else frame_at - start,
                              "alt_screen_s": None if alt_at is None else alt_at - start}
    if frame_at is None:
        tail = _ESCAPES.sub(b"", buf[-600:]).decode("utf-8", "replace").strip()
        result["error"] = f"no frame within {timeout:.0f}s (exit {proc.returncode}): {tail[-300:]}"
    return result


def _quit(proc: subprocess.Popen[bytes], master: int) -> None:
    try:
        os.write(master, b"\x11")  # ctrl+q
    except OSError:
        pass
    deadline = time.perf_counter() + 5.0
    while proc.poll() is None and time.perf_counter() < deadline:
        try:
            if select.select([master], [], [], 0.05)[0]:
                os.read(master, 65536)  # keep draining so the app never blocks on a full pty
        except OSError:
            time.sleep(0.05)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    os.close(master)


def measure_startup(reps: int = 3) -> dict[str, Any]:
    """Median of ``reps`` cold-ish starts (the first one warms the OS file cache and is dropped when reps > 1)."""
    runs = [first_frame_once() for _ in range(reps + (1 if reps > 1 else 0))]
    errors = [r["error"] for r in runs if r.get("error")]
    kept = runs[1:] if reps > 1 else runs
    times = [r["first_frame_s"] for r in kept if r["first_frame_s"] is not None]
    out: dict[str, Any] = {"command": " ".join(tui_command()), "terminal": f"{COLS}x{ROWS}", "reps": len(kept),
                           "first_frame_s_samples": times, "first_run_s": runs[0]["first_frame_s"]}
    out["first_frame_s_median"] = statistics.median(times) if times else None
    if errors:
        out["errors"] = errors
    return out


if __name__ == "__main__":
    print(measure_startup(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
