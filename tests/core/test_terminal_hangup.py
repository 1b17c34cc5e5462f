"""A closed terminal: SIGHUP to `tweetgen train` whose terminal is gone saves the current step and exits 0 (issue 12).
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from corehelpers import REPO, TINY_CLI, one_error_line, train_tiny

from core.store import runlock
from core.store.checkpoints import load_checkpoint
from core.store.registry import list_checkpoints

TINY = TINY_CLI
_train, _one_line = train_tiny, one_error_line


# ---------------------------------------------------------------- SIGHUP


@pytest.mark.slow
def test_sighup_with_the_terminal_gone_saves_the_current_step_and_exits_0(tmp_path: Path, corpus: Path) -> None:
    """A closed terminal: stdout and stderr are a pty whose other end is closed (writes fail with EIO), then SIGHUP.

    The run must still write a 'stop' checkpoint past the last periodic one and exit 0.
    """
    out = tmp_path / "run"
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "core.cli.main", "train", str(corpus), "--out", str(out), "--max-steps", "1000000",
           "--hidden", "8", "--embed", "8", "--batch-size", "4", "--ckpt-every", "10", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, close_fds=True)
    os.close(slave)

    def drain() -> None:  # keep the progress display flowing until the "terminal" closes
        while True:
            try:
                if not os.read(master, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("step-*.pt")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(out.glob("step-*.pt")), "no periodic checkpoint within 120 s"
        os.close(master)  # the terminal window is closed
        proc.send_signal(signal.SIGHUP)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0
    infos = list_checkpoints(out)
    last = max(infos, key=lambda i: i.step)
    assert last.tags == ["stop"], [(i.step, i.tags) for i in infos]
    assert load_checkpoint(last.path).step == last.step
    assert not (out / runlock.LOCK_NAME).exists(), "the lock is released on a clean stop"
