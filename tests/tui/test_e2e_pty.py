"""End to end: the real ``tweetgen-tui`` console script in a pseudo-terminal.

It must draw, stream the tweet the seeded checkpoint writes, quit on ``q`` and exit 0.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tuihelpers import Assets, expected_sample

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")]

SCRIPT = Path(sys.executable).with_name("tweetgen-tui")
COLS, ROWS = 160, 40
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def read_until(master: int, proc: subprocess.Popen[bytes], found: Callable[[str], bool], timeout: float) -> str:
    """Read the terminal until ``found(screen_text)``; returns the text without escape sequences."""
    raw = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                raw += os.read(master, 65536)
            except OSError:
                break
            text = ESCAPES.sub("", raw.decode("utf-8", "replace"))
            if found(text):
                return text
        elif proc.poll() is not None:
            break
    text = ESCAPES.sub("", raw.decode("utf-8", "replace"))
    raise AssertionError(f"not found within {timeout:.0f}s (exit {proc.poll()}); screen tail: {text[-800:]!r}")


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"console script {SCRIPT} is not installed (pip install -e .)")
def test_console_script_streams_a_tweet_and_quits_cleanly_on_q(tui_assets: Assets, tmp_path: Path) -> None:
    home = tmp_path / "home"
    newest = tui_assets.run / "step-00000020.pt"
    seed = next(s for s in range(100) if len(expected_sample(newest, 0.8, s).strip()) >= 12)
    probe = expected_sample(newest, 0.8, seed)[:12]
    args = [str(SCRIPT), "--data", str(tui_assets.corpus), "--checkpoint", str(newest), "--run", "e2e",
            "--home", str(home), "--seed", str(seed), "--pace", "0", "--gap", "60"]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", TWEETGEN_HOME=str(home), PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True)
    os.close(slave)
    try:
        read_until(master, proc, lambda screen: probe in screen, timeout=90)
        os.write(master, b"q")
        deadline = time.monotonic() + 60
        tail = ""
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    tail = (tail + os.read(master, 65536).decode("utf-8", "replace"))[-4000:]
                except OSError:  # the app closed the terminal: it is exiting
                    break
        try:
            proc.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        assert proc.poll() == 0, f"exit code {proc.poll()}; tail: {ESCAPES.sub('', tail)[-800:]!r}"
        assert "Traceback" not in tail
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)


def _spawn(args: list[str], home: Path, controlling: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    """The app in a new session on a pty; ``controlling``: the pty is its controlling terminal, so closing
    the master side hangs it up (SIGHUP) as closing a terminal window does."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", TWEETGEN_HOME=str(home), PYTHONWARNINGS="ignore")
    take_tty = (lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0)) if controlling else None
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True,
                            preexec_fn=take_tty)
    os.close(slave)
    return proc, master


def _drain(master: int, seconds: float) -> None:
    """Keep reading the terminal (a full pty would block the app) for a while."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                os.read(master, 65536)
            except OSError:
                return


STEP_SHOWN = re.compile(r"step ([\d,]+)(?:/[\d,]+)? · epoch")


def _train_past(master: int, proc: subprocess.Popen[bytes], step: int, timeout: float = 90) -> None:
    """Read the terminal until the training panel shows a step after ``step`` (instead of waiting a fixed
    second, in which a busy machine may train no step at all)."""
    def beyond(screen: str) -> bool:
        return any(int(m.group(1).replace(",", "")) > step for m in STEP_SHOWN.finditer(screen[-20000:]))

    read_until(master, proc, beyond, timeout=timeout)


def _newest_step(run: Path) -> int:
    return max(int(p.stem.split("-")[1]) for p in run.glob("step-*.pt"))


def _reap(proc: subprocess.Popen[bytes], master: int) -> None:
    """Kill the app's process group if it is still running, and close the pty (-1: closed already)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if master >= 0:
        os.close(master)


