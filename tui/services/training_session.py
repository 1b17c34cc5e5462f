"""The app's training: one state machine, without Textual.

Where training stands is kept here and nowhere else: the TrainingPanel draws
:attr:`TrainingSession.state` and :attr:`TrainingSession.detail`, and the keys (the
Footer) are enabled from :meth:`TrainingSession.can`. The App feeds it the training
process' events and the user's requests; every change calls ``on_change`` once, so the
front end redraws what depends on it.

States (:data:`core.events.TrainingState`)::

    idle ──launch──> starting ──started──> running <──paused(False)── paused
      ^                 │                    │ ──────paused(True)──────^  │
      │                 └──── stopping <─────┴─── (q, or a corpus opened) ┘
      └──── finished (idle, or error when the run diverged or failed) <───┘

``error`` is idle with a failure shown (the run or the corpus): space trains again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.train.process import TrainingProcess
    from core.events import DoneEvent, PauseEvent, StartEvent, TrainingState

IDLE_HINT = "idle · press space to train"


class TrainingSession:
    """The one training process of the app (at most one at a time) and where it stands."""

    def __init__(self, on_change: Callable[[], None] | None = None,
                 word: Callable[[Any], str] = str) -> None:
        """``on_change``: called after every change of state or detail. ``word``: how this front end
        words core's messages (the flags they suggest), for the error a run ends with."""
        self.on_change = on_change
        self.word = word
        self.state: TrainingState = "idle"
        self.detail = "loading…"  # the rest of the status line (plain text)
        self.process: TrainingProcess | None = None
        self.device = "-"  # what the running process trains on (from its start event)
        self.quitting = False  # q pressed while training: the app exits once the run has stopped

    # ------------------------------------------------------------ reading

    @property
    def active(self) -> bool:
        """A training process is running (or starting, paused, stopping)."""
        return self.process is not None

    def can(self, request: str) -> bool:
        """Whether ``request`` (start, pause, resume, save, open) makes sense now."""
        state = self.state
        if request == "start":
            return state in ("idle", "error") and self.process is None
        if request == "pause":
            return state in ("starting", "running")
        if request == "resume":
            return state == "paused"
        if request == "save":
            return state in ("running", "paused")
        if request == "open":  # another corpus: not while a process starts or stops
            return state not in ("starting", "stopping") and not self.quitting
        raise ValueError(f"unknown training request {request!r}")

    # ------------------------------------------------------------ transitions

    def _set(self, state: TrainingState, detail: str) -> None:
        self.state, self.detail = state, detail
        if self.on_change is not None:
            self.on_change()

    def ready(self) -> None:
        """The run is known: training can start (a failure shown stays shown)."""
        if self.state == "idle":
            self._set("idle", IDLE_HINT)

    def corpus_failed(self, error: str) -> None:
        if self.process is None:
            self._set("error", f"corpus: {error}")

    def opening(self) -> None:
        """Another corpus was opened: its run is being resolved."""
        self.device = "-"
        self._set("idle", "opening the new run…")

    def launch(self, process: TrainingProcess) -> None:
        """``process`` was started: wait for its first event."""
        if not self.can("start"):
            raise RuntimeError(f"a training process is already {self.state}")
        self.process = process
        self._set("starting", "starting the training process…")

    def started(self, event: StartEvent) -> None:
        self.device = event.device
        resumed = f" from step {event.step:,}" if event.resumed_from is not None else ""
        self._set("running" if self.state == "starting" else self.state, f"training on {event.device}{resumed}")

    def paused(self, event: PauseEvent) -> None:
        """The process confirmed a pause (or a resume); ignored once it is asked to stop."""
        if self.state == "stopping":
            return
        if event.paused:
            self._set("paused", f"paused at step {event.step:,} · space to resume")
        else:
            self._set("running", f"training on {self.device}")

    def stop(self, detail: str, *, quitting: bool = False) -> None:
        """Ask the process to stop with a checkpoint; ``detail`` says what happens then."""
        if self.process is None:
            return
        self.quitting = self.quitting or quitting
        self._set("stopping", detail)
        self.process.request_stop()

    def finished(self, event: DoneEvent) -> TrainingProcess | None:
        """The run ended: returns its process, to be closed (off the UI thread)."""
        process, self.process = self.process, None
        if event.reason in ("diverged", "error"):
            self._set("error", self.word(event.hint or event.message))
        else:
            self._set("idle", f"{event.message} · space to train more")
        return process

    # ------------------------------------------------------------ requests to the process (the state follows its events)

    def pause(self) -> None:
        if self.process is not None:
            self.process.pause()

    def resume(self) -> None:
        if self.process is not None:
            self.process.resume()

    def request_save(self) -> bool:
        """Ask for a checkpoint of the current step now; False when nothing trains."""
        if self.process is None:
            return False
        self.process.request_save()
        return True

    def shutdown(self, timeout: float) -> None:
        """The app is closing (any exit path): stop a still-running process, wait up to ``timeout``
        seconds for its checkpoint, and close it."""
        process = self.detach()
        if process is not None:
            if not process.finished:
                process.stop(timeout)
            process.close()

    def detach(self) -> TrainingProcess | None:
        """Hand over the process (the app is closing: the caller stops it); the state is left as it is."""
        process, self.process = self.process, None
        return process
