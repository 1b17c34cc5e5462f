"""Training in a separate process, driven through two queues.

Why a process and not a thread: the training loop is Python between torch kernels and
holds the GIL for much of each step, so a training *thread* makes any UI in the same
process stutter. A child process started with the ``spawn`` context (no forked torch or
terminal state) runs :class:`core.train.trainer.Trainer` and puts every event on a queue; the
parent sends ``pause``/``resume``/``save``/``stop`` commands on another queue, which a
small thread inside the child applies to the trainer (its control methods are
thread-safe and take effect between steps, so a completed step is never lost).

The child is given paths and plain settings, never tensors: it loads the corpus and
any checkpoint itself. Every way a run can end arrives as one final
:class:`~core.events.DoneEvent`: ``finished``/``time``/``stopped`` after the last
checkpoint was written, ``diverged`` from the trainer's guard, ``error`` for a corpus or
checkpoint the child could not use (the one-line ``CorpusError``/``CheckpointError``
message), a crash, or a child that died without saying why. SIGINT, SIGTERM and SIGHUP
in the child, and the death of the parent, become a clean stop that saves a checkpoint.

This module imports neither torch nor Textual at import time: the parent side is cheap
to import, and the UI stays free to draw its first frame before torch is loaded.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.events import BackgroundEvent, CheckpointEvent, DoneEvent, NoteEvent, PauseEvent, StartEvent, TrainingState

if TYPE_CHECKING:
    from core.train.setup import PreparedRun

COMMANDS = ("pause", "resume", "save", "stop")


@dataclass(frozen=True)
class TrainJob:
    """What the child process should train; all of it picklable, no tensors.

    ``train`` holds :class:`~core.train.trainer.TrainConfig` fields; a budget among them counts
    from where the run starts, as everywhere (:mod:`core.train.setup`): resuming a
    checkpoint at step 900 with ``max_steps=100`` stops at step 1000. Without any budget
    the run continues until it is stopped. When resuming, the stored training settings,
    corpus filters and validation split are reused and ``train``/``filters`` override them. ``model`` holds :func:`~core.model.gru.new_model`
    keyword arguments and is used only for a fresh run.
    """

    data_path: Path
    run_dir: Path
    resume_from: Path | None = None  # a checkpoint file, or a run directory (its newest checkpoint)
    train: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.1
    fmt: str = "auto"
    column: str | None = None
    threads: int | None = None  # torch threads in the child; None = every core but one
    log_path: Path | None = None  # the child's stdout/stderr (a TUI must not have them on its terminal)
    allow_unknown: bool = False  # resume even when much of the corpus is unknown to the checkpoint's vocabulary

    def request(self, threads: int) -> Any:
        """The :class:`~core.train.setup.RunRequest` of this job: trained until stopped unless it has a budget."""
        from core.train.setup import BUDGET_KEYS, RunRequest

        return RunRequest(
            data=self.data_path, run_dir=self.run_dir, resume=self.resume_from,
            train={**self.train, "threads": threads}, model=dict(self.model), filters=dict(self.filters),
            until_stopped=not any(self.train.get(k) for k in BUDGET_KEYS), val_fraction=self.val_fraction,
            fmt=self.fmt, column=self.column, allow_unknown=self.allow_unknown,
            allow_unknown_hint="resume it with `tweetgen train --resume RUN_DIR --allow-unknown`",
            other_dir_hint="train into another run directory",
        )


def default_threads() -> int:
    """Torch threads for training: leave one core to the UI (so 1 on a 2-core machine)."""
    return max(1, (os.cpu_count() or 1) - 1)


# ---------------------------------------------------------------- the child


class _Control:
    """Commands that may arrive before the trainer exists are kept and applied when it does.

    Re-entrant lock: a signal handler runs on the main thread and may interrupt it while
    it holds the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._trainer: Any = None
        self.stop_requested = False
        self._paused = False
        self._save = False
        self.finished = threading.Event()

    def apply(self, command: str) -> None:
        with self._lock:
            if command == "stop":
                self.stop_requested = True
                self._paused = False
            elif command == "pause":
                self._paused = True
            elif command == "resume":
                self._paused = False
            elif command == "save":
                self._save = True
            trainer = self._trainer
            if trainer is None:
                return
            if command == "stop":
                trainer.stop()
            elif command == "pause":
                trainer.pause()
            elif command == "resume":
                trainer.resume()
            elif command == "save":
                trainer.request_save()

    def attach(self, trainer: Any) -> bool:
        """Hand over the trainer and replay pending commands; False when a stop came first."""
        with self._lock:
            self._trainer = trainer
            if self._paused:
                trainer.pause()
            if self._save:
                trainer.request_save()
            return not self.stop_requested