def _read_to_exit(master: int, proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    raw = b""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.1)[0]:
            try:
                raw += os.read(master, 65536)
            except OSError:
                break
    try:
        proc.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    return raw


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"console script {SCRIPT} is not installed (pip install -e .)")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_training_with_a_checkpoint_restore_the_terminal_and_exit_0(
        tui_assets: Assets, tmp_path: Path, signum: int) -> None:
    """Was: killed at once (143/129), no checkpoint of the steps since the last one, the terminal left in
    the alternate screen with the mouse captured."""
    home = tmp_path / "home"
    args = [str(SCRIPT), "--data", str(tui_assets.corpus), "--run", "sig", "--home", str(home), "--seed", "1",
            "--pace", "0", "--gap", "60", "--hidden", "16", "--embed", "8", "--batch-size", "4", "--ckpt-every", "0",
            "--val-every", "0", "--max-steps", "1000000", "--threads", "1"]
    proc, master = _spawn(args, home)
    try:
        # the status line, once the run directory is known (the chart says "press space to train" earlier)
        read_until(master, proc, lambda screen: "idle · press space to train" in screen, timeout=90)
        os.write(master, b" ")
        run = home / "runs" / "sig"
        deadline = time.monotonic() + 120
        while not list(run.glob("step-*.pt")):  # s saves a checkpoint once training runs: proof that it does
            assert time.monotonic() < deadline and proc.poll() is None, "training did not start"
            os.write(master, b"s")
            _drain(master, 2.0)
        first = _newest_step(run)
        _train_past(master, proc, first)  # some more steps
        if signum == signal.SIGHUP:  # a closed terminal hangs up the whole process group
            os.killpg(proc.pid, signum)
        else:  # kill PID
            os.kill(proc.pid, signum)
        tail = _read_to_exit(master, proc, timeout=90)
        text = ESCAPES.sub("", tail.decode("utf-8", "replace"))
        assert proc.poll() == 0, f"exit code {proc.poll()}; tail: {text[-800:]!r}"
        assert "Traceback" not in text
        assert b"\x1b[?1049l" in tail, "the alternate screen was not left"
        assert _newest_step(run) > first, f"no checkpoint of the steps after {first} in {run}"
    finally:
        _reap(proc, master)


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"console script {SCRIPT} is not installed (pip install -e .)")
def test_closing_the_terminal_while_training_saves_and_exits(tui_assets: Assets, tmp_path: Path) -> None:
    """A real hangup: the terminal's master side is closed while tweets stream and training runs. Was:
    Textual's writer thread died of EIO, the app blocked forever on its full output queue and never
    handled the SIGHUP (the process stayed behind, hung)."""
    home = tmp_path / "home"
    args = [str(SCRIPT), "--data", str(tui_assets.corpus), "--run", "hup", "--home", str(home), "--seed", "1",
            "--pace", "0", "--gap", "0.05", "--hidden", "16", "--embed", "8", "--batch-size", "4", "--ckpt-every", "0",
            "--val-every", "0", "--max-steps", "1000000", "--threads", "1"]
    proc, master = _spawn(args, home, controlling=True)
    try:
        read_until(master, proc, lambda screen: "idle · press space to train" in screen, timeout=90)
        os.write(master, b" ")
        run = home / "runs" / "hup"
        deadline = time.monotonic() + 120
        while not list(run.glob("step-*.pt")):
            assert time.monotonic() < deadline and proc.poll() is None, "training did not start"
            os.write(master, b"s")
            _drain(master, 2.0)
        first = _newest_step(run)
        _train_past(master, proc, first)
        os.close(master)  # the terminal goes away: the session gets SIGHUP, writes fail with EIO
        master = -1
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            pass
        assert proc.poll() == 0, f"exit code {proc.poll()} (None: still running, hung)"
        assert _newest_step(run) > first, f"no checkpoint of the steps after {first} in {run}"
    finally:
        _reap(proc, master)
