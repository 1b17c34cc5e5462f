"""The unit finder in a spawned process (no Textual here): its seconds of Python and torch work never hold
the app's GIL, so the UI does not stutter while a checkpoint is scored (bench/neuron_lag.py measures it).

One long-lived child (``spawn``, as the training process) serves jobs one at a time over a pipe: a
checkpoint path in, its :class:`core.neurons.finder.NeuronReport` (from the cache beside it, else computed and
cached) and up to ``pool`` of its validation texts out, or a one-line error. The child runs torch on
one thread at a lowered CPU priority, with its output sent to the null device (the app's terminal is
the UI's). :meth:`FinderProcess.close` ends it at once, work in progress or not.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.train.process import real_std_streams

CHILD_NICE = 10  # the finder yields the CPU to the UI (and training) when cores are short
POLL_S = 0.1  # how often a waiting caller checks for cancellation


@dataclass(frozen=True)
class Scored:
    """One job's answer: ``report`` (a NeuronReport) and ``texts`` (validation texts, None when not found),
    or ``error`` (one line)."""

    report: Any = None
    texts: list[str] | None = None
    error: str | None = None
    job: int = 0  # the job it answers (an answer to a job given up on is skipped)


class FinderGone(RuntimeError):
    """The finder process ended (killed, out of memory) before answering."""


@contextmanager
def _spawnable() -> Iterator[None]:
    """Around a spawn from inside the app: the real stdout/stderr in ``sys`` (Textual's capture has no file
    descriptor for multiprocessing to pass on) and SIGHUP blocked, so the helper process multiprocessing may
    start (its resource tracker) inherits the block and survives a closed terminal while the app saves."""
    with real_std_streams():
        try:
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        except (AttributeError, ValueError, OSError):
            previous = None
        try:
            yield
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _serve(conn: Any, hint: str) -> None:
    """The child: answer jobs (checkpoint path, pool size) until the pipe closes."""
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the terminal is the app's to handle
    try:
        os.nice(CHILD_NICE)
    except OSError:
        pass
    import torch

    from core.store.checkpoints import CheckpointError, load_checkpoint
    from core.neurons.finder import NeuronsError, report_for_checkpoint, validation_texts

    torch.set_num_threads(1)
    while True:
        try:
            job, path, pool = conn.recv()
        except (EOFError, OSError):
            return
        try:
            report = report_for_checkpoint(Path(path), hint=hint)
            try:
                texts: list[str] | None = validation_texts(load_checkpoint(Path(path)), hint=hint)[:pool]
            except NeuronsError:
                texts = None
            answer = Scored(report=report.to_json(), texts=texts, job=job)
        except (CheckpointError, NeuronsError, OSError) as exc:
            answer = Scored(error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__, job=job)
        except Exception as exc:  # noqa: BLE001 - the app shows it; the child serves on
            lines = str(exc).splitlines()
            answer = Scored(error=f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__, job=job)
        try:
            conn.send(answer)
        except (EOFError, OSError):
            return


class FinderProcess:
    """Parent-side handle of the finder's child process; :meth:`score` from one worker thread at a time."""

    def __init__(self, hint: str) -> None:
        self.hint = hint
        self._ctx = mp.get_context("spawn")
        self._process: Any = None
        self._conn: Any = None
        self._lock = threading.Lock()
        self._jobs = 0

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        with _spawnable():
            process = self._ctx.Process(target=_serve, args=(child, self.hint), name="tweetgen-neurons", daemon=True)
            process.start()
        child.close()
        self._process, self._conn = process, parent

    def score(self, path: Path, pool: int, cancelled: Callable[[], bool]) -> Scored | None:
        """``path``'s report and up to ``pool`` validation texts; None when ``cancelled()`` turned true first
        (the child finishes the job and caches the report). Raises :class:`FinderGone`."""
        from core.neurons.finder import NeuronReport

        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()
            conn, process = self._conn, self._process
            self._jobs += 1
            job = self._jobs
            try:
                conn.send((job, str(path), pool))
                while True:
                    while not conn.poll(POLL_S):
                        if cancelled():
                            return None
                        if not process.is_alive():
                            raise FinderGone(f"the unit finder's process ended (exit code {process.exitcode})")
                    answer: Scored = conn.recv()
                    if answer.job == job:
                        break  # (else: the answer to a job given up on)
            except (EOFError, OSError) as exc:
                raise FinderGone(f"the unit finder's process ended ({type(exc).__name__})") from None
        if answer.report is not None:
            return Scored(report=NeuronReport.from_json(answer.report), texts=answer.texts)
        return answer

    def close(self) -> None:
        """End the child now (a job in progress is dropped; nothing it caches is half-written: atomic writes)."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
        if process is not None and process.is_alive():
            process.terminate()
            process.join(2.0)
            if process.is_alive():
                process.kill()
                process.join(2.0)
