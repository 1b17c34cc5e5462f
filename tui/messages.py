"""Every message a worker thread sends to the UI, in one place.

A message goes to the widget that shows it (``post_message`` is thread-safe), whose own
handler updates it; what the App must also act on (state, notifications, quitting)
bubbles on up to it, and what only the App acts on is posted to the App. Training
messages wrap the :mod:`core.events` dataclass that the training process produced, so
the fields are documented once, there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from core.events import BackgroundEvent, NoteEvent
from core.events import CheckpointEvent, DoneEvent, EvalEvent, GuardEvent, PauseEvent, SampleEvent, StartEvent, StepEvent

if TYPE_CHECKING:
    from core.store.policy import BootPlan
    from core.store.registry import CheckpointInfo
    from tui.services.generation_stream import GeneratorSource


# ---------------------------------------------------------------- start-up and models


@dataclass
class CorpusLoaded(Message):
    """The corpus was read in the UI process (for its size, and the untrained model's characters)."""

    path: Path
    label: str  # what the panel calls the corpus ("demo corpus", a file name)
    n_texts: int
    summary: str


@dataclass
class CorpusProgress(Message):
    """How far the boot worker has read a large corpus file (a few times a second, bytes)."""

    label: str
    done: int
    total: int


@dataclass
class CorpusFailed(Message):
    path: Path
    error: str  # one line, from CorpusError


@dataclass
class CorpusReport(Message):
    """The open-corpus screen's worker read a file (``error``: one line, when it could not)."""

    path: Path
    filters: dict[str, object]  # the FilterConfig fields it was read with
    texts: list[str] | None
    report: object  # core.data.corpus.LoadReport | None
    error: str | None = None


@dataclass
class CorpusOpened(Message):
    """A corpus opened from inside the app has its run resolved and a model: training on it can start."""

    run_dir: Path


@dataclass
class RunResolved(Message):
    """Where this session's checkpoints live and what start-up loads (needs the registry, so it is
    decided in a worker; the App takes ``plan.run_dir`` in its handler, on the UI thread)."""

    plan: BootPlan


@dataclass
class RunHistory(Message):
    """Validation history of the run's newest checkpoint: rows of [step, train_bpc, val_bpc]."""

    history: list[list[float]]


@dataclass
class CheckpointsListed(Message):
    """A fresh listing: the run's checkpoints plus the demo and any --checkpoint file."""

    infos: list[CheckpointInfo]


@dataclass
class ModelReady(Message):
    """A model is loaded; ``interrupt`` stops the current stream now, else it applies from the next sample."""

    source: GeneratorSource
    interrupt: bool


@dataclass
class ModelFailed(Message):
    path: Path | None
    error: str  # one line, from CheckpointError


@dataclass
class Failed(Message):
    """Work off the UI thread that is not a Textual worker (the training pump's delivery) failed."""

    what: str
    error: str


@dataclass
class FollowLoaded(Message):
    """A load that follows the run's best checkpoint is over (loaded or not): the next may start."""

    path: Path


@dataclass
class CorpusTexts(Message):
    """The training texts, read: the main screen indexes them for the novelty check."""

    texts: list[str]


@dataclass
class NoveltyReady(Message):
    """The novelty index over the training texts is built (``index`` None: it could not be)."""

    index: object  # core.model.novelty.NoveltyIndex | None
    error: str | None = None


@dataclass
class NoModel(Message):
    """Nothing to sample from: no checkpoint and no readable corpus."""

    reason: str


# ---------------------------------------------------------------- sampling


@dataclass
class SampleChunk(Message):
    """Characters of sample ``sample_id``, batched to at most one message per frame."""

    sample_id: int
    text: str
    probs: tuple[float, ...] = ()  # the model's probability of each character of ``text``, at T=1
    acts: tuple[float, ...] = ()  # the watched unit's state after each character (neuron view, key u), else empty


@dataclass
class SampleFinished(Message):
    """The sampler stopped: ``complete`` is False when it was cancelled (resample, switch)."""

    sample_id: int
    complete: bool
    eos_prob: float | None = None  # the model ended the text: its <eos>'s probability (None: cut at max_len, or cancelled)


# ---------------------------------------------------------------- training


@dataclass
class TrainingStarted(Message):
    event: StartEvent


@dataclass
class TrainingProgress(Message):
    event: StepEvent


@dataclass
class TrainingEvaluated(Message):
    event: EvalEvent


@dataclass
class TrainingGuarded(Message):
    """Validation stayed worse than its best and training responded (overfitting said, rolled back, or will stop)."""

    event: GuardEvent


@dataclass
class CheckpointWritten(Message):
    event: CheckpointEvent


@dataclass
class TrainingPaused(Message):
    event: PauseEvent


@dataclass
class TrainingLogged(Message):
    """An event that is only logged: a note, a training sample, or one this version of the app
    has no panel for (training carries on)."""

    event: object


@dataclass
class TrainingFinished(Message):
    """The run ended: finished, stopped, diverged or failed (``event.reason``)."""

    event: DoneEvent


TRAINING_MESSAGES: dict[type, type[Message]] = {
    StartEvent: TrainingStarted,
    StepEvent: TrainingProgress,
    EvalEvent: TrainingEvaluated,
    GuardEvent: TrainingGuarded,
    CheckpointEvent: CheckpointWritten,
    PauseEvent: TrainingPaused,
    SampleEvent: TrainingLogged,
    NoteEvent: TrainingLogged,
    DoneEvent: TrainingFinished,
}


def coalesce(batch: list[BackgroundEvent]) -> list[BackgroundEvent]:
    """The events of a burst worth showing: a periodic checkpoint followed by a newer one in the
    same burst is dropped (at one checkpoint per step the UI needs only the newest); every other
    event, and every checkpoint written for a reason (s, stop, the end), is kept, in order."""
    last = max((i for i, e in enumerate(batch) if isinstance(e, CheckpointEvent)), default=-1)
    return [e for i, e in enumerate(batch)
            if not (isinstance(e, CheckpointEvent) and i < last and e.reason == "periodic")]


def training_message(event: BackgroundEvent) -> Message:
    """The UI message for one event of the training process."""
    return TRAINING_MESSAGES.get(type(event), TrainingLogged)(event)  # type: ignore[call-arg]