def _listen(commands: Any, control: _Control) -> None:
    """Child-side thread: apply commands; stop (and so save) if the parent process dies."""
    parent = mp.parent_process()
    while not control.finished.is_set():
        try:
            command = commands.get(timeout=0.2)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                control.apply("stop")
                return
            continue
        except (EOFError, OSError):
            control.apply("stop")
            return
        if command in COMMANDS:
            control.apply(command)


def _redirect_output(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def prepare_job(job: TrainJob, emit: Any = None) -> PreparedRun:
    """Prepare ``job`` with the one run set-up (:func:`core.train.setup.prepare_run`): its trainer, and the
    run directory's lock, which the returned run holds until released (in the child: until training ends).

    Runs in the child. Raises ``CorpusError``/``CheckpointError``/``ValueError`` with
    messages a user can act on. ``emit`` receives :class:`NoteEvent` lines.
    """
    import torch

    from core.train.setup import prepare_run

    threads = job.threads or default_threads()
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (only possible once per process)
        pass
    emit = emit or (lambda _event: None)
    return prepare_run(job.request(threads), on_report=lambda report, step: emit(NoteEvent(step, report.summary())),
                       on_note=lambda text, step: emit(NoteEvent(step, text)))


def _child_main(job: TrainJob, events: Any, commands: Any) -> None:
    """Entry point of the training process."""
    if job.log_path is not None:
        try:
            _redirect_output(Path(job.log_path))
        except OSError:
            pass
    control = _Control()
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, lambda _signum, _frame: control.apply("stop"))
    threading.Thread(target=_listen, args=(commands, control), name="tweetgen-commands", daemon=True).start()

    run: PreparedRun | None = None
    trainer: Any = None
    step = 0
    try:
        from core.store.checkpoints import CheckpointError
        from core.data.corpus import CorpusError
        from core.errors import TweetgenError

        try:
            run = prepare_job(job, events.put)
            trainer = run.trainer
            step = trainer.progress.step
            if not control.attach(trainer):
                events.put(DoneEvent(step, "stopped", f"stopped before training began (step {step})", None))
            else:
                for event in trainer.run():
                    step = event.step
                    events.put(event)
        except (CorpusError, CheckpointError, ValueError) as exc:
            last = trainer.last_checkpoint if trainer is not None else None
            worded = exc.as_hint() if isinstance(exc, TweetgenError) else None  # the app words it in its flags
            events.put(DoneEvent(step, "error", str(exc), last, hint=worded))
    except BaseException as exc:  # a crash must still reach the parent as an event
        traceback.print_exc()
        last = trainer.last_checkpoint if trainer is not None else None
        detail = str(exc).strip().splitlines()
        message = f"training crashed: {type(exc).__name__}" + (f": {detail[0]}" if detail else "")
        events.put(DoneEvent(step, "error", message, last))
    finally:
        control.finished.set()
        sys.stdout.flush()
        sys.stderr.flush()
        events.close()
        events.join_thread()  # make sure the final events are in the pipe before exiting
        if run is not None:
            run.release()  # the run directory is free once the last event is on its way


# ---------------------------------------------------------------- the parent


@contextmanager
def real_std_streams() -> Iterator[None]:
    """Put the process' real stdout/stderr back in ``sys`` while a child is spawned.

    multiprocessing passes ``sys.stderr.fileno()`` to the helper processes it starts; an
    app that has replaced ``sys.stderr`` (Textual does, with a capture whose fileno is
    -1) would make the spawn fail with "bad value(s) in fds_to_keep".
    """
    saved = sys.stdout, sys.stderr
    try:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            try:
                ok = stream is not None and stream.fileno() >= 0
            except (AttributeError, OSError, ValueError):
                ok = False
            original = getattr(sys, f"__{name}__")
            if not ok and original is not None:
                setattr(sys, name, original)
        yield
    finally:
        sys.stdout, sys.stderr = saved



