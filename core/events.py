"""What the trainer reports while it runs.

Plain, picklable dataclasses: the CLI renders them as a progress bar, the TUI receives
them from a training process through a queue. All of them carry the step they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

    ``action``: "rollback" (best weights restored, learning rate lowered to ``lr``) or
    "stop" (the run ends next with DoneEvent reason "degraded").
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
    reason: str  # "periodic" | "final" | "stop" | "request" | "time"
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


@dataclass(frozen=True)
class DoneEvent:
    """Last event of a run. ``reason``: "finished" | "time" | "stopped" | "diverged" | "degraded" | "error".

    ``best_checkpoint``: the run's checkpoint with the best validation score, when known.
    """

    step: int
    reason: str
    message: str
    last_checkpoint: Path | None
    best_checkpoint: Path | None = None


TrainEvent = StartEvent | StepEvent | EvalEvent | GuardEvent | CheckpointEvent | SampleEvent | PauseEvent | DoneEvent
