"""What the trainer reports while it runs.

Plain, picklable dataclasses: the CLI renders them as a progress bar, the TUI receives
them from a training process through a queue. All of them carry the step they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

# Why a checkpoint was written: every ``checkpoint_every`` steps, at the end of a budget,
# on a stop, or on request (the app's ``s``).
CheckpointReason = Literal["periodic", "final", "stop", "request"]
# How a run ended (DoneEvent.reason).
# "early stop": the guard found the model overfitting and the user asked for early stopping.
DoneReason = Literal["finished", "time", "stopped", "diverged", "degraded", "early stop", "error"]
# Where training stands, one vocabulary for the process handle, the app and its panel:
# none running ("idle": not started, or over), its process starting, training, paused,
# saving its last checkpoint before quitting, or the last run ended in an error.
TrainingState = Literal["idle", "starting", "running", "paused", "stopping", "error"]


@dataclass(frozen=True)
class StepEvent:
    """Training progress, at most a few times a second. ``loss`` is the mean nats/char since the last one."""

    step: int
    epoch: int
    loss: float
    lr: float
    chars_per_s: float
    elapsed: float
    progress: float | None  # 0..1 when the run has a known end
    eta_s: float | None
    total_steps: int | None


@dataclass(frozen=True)
class EvalEvent:
    """A validation. ``val_bpc`` is honest bits/char: for a length-aware model it includes
    ``length_bpc``, the cost of the target length (-log2 of its corpus frequency, spread
    over the characters), so it compares fairly with a model that is not told the length."""

    step: int
    val_bpc: float
    best_val_bpc: float
    train_bpc: float
    best_step: int = -1  # the step of best_val_bpc
    length_bpc: float = 0.0  # the share of val_bpc that pays for the length; val_bpc - length_bpc = given the length


@dataclass(frozen=True)
class GuardEvent:
    """Validation got clearly and persistently worse than its best, and training responded.

    Why decides how (``core.train.trainer.Trainer._guard``). Divergence (training loss rising too):
    ``action`` "rollback" (best weights restored, learning rate lowered to ``lr``) or "stop"
    (the run ends next with DoneEvent reason "degraded"). Overfitting (training loss still
    at its best): "overfit" (said once; training goes on, the best checkpoint is kept) or,
    with early stopping asked for, "early stop" (the run ends next, reason "early stop").
    """

    step: int
    val_bpc: float
    best_val_bpc: float
    best_step: int
    action: str
    lr: float
    best_checkpoint: Path | None
    message: str


@dataclass(frozen=True)
class CheckpointEvent:
    step: int
    path: Path
    reason: CheckpointReason
    val_bpc: float | None


@dataclass(frozen=True)
class SampleEvent:
    step: int
    text: str
    temperature: float


@dataclass(frozen=True)
class PauseEvent:
    step: int
    paused: bool


@dataclass(frozen=True)
class StartEvent:
    """First event of a run: what is being trained, on what."""

    step: int
    run_dir: Path
    device: str
    n_train: int
    n_val: int
    n_params: int
    total_steps: int | None
    resumed_from: Path | None
    world_size: int = 1  # processes training together (torchrun); 1 without it


@dataclass(frozen=True)
class DoneEvent:
    """Last event of a run, saying why it ended (:data:`DoneReason`).

    ``best_checkpoint``: the run's checkpoint with the best validation score, when known.
    """

    step: int
    reason: DoneReason
    message: str
    last_checkpoint: Path | None
    best_checkpoint: Path | None = None
    hint: Any = None  # a core.errors.Hint: the message with its settings, for a front end to word in its flags


@dataclass(frozen=True)
class NoteEvent:
    """A line worth showing that is not progress: the corpus summary, a resume note."""

    step: int
    text: str


TrainEvent = StartEvent | StepEvent | EvalEvent | GuardEvent | CheckpointEvent | SampleEvent | PauseEvent | DoneEvent
BackgroundEvent = TrainEvent | NoteEvent  # what a training process reports