class TrainingProcess:
    """Parent-side handle of one training run in a spawned child process.

    ``start()`` launches it; events come out of :meth:`get_event` (or by iterating) in
    order and end with exactly one :class:`DoneEvent`. Given ``on_events``, they are
    handed to it instead, from the pump thread (see :meth:`__init__`). The commands only ask: a pause
    is confirmed by a ``PauseEvent``, a save by a ``CheckpointEvent``. :meth:`stop`
    waits until the final checkpoint is written. Events are pumped off the process
    queue by an internal thread, so :meth:`stop` works whether or not someone else is
    reading events at the time, and a child that dies silently still ends the stream.
    """

    MAX_BATCH = 10_000  # events handed to on_events at once, at most

    def __init__(self, job: TrainJob, on_events: Callable[[list[BackgroundEvent]], None] | None = None) -> None:
        """``on_events``: called from the pump thread with the events in order, as soon as they
        arrive, each call with every event that had queued up meanwhile (one, unless the child
        writes them faster than they are taken: a UI can then coalesce a burst). It must be
        quick and thread-safe (a UI posts messages); an exception it raises is kept in
        :attr:`callback_error` and the events keep flowing. With it, :meth:`get_event` is not
        available: nothing else is queued.
        """
        self.job = job
        self._on_events = on_events
        self.callback_error: BaseException | None = None
        self._ctx = mp.get_context("spawn")
        self._events: Any = None  # the queues are made in start(): making one can spawn a helper process
        self._commands: Any = None
        self._local: queue.Queue[BackgroundEvent] = queue.Queue()
        self._process: Any = None
        self._pump: threading.Thread | None = None
        self._finished = threading.Event()
        self._returned_done = False
        self.started: StartEvent | None = None
        self.done: DoneEvent | None = None
        self.last_checkpoint: Path | None = None
        self.step = 0
        self.paused = False

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("this training process was already started; make a new TrainingProcess")
        # daemon: if the parent exits without stop(), multiprocessing's exit hook sends
        # SIGTERM, which the child turns into a stop that saves a checkpoint.
        with real_std_streams():
            self._events = self._ctx.Queue()
            self._commands = self._ctx.Queue()
            self._process = self._ctx.Process(
                target=_child_main, args=(self.job, self._events, self._commands), name="tweetgen-train", daemon=True
            )
            self._process.start()
        self._pump = threading.Thread(target=self._pump_events, name="tweetgen-train-events", daemon=True)
        self._pump.start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def state(self) -> TrainingState:
        """``idle`` (not started, or ended), ``starting``, ``running``, ``paused``, or ``error`` (ended in one)."""
        if self._process is None:
            return "idle"
        if self.done is not None:
            return "error" if self.done.reason == "error" else "idle"
        if self.started is None:
            return "starting"
        return "paused" if self.paused else "running"

    @property
    def finished(self) -> bool:
        """The run has ended and its process has exited (or was given up on)."""
        return self._finished.is_set()

    def pause(self) -> None:
        self._send("pause")

    def resume(self) -> None:
        self._send("resume")

    def request_save(self) -> None:
        """Ask for a checkpoint of the current step (also while paused)."""
        self._send("save")

    def request_stop(self) -> None:
        """Ask for a stop (and its checkpoint) without waiting; the DoneEvent says when it is done."""
        self._send("stop")

    def stop(self, timeout: float = 60.0) -> DoneEvent | None:
        """Stop after the current step and wait for the final checkpoint; returns the DoneEvent.

        If the child does not finish within ``timeout`` seconds it gets SIGTERM (its own
        clean stop) and then, after a few more seconds, SIGKILL.
        """
        if self._process is None:
            return None
        self._send("stop")
        if not self._finished.wait(timeout):
            self._process.terminate()
            if not self._finished.wait(5.0):
                self._process.kill()
                self._finished.wait(5.0)
        return self.done

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has ended; True if it has."""
        return self._finished.wait(timeout)

    def close(self) -> None:
        """Release the queues; kills the child if it is somehow still alive. Idempotent.

        Waits for the event pump to end first, so that afterwards :attr:`finished` holds
        and no thread of this handle touches the queues being closed.
        """
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)
        if self._pump is not None and self._pump is not threading.current_thread():
            self._pump.join(15.0)
        queues, self._commands, self._events = (self._commands, self._events), None, None
        for q in queues:
            if q is not None:
                q.close()
                q.cancel_join_thread()

    def __enter__(self) -> TrainingProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._process is not None and not self.finished:
            self.stop()
        self.close()

    # ------------------------------------------------------------ events

    def get_event(self, timeout: float | None = None) -> BackgroundEvent | None:
        """The next event, waiting up to ``timeout`` seconds (None: until one comes).

        Returns None on timeout, and always once the DoneEvent has been returned.
        """
        if self._process is None:
            raise RuntimeError("start() the training process first")
        if self._on_events is not None:
            raise RuntimeError("this training process hands its events to on_events")
        if self._returned_done:
            return None
        try:
            event = self._local.get(timeout=timeout)
        except queue.Empty:
            return None
        if isinstance(event, DoneEvent):
            self._returned_done = True
        return event

    def __iter__(self) -> Iterator[BackgroundEvent]:
        while (event := self.get_event()) is not None:
            yield event

    # ------------------------------------------------------------ internals

    def _send(self, command: str) -> None:
        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r}")
        if self._process is None:
            raise RuntimeError("start() the training process first")
        if self.done is None and self._commands is not None:
            self._commands.put(command)

    def _record(self, event: BackgroundEvent) -> None:
        self.step = max(self.step, event.step)
        if isinstance(event, StartEvent):
            self.started = event
        elif isinstance(event, PauseEvent):
            self.paused = event.paused
        elif isinstance(event, CheckpointEvent):
            self.last_checkpoint = event.path
        elif isinstance(event, DoneEvent):
            self.done = event
            self.paused = False
            if event.last_checkpoint is not None:
                self.last_checkpoint = event.last_checkpoint

    def _receive(self, process: Any, events: Any, timeout: float) -> BackgroundEvent | None:
        """The next event off the process queue; None when none came within ``timeout`` and the
        child is alive; a DoneEvent saying so when the child died silently or contact was lost."""
        try:
            return events.get(timeout=timeout) if timeout > 0 else events.get_nowait()
        except queue.Empty:
            if timeout <= 0 or process.is_alive():
                return None
            try:  # gone: take whatever it flushed before exiting
                return events.get(timeout=0.5)
            except queue.Empty:
                return DoneEvent(
                    self.step, "error",
                    f"the training process exited unexpectedly (exit code {process.exitcode}); "
                    f"see {self.job.log_path or 'its output'}",
                    self.last_checkpoint,
                )
        except (EOFError, OSError, ValueError):
            return DoneEvent(self.step, "error", "lost contact with the training process", self.last_checkpoint)

    def _deliver(self, batch: list[BackgroundEvent]) -> None:
        if self._on_events is None:
            for event in batch:
                self._local.put(event)
            return
        try:
            self._on_events(batch)
        except Exception as exc:  # noqa: BLE001 - the pump must go on: finished is set only at the DoneEvent
            if self.callback_error is None:
                self.callback_error = exc

    def _pump_events(self) -> None:
        process, events = self._process, self._events  # close() may drop the attributes meanwhile
        try:
            while True:
                event = self._receive(process, events, 0.1)
                if event is None:
                    continue
                batch = [event]  # and whatever queued up meanwhile: a burst is handed over at once
                while len(batch) < self.MAX_BATCH and not isinstance(batch[-1], DoneEvent):
                    more = self._receive(process, events, 0)
                    if more is None:
                        break
                    batch.append(more)
                for item in batch:
                    self._record(item)
                self._deliver(batch)
                if isinstance(batch[-1], DoneEvent):
                    break
            process.join(10.0)  # it exits right after its last event
        finally:
            self._finished.set()
