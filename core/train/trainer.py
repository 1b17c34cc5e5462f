"""The training loop: teacher forcing, masked cross-entropy, schedule-free AdamW by default (or Adam), linear warm-up then a constant or cosine rate, clipping.

``Trainer.run()`` is a generator of :mod:`core.events`; whoever drives it (the CLI, a
training process for the TUI, a test) decides what to do with them. ``pause()``,
``resume()``, ``stop()`` and ``request_save()`` may be called from any thread; they take
effect between steps, so a completed step is never lost.

Exact resume: the batch order of an epoch depends only on ``(seed, epoch)``, and a
checkpoint stores epoch, position in the epoch, optimizer state and the torch RNG
state, so N steps in one go and N/2 + resume + N/2 give the same weights.

Under ``torchrun`` with several processes (:mod:`core.train.distributed`) the same loop runs on
every rank, wrapped in DDP: each rank steps on its share of the same global batch, and
one small ``all_reduce`` per step keeps the ranks' loss, stop and save decisions and
clock identical, so they validate (over shares of the validation set, summed), save
(rank 0 writes) and stop at the same step.
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from core.store import checkpoints
from core import defaults
from core.train import distributed, guard

from core.store import registry
from core.data.batching import BucketBatcher, encode_all, make_batch, shard
from core.events import (
    CheckpointEvent,
    DoneEvent,
    EvalEvent,
    GuardEvent,
    PauseEvent,
    SampleEvent,
    StartEvent,
    StepEvent,
    TrainEvent,
)
from core.model.gru_bf16 import resolve_precision
from core.train.averaging import Averager
from core.train.device import resolve_device
from core.train.evaluate import LN2, evaluate_bpc, evaluate_sums, length_cost_bpc, masked_loss_sum
from core.model.gru import CharGRU
from core.model.links import link_lengths
from core.model.sampler import SampleConfig, sample
from core.data.vocab import CharVocab

@dataclass
class TrainConfig:
    """How to train. The defaults are the tuned ones (see bench/RESULTS.md).

    The default optimizer is schedule-free AdamW: it needs no horizon, so a run with a
    budget and an open-ended one (the app, ``--until-stopped``) follow the same schedule
    (warm-up, then a constant rate; the weights used for validation, sampling and
    checkpoints are the optimizer's running average). ``optimizer="adam"`` with the
    cosine schedule is the classic recipe for a known budget.
    """

    batch_size: int = defaults.BATCH_SIZE
    optimizer: str = defaults.OPTIMIZER  # "schedulefree" (AdamW, horizon-free) or "adam"
    lr: float = defaults.LR  # chosen across horizons, bench/RESULTS.md (issue 8)
    lr_schedule: str = defaults.LR_SCHEDULE  # after linear warm-up: "constant", or "cosine" to min_lr_ratio * lr over the budget
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    clip: float = defaults.CLIP
    # schedule-free AdamW's decoupled decay, defaults.WEIGHT_DECAY; with "adam" it is torch's L2 term and defaults to 0
    # (the classic recipe, measured without it). None = that default, resolved in __post_init__; a resumed run keeps its own.
    weight_decay: float | None = None
    epochs: int | None = None
    max_steps: int | None = None
    minutes: float | None = None
    val_every: int = defaults.VAL_EVERY
    val_limit: int = 2000  # tweets used for periodic validation (all of them for `tweetgen eval`)
    ckpt_every: int = defaults.CKPT_EVERY  # a multiple of val_every, so each checkpoint carries its own score
    sample_every: int = 0
    keep_last: int = 0  # 0 keeps every checkpoint
    keep_best: int = defaults.KEEP_BEST
    seed: int = defaults.SEED
    device: str = "auto"
    threads: int | None = None
    # "fp32", or "bf16": bf16 matmuls with fp32 master weights where the hardware has bf16
    # arithmetic, else fp32 with a note (core/model/gru_bf16.py). Validation and checkpoints are fp32.
    precision: str = defaults.PRECISION
    log_interval_s: float = 0.1
    divergence_factor: float = 4.0  # stop when loss exceeds this times the starting loss
    # The degradation guard (Trainer._guard): when validation is more than guard_margin
    # bits/char above its best for guard_patience evaluations in a row, it asks why.
    # Training loss clearly above its own best too (divergence): restore the best weights
    # and multiply the rate by guard_lr_factor; after guard_max_rollbacks of those, stop
    # (reason "degraded"). Training loss still at its best or falling (overfitting): say so
    # once and keep training, or stop if early_stop (reason "early stop").
    guard_margin: float = 0.05
    guard_patience: int = 2
    guard_lr_factor: float = 0.5
    guard_max_rollbacks: int = 3
    early_stop: bool = False  # stop when the guard finds the model overfitting (the best checkpoint is kept)

    def __post_init__(self) -> None:
        if self.weight_decay is None:
            self.weight_decay = defaults.WEIGHT_DECAY if self.optimizer == "schedulefree" else 0.0
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if self.optimizer not in ("schedulefree", "adam"):
            raise ValueError(f"optimizer must be 'schedulefree' or 'adam', got {self.optimizer!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if not (self.guard_margin > 0 and 0 < self.guard_lr_factor < 1 and self.guard_patience >= 1 and self.guard_max_rollbacks >= 0):
            raise ValueError("guard settings: margin > 0, 0 < lr factor < 1, patience >= 1, max rollbacks >= 0")
        for name in ("epochs", "max_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be at least 1, got {value}")
        if self.minutes is not None and not self.minutes > 0:
            raise ValueError(f"minutes must be positive, got {self.minutes}")
        if self.clip <= 0:
            raise ValueError(f"clip must be positive, got {self.clip}")
        for name in ("val_every", "ckpt_every", "sample_every", "keep_last", "keep_best"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> dict[str, Any]:
        """The settings of a checkpoint's ``train_config`` that this version knows, as keyword arguments.

        Checkpoints written before the optimizer was a setting trained with Adam and cosine.
        """
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in dict(stored).items() if k in known}
        if stored and "optimizer" not in stored:
            values["optimizer"] = "adam"
        return values


# Open-ended training (the app, ``tweetgen train --until-stopped``): a chart point about every
# 10 s and a checkpoint about every 20 s on a laptop CPU. Stored and given settings win.
def fingerprint(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


@dataclass
class _Progress:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    elapsed: float = 0.0
    best_val: float = float("inf")
    best_step: int = -1
    val_step: int = -1  # the step last_val was measured at
    lr_scale: float = 1.0  # lowered by the degradation guard; saved, so a resumed run keeps it
    rollbacks: int = 0
    worse_evals: int = 0  # evaluations in a row clearly worse than the best, with training loss clearly worse too
    overfit_evals: int = 0  # evaluations in a row clearly worse than the best, with training loss still at its best
    overfit_since: int = -1  # the best step when the guard last said "overfitting" (-1: it has not)
    train_best: float = float("inf")  # the lowest interval training bits/char so far (the guard's statistic)
    interval_nats: float = 0.0  # training loss summed over the characters since the last validation
    interval_chars: int = 0
    last_val: float | None = None
    last_loss: float | None = None
    history: list[list[float]] = field(default_factory=list)  # [step, train_bpc, val_bpc or nan]


class _StateOnly:
    """Stands in for an optimizer when writing a checkpoint from a snapshot of its state."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def state_dict(self) -> dict[str, Any]:
        return self._state


@dataclass(frozen=True)
class Share:
    """This rank's part of a global batch, handed by :meth:`Trainer.batch_at` to :meth:`Trainer.train_step`.

    One process: the whole batch, ``weight`` 1, ``global_chars`` None. Several (torchrun): the rank's
    rows, and ``global_chars`` the characters of the whole global batch; ``weight`` is 0 for a rank whose
    share is empty (it steps on a stand-in row that counts for nothing)."""

    batch: Any
    weight: float = 1.0
    global_chars: int | None = None

    def to(self, device: torch.device) -> Share:
        return Share(self.batch.to(device), self.weight, self.global_chars)


@dataclass(frozen=True)
class Agreement:
    """What every rank decided together at a step's ``all_reduce`` (several processes): stop, save, and the clock."""

    stop: bool
    save: bool
    elapsed: float  # the ranks' mean training wall time


@dataclass(frozen=True)
class StepResult:
    """One optimizer step (:meth:`Trainer.train_step`): the mean loss in nats/char over ``chars`` real characters;
    ``ok`` False for a non-finite loss or gradient (the step was not taken); ``agreed`` on several processes."""

    loss: float
    chars: int
    ok: bool
    agreed: Agreement | None = None


class _Window:
    """The training loss and characters since the last :class:`StepEvent`, and when it began (for chars/s)."""

    def __init__(self) -> None:
        self.restart()
        self.last_report = 0.0

    def restart(self) -> None:
        """Begin a new window now (after a report, or a pause)."""
        self.loss, self.chars, self.start = 0.0, 0, time.perf_counter()

    def exclude_time(self) -> None:
        """Leave out of chars/s the time until now (a validation, a sample or a checkpoint is not training)."""
        self.start = time.perf_counter()

    def add(self, loss: float, chars: int) -> None:
        self.loss += loss * chars
        self.chars += chars

    def due(self, interval_s: float, step: int) -> bool:
        return time.perf_counter() - self.last_report >= interval_s or step == 1

    def close(self) -> tuple[float, float]:
        """(mean loss, chars/s) of the window, and a new one begins."""
        now = time.perf_counter()
        result = self.loss / self.chars, self.chars / max(now - self.start, 1e-9)
        self.restart()
        self.last_report = now
        return result


class Trainer:
    """Trains a :class:`CharGRU` and reports :mod:`core.events` as it goes."""

    def __init__(
        self,
        model: CharGRU,
        vocab: CharVocab,
        train_texts: Sequence[str],
        val_texts: Sequence[str],
        config: TrainConfig,
        run_dir: str | Path,
        *,
        resume_from: checkpoints.Checkpoint | None = None,
        extra_state: dict[str, Any] | None = None,
    ) -> None:
        if not train_texts:
            raise ValueError("no training texts")
        self.config = config
        self.vocab = vocab
        self.run_dir = Path(run_dir)
        self.device = resolve_device(config.device)
        self.rank, self.world = distributed.rank_world()
        if self.device.type == "cuda" and self.device.index is None and self.world > 1:
            self.device = torch.device("cuda", torch.cuda.current_device())  # the LOCAL_RANK's GPU (core.train.distributed)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.model = model.to(self.device)
        self.precision, precision_note = resolve_precision(config.precision, self.device)
        self.model.precision = self.precision
        self.train_ids = encode_all(train_texts, vocab)
        self.val_ids = encode_all(val_texts[: config.val_limit], vocab) if config.val_limit else encode_all(val_texts, vocab)
        # one batch of the epoch order is a *global* batch: every rank takes its share of it (run())
        self.batcher = BucketBatcher(self.train_ids, config.batch_size * self.world, seed=config.seed)
        self.optimizer = make_optimizer(self.model, config)
        if resume_from is None and self.model.config.max_length and float(self.model.length_prior.sum()) == 0:
            self.model.set_length_prior([len(ids) - 2 for ids in self.train_ids])
        if resume_from is None and not self.model.config.link_lengths:
            self.model.config = replace(self.model.config, link_lengths=link_lengths(train_texts))  # core.model.links
        self.val_length_bpc = length_cost_bpc(self.model, self.val_ids)  # constant: the prior is fixed at the start
        self.averager = Averager(self.model, self.optimizer, config.optimizer == "schedulefree")  # averaged_model()
        # (averaged weights, optimizer state, training weights) at the best validation, for the guard's rollback
        self._best_snapshot: tuple[dict[str, Any], dict[str, Any], Any] | None = None
        # (train_state, metrics) at the best validation: the rest of a checkpoint of the best, to write it when the
        # guard needs it on disk (_write_best) and no periodic checkpoint fell on that step
        self._best_record: tuple[dict[str, Any], dict[str, Any]] | None = None
        self._restored_at = -1  # the step at which the guard restored the best weights (nothing trained since)
        self.extra_state = dict(extra_state or {})
        self.extra_state.setdefault("data_fingerprint", fingerprint(train_texts))
        self.progress = _Progress()
        self.resumed_from: Path | None = None
        self.notes: list[str] = [precision_note] if precision_note else []
        rng_restored = False
        if resume_from is not None:
            rng_restored = self._restore(resume_from)
        self._ddp: torch.nn.parallel.DistributedDataParallel | None = None
        if self.world > 1:
            if not rng_restored:  # each rank its own dropout stream, reproducible from (seed, rank, step)
                torch.manual_seed((config.seed + 1) * 1_000_003 + self.rank * 10_007 + self.progress.step)
            self.averager.make_copy()  # before DDP hooks the parameters
            self._ddp = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                **_no_buffer_sync())  # the only buffer (length_prior) is the same everywhere and fixed
        self._pause = threading.Event()
        self._stop = threading.Event()
        self._save = threading.Event()
        self.last_checkpoint: Path | None = None
        self._initial_loss: float | None = None

    # ------------------------------------------------------------ control (any thread)

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    def stop(self) -> None:
        self._stop.set()
        self._pause.clear()

    def request_save(self) -> None:
        self._save.set()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    # ------------------------------------------------------------ schedule

    @property
    def total_steps(self) -> int | None:
        c = self.config
        candidates = []
        if c.max_steps:
            candidates.append(c.max_steps)
        if c.epochs:
            candidates.append(c.epochs * len(self.batcher))
        return min(candidates) if candidates else None

    def lr_at(self, step: int, elapsed: float) -> float:
        """The schedule: linear warm-up, then constant or cosine; times the guard's ``lr_scale``.

        Open-ended runs (no budget: the app, ``--until-stopped``) and budgeted ones share
        this function; without a budget, cosine has no end to aim at and stays constant.
        """
        c = self.config
        peak = c.lr * self.progress.lr_scale
        if c.warmup_steps and step < c.warmup_steps:
            return peak * (step + 1) / c.warmup_steps
        if c.lr_schedule == "constant":
            return peak
        total = self.total_steps
        if total:
            frac = (step - c.warmup_steps) / max(1, total - c.warmup_steps)
        elif c.minutes:
            frac = elapsed / (c.minutes * 60.0)
        else:
            return peak
        frac = min(max(frac, 0.0), 1.0)
        floor = peak * c.min_lr_ratio
        return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * frac))

    def averaged_model(self) -> CharGRU:
        """The model that validation, samples and checkpoints use, in eval mode (:class:`core.train.averaging.Averager`)."""
        return self.averager.model()

    # ------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        p = self.progress
        state: dict[str, Any] = {
            "run": self.run_dir.name,
            "step": p.step,
            "epoch": p.epoch,
            "batch_in_epoch": p.batch_in_epoch,
            "elapsed": p.elapsed,
            "best_val": p.best_val if math.isfinite(p.best_val) else None,
            "best_step": p.best_step,
            "lr_scale": p.lr_scale,
            "rollbacks": p.rollbacks,
            "overfit_since": p.overfit_since,
            "train_best": p.train_best if math.isfinite(p.train_best) else None,
            "rng_state": torch.get_rng_state(),
            "world_size": self.world,  # processes it trained with (torchrun); the batch is config batch_size * world_size
            "train_weights": self.averager.training_point(),
            "train_config": self.config.to_dict(),
        }
        if self.world > 1:  # collective: every rank calls state() at the same step (save)
            state["rng_states"] = distributed.gather_tensors(torch.get_rng_state())
        state.update(self.extra_state)
        return state

    def metrics(self) -> dict[str, Any]:
        p = self.progress
        return {
            "train_loss": p.last_loss,
            "train_bpc": p.last_loss / LN2 if p.last_loss is not None else None,
            "val_bpc": p.last_val,
            "val_step": p.val_step,  # val_bpc measures this checkpoint's own weights only when val_step == step
            "best_val_bpc": p.best_val if math.isfinite(p.best_val) else None,
            "best_step": p.best_step,
            "val_length_bpc": self.val_length_bpc,
            "history": p.history[-2000:],
        }

    def _restore(self, ckpt: checkpoints.Checkpoint) -> bool:
        """Continue from ``ckpt``; True when this rank's random state was restored."""
        ts = ckpt.train_state
        note = self.averager.restore(ckpt.model_state, ckpt.optimizer_state, ts.get("train_weights"), self.config.optimizer)
        if note:
            self.notes.append(note)
        p = self.progress
        p.step = int(ts.get("step", 0))
        p.epoch = int(ts.get("epoch", 0))
        p.batch_in_epoch = int(ts.get("batch_in_epoch", 0))
        p.elapsed = float(ts.get("elapsed", 0.0))
        best = ts.get("best_val")
        p.best_val = float(best) if best is not None else float("inf")
        p.best_step = _count(ts.get("best_step"), -1)
        p.rollbacks = _count(ts.get("rollbacks"), 0)
        p.overfit_since = _count(ts.get("overfit_since"), -1)
        train_best = ts.get("train_best")
        p.train_best = float(train_best) if isinstance(train_best, (int, float)) and math.isfinite(train_best) else float("inf")
        scale = ts.get("lr_scale", 1.0)
        p.lr_scale = float(scale) if isinstance(scale, (int, float)) and 0 < scale <= 1 else 1.0
        p.val_step = _count(ckpt.metrics.get("val_step"), -1)
        p.last_val = ckpt.metrics.get("val_bpc")
        p.last_loss = ckpt.metrics.get("train_loss")
        p.history = [list(h) for h in ckpt.metrics.get("history", [])]
        self._remap_position(ts)
        rng = ts.get("rng_state")
        states = ts.get("rng_states")
        if self.world > 1:  # each rank its own state when the world size is the one saved; else a fresh seed
            rng = states[self.rank] if isinstance(states, list) and len(states) == self.world else None
        restored = False
        if isinstance(rng, torch.Tensor):
            try:
                torch.set_rng_state(rng)
                restored = True
            except (RuntimeError, TypeError):
                self.notes.append("the stored random state did not fit; dropout and sampling will differ from an uninterrupted run")
        if ts.get("data_fingerprint") not in (None, self.extra_state.get("data_fingerprint")):
            self.notes.append("the corpus differs from the one this checkpoint was trained on; batches will differ")
        self.resumed_from = ckpt.path
        return restored

    def _remap_position(self, ts: dict[str, Any]) -> None:
        """Keep the place in the epoch when the global batch (batch size x processes) changed.

        ``batch_in_epoch`` counts global batches; with another size the epoch is cut
        differently, so the same share of the epoch is kept (an approximation, noted).
        Resuming on another number of processes keeps the global batch where it divides
        (:func:`core.train.setup.train_config`), and then nothing moves.
        """
        stored = ts.get("train_config")
        old_batch = stored.get("batch_size") if isinstance(stored, dict) else None
        old_world = _count(ts.get("world_size"), 1)
        if not isinstance(old_batch, int) or isinstance(old_batch, bool) or old_batch < 1 or old_world < 1:
            return
        old, new = old_batch * old_world, self.batcher.batch_size
        p = self.progress
        if old == new or not p.batch_in_epoch:
            return
        p.batch_in_epoch = min(len(self.batcher), round(p.batch_in_epoch * old / new))
        self.notes.append(f"the global batch changed from {old} to {new} texts; the rest of epoch {p.epoch} "
                          "is cut differently from the uninterrupted run's")

    def save(self, reason: str) -> CheckpointEvent:
        """Write a checkpoint of the current step (atomic), then apply retention.

        A checkpoint's name and step always match the weights inside it: right after the
        guard restored the best weights (no step trained since), the weights are the best
        step's, so they are not written under this step's name; the best step's own file
        is written instead when it is missing (:meth:`_write_best`).
        """
        if self._restored_at == self.progress.step:
            event = self._write_best(reason)
            self.last_checkpoint = event.path
            return event
        path = self.run_dir / checkpoints.checkpoint_name(self.progress.step)
        tags = [reason]
        state = self.state()  # on every rank: it gathers their random states
        with distributed.together():  # a full disk on rank 0 stops every rank here, not in the next collective
            if self.rank == 0:  # the only rank that writes
                checkpoints.save_checkpoint(
                    path, model=self.averaged_model(), vocab=self.vocab, optimizer=self.optimizer,
                    train_state=state, metrics=self.metrics(), tags=tags,
                )
                if self.config.keep_last:
                    registry.prune(self.run_dir, self.config.keep_last, self.config.keep_best)
        self.last_checkpoint = path
        return CheckpointEvent(self.progress.step, path, reason, self.progress.last_val)

    def _write_best(self, reason: str, guard: tuple[float, int] | None = None) -> CheckpointEvent:
        """The best validation's checkpoint, under its own step's name: written from the snapshot
        taken at that validation when no checkpoint fell on that step (validations are more
        frequent than checkpoints), so the best the guard keeps is always on disk.

        The file carries the best step's weights, optimizer state, position and metrics, with
        the guard's present rate scale and rollback count (or ``guard``'s, about to be set):
        resuming it continues the run as the guard left it. An existing file of that step is
        left alone (it is those weights).
        """
        p = self.progress
        path = self.run_dir / checkpoints.checkpoint_name(max(p.best_step, 0))
        if self._best_snapshot is None or self._best_record is None or p.best_step < 0:
            best = registry.best_checkpoint(self.run_dir)  # after a resume: the run's best file is the snapshot
            path = best.path if best is not None else (self.last_checkpoint or path)
        elif self.rank == 0 and not path.exists():
            weights, optimizer_state, _train_weights = self._best_snapshot
            state, metrics = self._best_record
            lr_scale, rollbacks = guard or (p.lr_scale, p.rollbacks)
            state = {**state, "lr_scale": lr_scale, "rollbacks": rollbacks, "overfit_since": p.overfit_since}
            model = copy.deepcopy(self.averaged_model())
            model.load_state_dict(weights)
            checkpoints.save_checkpoint(path, model=model, vocab=self.vocab, optimizer=_StateOnly(optimizer_state),
                                        train_state=state, metrics=metrics, tags=[reason])
        return CheckpointEvent(max(p.best_step, 0), path, reason, p.best_val if math.isfinite(p.best_val) else None)

    # ------------------------------------------------------------ the loop

    def _finished(self) -> str | None:
        c, p = self.config, self.progress
        total = self.total_steps
        if total is not None and p.step >= total:
            return "finished"
        if c.minutes is not None and p.elapsed >= c.minutes * 60.0:
            return "time"
        return None

    def _validate(self) -> Iterator[TrainEvent]:
        """Validate (honest bits/char: length cost included), then let the guard respond (:meth:`_guard`)."""
        if not self.val_ids:
            return
        c, p = self.config, self.progress
        val = self._val_bpc() + self.val_length_bpc
        interval = p.interval_nats / p.interval_chars / LN2 if p.interval_chars else None  # training bits/char since the last
        p.interval_nats, p.interval_chars = 0.0, 0
        p.last_val, p.val_step = val, p.step
        train_bpc = (p.last_loss or float("nan")) / LN2
        if val < p.best_val:
            p.best_val, p.best_step, p.worse_evals, p.overfit_evals = val, p.step, 0, 0
            p.overfit_since = -1  # learning again: a later stall is news
            self._best_snapshot = ({k: v.detach().clone() for k, v in self.averaged_model().state_dict().items()},
                                   copy.deepcopy(self.optimizer.state_dict()), self.averager.training_point())
            self._best_record = (self.state(), {**self.metrics(), "history": p.history[-1999:] + [[float(p.step), train_bpc, val]]})
        p.history.append([float(p.step), train_bpc, val])
        yield EvalEvent(p.step, val, p.best_val, train_bpc, p.best_step, self.val_length_bpc)
        verdict = self._guard(val, interval)
        if verdict is not None:
            yield verdict

    def _guard(self, val: float, interval: float | None) -> GuardEvent | None:
        """Tell overfitting from divergence, and respond to each (None: nothing to do).

        The statistic: validation is *clearly worse* when it is more than ``guard_margin``
        bits/char above its best. Then the training loss decides why. The training figure is
        the mean training bits/char over every character since the previous validation
        (``val_every`` steps, by default 200 batches): one batch is noisy (tweets are
        batched by length, and short ones cost more per character), the interval mean
        over hundreds of batches is not, and it is the same on every rank. It is compared
        with its own best interval so far:

        - *divergence*: the interval training loss is also more than ``guard_margin`` above
          its best (the optimizer is making the fit worse, on the data it trains on);
        - *overfitting*: it is not (training still improves or holds while validation
          rises: the model memorises its training texts).

        Each needs ``guard_patience`` clearly-worse validations in a row of its own kind, so
        one noisy validation does nothing. Divergence: roll back to the best weights and
        lower the rate, and after ``guard_max_rollbacks`` stop (:meth:`_respond_to_degradation`).
        Overfitting: never roll back (the weights now are better trained, not broken); make
        sure the best is on disk, say once that validation stopped improving, and carry on,
        or stop when the user asked for ``early_stop``.
        """
        c, p = self.config, self.progress
        verdict = guard.judge(p, c, val, interval)  # the counters and the statistic: core.train.guard
        if verdict is None:
            return None
        if verdict == "diverging":
            return self._respond_to_degradation(val, interval)
        best = self._write_best("periodic")  # the best stays on disk, marked best by its score
        message = (f"validation stopped improving at step {p.best_step}; the model now memorises: more data or dropout helps "
                   f"(best {p.best_val:.3f} bits/char, kept: {best.path.name})")
        if c.early_stop:
            self._early_stopped = f"{message}. Stopped early, as asked; best checkpoint: {best.path}"
            return GuardEvent(p.step, val, p.best_val, p.best_step, "early stop", self.lr_at(p.step, p.elapsed), best.path,
                              self._early_stopped)
        return GuardEvent(p.step, val, p.best_val, p.best_step, "overfit", self.lr_at(p.step, p.elapsed), best.path, message)

    def _val_bpc(self) -> float:
        """Bits/char of the averaged model on the validation texts; with several ranks each
        scores a share of the batches and the sums are added up (the same figure on every rank)."""
        if self._ddp is None:
            return evaluate_bpc(self.averaged_model(), self.val_ids, device=self.device)
        nats, chars = evaluate_sums(self.averaged_model(), self.val_ids, device=self.device, rank=self.rank, world=self.world)
        nats, chars = distributed.all_sum([nats, float(chars)], self.device)
        return nats / chars / LN2 if chars else float("nan")

    def _validate_if_stale(self) -> Iterator[TrainEvent]:
        """Before a checkpoint the user asked for (stop, s, the end): validate its own weights,
        so it can be chosen as the run's best (a score of an earlier step would not count)."""
        if self.config.val_every and self.val_ids and self.progress.val_step != self.progress.step:
            yield from self._validate()

    def _respond_to_degradation(self, val: float, interval: float | None = None) -> GuardEvent:
        """Validation stayed clearly worse than its best: roll back and slow down, or give up.

        Rolling back restores the weights and optimizer state of the best validation
        (kept in memory, or read from the run's best checkpoint after a resume), so the
        steps that made things worse are undone, and the rate is lowered so they are not
        simply made again. After ``guard_max_rollbacks`` rollbacks the run stops.
        """
        c, p = self.config, self.progress
        p.worse_evals = 0
        if p.rollbacks >= c.guard_max_rollbacks:
            self._write_best("periodic")  # the stop names the best: on disk first
        else:  # the rollback names it: on disk first, carrying the rate lowered below (a resume from it goes on from there)
            self._write_best("periodic", guard=(p.lr_scale * c.guard_lr_factor, p.rollbacks + 1))
        best_info = registry.best_checkpoint(self.run_dir)
        best_path = best_info.path if best_info else None
        where = f"best {p.best_val:.3f} bits/char at step {p.best_step}"
        if p.rollbacks >= c.guard_max_rollbacks:
            self._degraded = (
                f"validation stayed worse than its best ({val:.3f} vs {where}) after {p.rollbacks} rollbacks; "
                f"stopped. Best checkpoint: {best_path or 'none written'}"
            )
            return GuardEvent(p.step, val, p.best_val, p.best_step, "stop", self.lr_at(p.step, p.elapsed), best_path, self._degraded)
        snapshot = self._best_snapshot
        if snapshot is None:
            if best_info is not None and self.rank == 0:
                try:
                    ckpt = checkpoints.load_checkpoint(best_info.path)
                    snapshot = (ckpt.model_state, ckpt.optimizer_state, ckpt.train_state.get("train_weights"))
                except checkpoints.CheckpointError:
                    snapshot = None
            snapshot = distributed.broadcast_object(snapshot) if self._ddp is not None else snapshot  # rank 0's files
        restored = ""
        if snapshot is not None:
            self.averager.restore(*snapshot, self.config.optimizer)
            p.last_val, p.val_step = p.best_val, p.step
            self._restored_at = p.step  # these weights are the best step's: never saved under this step's name
            restored = f"restored the weights of step {p.best_step}, "
        p.rollbacks += 1
        p.lr_scale *= c.guard_lr_factor
        lr = self.lr_at(p.step, p.elapsed)
        rising = f"training loss rose too ({interval:.3f} vs its best {p.train_best:.3f}): diverging; " if interval is not None else ""
        message = (f"validation {val:.3f} bits/char stayed worse than the {where}, {rising}"
                   f"{restored}learning rate lowered to {lr:.2g}")
        return GuardEvent(p.step, val, p.best_val, p.best_step, "rollback", lr, best_path, message)

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(t).all()) for t in self.model.parameters())

    def train_step(self, batch: Any) -> StepResult:
        """One optimizer step on a batch (or a :class:`Share` of one)."""
        model, opt = self.model, self.optimizer
        share = (batch if isinstance(batch, Share) else Share(batch)).to(self.device)
        if self._ddp is not None:
            return self._distributed_step(share)
        batch = share.batch
        logits, _ = model(batch.inputs, None, batch.remaining)  # (B, T, V)
        loss_sum, n_chars = masked_loss_sum(logits, batch.targets)
        loss = loss_sum / n_chars
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.clip)
        value = float(loss.detach())
        if not (math.isfinite(value) and math.isfinite(float(grad_norm))):
            return StepResult(value, n_chars, False)
        opt.step()
        return StepResult(value, n_chars, True)

    def _distributed_step(self, share: Share) -> StepResult:
        """:meth:`train_step` on one rank of several: DDP averages the gradients, one all_reduce agrees on the rest.

        Each rank's loss is its summed cross-entropy times ``share.weight * world / global chars``
        (:class:`Share`): DDP's average of the ranks' gradients is then the gradient of the mean
        over the global batch, as one process would compute it.
        """
        opt, weight, total_chars, batch = self.optimizer, share.weight, share.global_chars, share.batch
        assert self._ddp is not None and total_chars is not None
        logits, _ = self._ddp(batch.inputs, None, batch.remaining)  # (B, T, V)
        loss_sum, _n = masked_loss_sum(logits, batch.targets)
        opt.zero_grad(set_to_none=True)
        (loss_sum * (weight * self.world / total_chars)).backward()  # DDP all-reduces the gradients here
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)  # the same on every rank
        local = float(loss_sum.detach()) if weight else 0.0
        summed, stop, save, clock = distributed.all_sum(
            [local, float(self._stop.is_set()), float(self._save.is_set()), self._clock()], self.device)
        agreed = Agreement(stop > 0, save > 0, clock / self.world)
        value = summed / total_chars
        if not (math.isfinite(value) and math.isfinite(float(grad_norm))):
            return StepResult(value, total_chars, False, agreed)
        opt.step()
        return StepResult(value, total_chars, True, agreed)

    def batch_at(self, rows: Sequence[int]) -> Share:
        """This rank's share of the global batch ``rows`` (all of it for one process)."""
        if self._ddp is None:
            return Share(make_batch([self.train_ids[i] for i in rows]))
        mine = shard(rows, self.rank, self.world)
        return Share(make_batch([self.train_ids[i] for i in (mine or rows[:1])]), weight=1.0 if mine else 0.0,
                     global_chars=sum(len(self.train_ids[i]) - 1 for i in rows))

    def run(self) -> Iterator[TrainEvent]:
        """Train until the budget is spent or ``stop()``; yields events. Always ends with a DoneEvent."""
        c, p = self.config, self.progress
        # -------- start: clear interrupted writes, announce the run, score the starting weights once
        yield from self._start()
        # -------- the loop: one optimizer step per batch, epoch after epoch, until a reason to end
        window = _Window()
        self._clock_base, self._clock_start = p.elapsed, time.perf_counter()
        agreed: Agreement | None = None  # several processes: what the ranks decided at the last step
        reason = self._finished()
        while reason is None:
            order = self.batcher.epoch_order(p.epoch)
            while p.batch_in_epoch < len(order) and reason is None:
                # stop or pause, between steps only (a step is never cut short); the ranks stop together
                if (agreed is not None and agreed.stop) if self._ddp is not None else self._stop.is_set():
                    reason = "stopped"
                    break
                if self._pause.is_set() and self._ddp is None:  # (pausing is the app's; it trains on one process)
                    yield from self._wait_while_paused()
                    window.restart()
                    continue
                # learning rate, forward, backward, step
                lr = self._set_lr()
                result = self.train_step(self.batch_at(order[p.batch_in_epoch]))
                agreed = result.agreed
                # divergence: a non-finite or exploding loss ends the run; the last good checkpoint stays
                diverged = self._diverged(result)
                if diverged is not None:
                    yield diverged
                    return
                # bookkeeping: position, clock, the loss's running and interval sums
                self._count_step(result)
                window.add(result.loss, result.chars)
                # log a StepEvent about every log_interval_s
                if window.due(c.log_interval_s, p.step):
                    yield self._step_event(window, lr)
                # evaluate (and let the guard judge the score), sample, checkpoint; their time is not training's
                if c.val_every and p.step % c.val_every == 0:
                    yield from self._validate()
                    window.exclude_time()
                    if self._degraded:
                        reason = "degraded"
                        break
                    if self._early_stopped:
                        reason = "early stop"
                if c.sample_every and p.step % c.sample_every == 0 and self.rank == 0:
                    yield self._sample_event()
                    window.exclude_time()
                asked = agreed.save if agreed is not None else self._save.is_set()
                if (c.ckpt_every and p.step % c.ckpt_every == 0) or asked:
                    yield from self._checkpoint("request" if asked else "periodic")
                    window.exclude_time()
                reason = reason or self._finished()
            if p.batch_in_epoch >= len(order):
                p.epoch += 1
                p.batch_in_epoch = 0
        # -------- end: a last score and checkpoint, then a DoneEvent saying why
        yield from self._end(reason)

    # ------------------------------------------------------------ the loop's steps, in run()'s order

    def _start(self) -> Iterator[TrainEvent]:
        """Clear interrupted writes, set train mode, announce the run, and score the starting weights once."""
        c, p = self.config, self.progress
        removed = registry.remove_stale_temp_files(self.run_dir) if self.rank == 0 else 0
        if removed:
            self.notes.append(f"removed {removed} temp file(s) of interrupted writes")
        self.model.train()
        if c.optimizer == "schedulefree":
            self.optimizer.train()  # train mode for good: the averaged model is a separate copy (averaged_model)
        self._degraded: str | None = None
        self._early_stopped: str | None = None
        yield StartEvent(p.step, self.run_dir, str(self.device), len(self.train_ids), len(self.val_ids),
                         self.model.num_parameters(), self.total_steps, self.resumed_from, self.world)
        if c.val_every and p.last_val is None and self.val_ids:
            yield from self._validate()

    def _set_lr(self) -> float:
        """This step's learning rate (:meth:`lr_at`), set on every parameter group; returned for the StepEvent."""
        lr = self.lr_at(self.progress.step, self.progress.elapsed)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _diverged(self, result: StepResult) -> DoneEvent | None:
        """The DoneEvent that ends a run whose step failed, whose loss exploded past ``divergence_factor`` times the
        first step's (at least half the loss of a uniform guess), or whose weights are no longer finite; else None."""
        c, p = self.config, self.progress
        if self._initial_loss is None and result.ok:
            self._initial_loss = max(result.loss, math.log(len(self.vocab)) / 2)
        limit = c.divergence_factor * (self._initial_loss or result.loss)
        if result.ok and result.loss <= limit and self._weights_finite():
            return None
        good = self.last_checkpoint or self.resumed_from  # a resumed run's last good one is where it began
        return DoneEvent(
            p.step, "diverged",
            f"training diverged at step {p.step + 1} (loss {result.loss:.3g}); lower the learning rate "
            f"(now {c.lr:g}). Last good checkpoint kept: {good or 'none written yet'}",
            good,
        )

    def _count_step(self, result: StepResult) -> None:
        """A step was taken: its place, the clock (the ranks' agreed one), the running loss and the guard's interval sums."""
        p = self.progress
        p.step += 1
        p.batch_in_epoch += 1
        p.elapsed = self._clock() if result.agreed is None else result.agreed.elapsed
        p.last_loss = result.loss if p.last_loss is None else 0.9 * p.last_loss + 0.1 * result.loss
        if not math.isfinite(p.train_best):  # the first step's loss (before it) is the baseline training must beat
            p.train_best = result.loss / LN2
        p.interval_nats += result.loss * result.chars
        p.interval_chars += result.chars

    def _step_event(self, window: _Window, lr: float) -> StepEvent:
        p, total = self.progress, self.total_steps
        loss, chars_per_s = window.close()
        progress, eta = self._progress_eta(total)
        return StepEvent(p.step, p.epoch, loss, lr, chars_per_s, p.elapsed, progress, eta, total)

    def _sample_event(self) -> SampleEvent:
        step = self.progress.step
        text = sample(self.averaged_model(), self.vocab, SampleConfig(temperature=defaults.TEMPERATURE, seed=step))
        return SampleEvent(step, text, defaults.TEMPERATURE)

    def _checkpoint(self, why: str) -> Iterator[TrainEvent]:
        """A periodic checkpoint, or one asked for (validated first when the last score is of an older step)."""
        self._save.clear()
        if why == "request":
            yield from self._validate_if_stale()
        yield self.save(why)

    def _end(self, reason: str) -> Iterator[TrainEvent]:
        """The last score and checkpoint (none after a degradation: the current weights are the worse ones), then
        the DoneEvent saying why the run ended."""
        c, p = self.config, self.progress
        if reason == "degraded":
            best = registry.best_checkpoint(self.run_dir)
            yield DoneEvent(p.step, reason, self._degraded or "validation got worse", self.last_checkpoint,
                            best.path if best else None)
            return
        if reason in ("finished", "time"):
            yield from self._validate_if_stale()
        if self.last_checkpoint is None or self.last_checkpoint.name != checkpoints.checkpoint_name(p.step) or reason == "stopped":
            yield from self._validate_if_stale()
            yield self.save("stop" if reason == "stopped" else "final")
        messages = {
            "early stop": self._early_stopped or "stopped early",
            "finished": f"finished {p.step} steps",
            "time": f"time budget of {c.minutes:g} min reached at step {p.step}" if c.minutes else "time budget reached",
            "stopped": f"stopped at step {p.step}; checkpoint saved",
        }
        best = registry.best_checkpoint(self.run_dir)
        yield DoneEvent(p.step, reason, messages[reason], self.last_checkpoint, best.path if best else None)

    def _progress_eta(self, total: int | None) -> tuple[float | None, float | None]:
        p, c = self.progress, self.config
        fracs = []
        if total:
            fracs.append(p.step / total)
        if c.minutes:
            fracs.append(p.elapsed / (c.minutes * 60.0))
        if not fracs:
            return None, None
        frac = min(1.0, max(fracs))
        eta = p.elapsed * (1 - frac) / frac if frac > 0 else None
        return frac, eta

    def _clock(self) -> float:
        """Training wall time so far, paused time excluded."""
        return self._clock_base + time.perf_counter() - self._clock_start

    def _wait_while_paused(self) -> Iterator[TrainEvent]:
        self._clock_base = self._clock()
        yield PauseEvent(self.progress.step, True)
        while self._pause.is_set() and not self._stop.is_set():
            if self._save.is_set():
                self._save.clear()
                yield from self._validate_if_stale()
                yield self.save("request")
            time.sleep(0.05)
        self._clock_start = time.perf_counter()
        yield PauseEvent(self.progress.step, False)


def _no_buffer_sync() -> dict[str, bool]:
    """DDP's switch for not syncing buffers in forward: ``forward_sync_buffers`` since torch 2.13 (whose
    ``broadcast_buffers`` prints a FutureWarning on every rank), ``broadcast_buffers`` before."""
    import inspect

    params = inspect.signature(torch.nn.parallel.DistributedDataParallel.__init__).parameters
    return {"forward_sync_buffers": False} if "forward_sync_buffers" in params else {"broadcast_buffers": False}


def make_optimizer(model: CharGRU, config: TrainConfig) -> torch.optim.Optimizer:
    """Schedule-free AdamW (the default) or Adam. The rate is set every step by ``Trainer.lr_at``."""
    if config.optimizer == "schedulefree":
        import schedulefree

        # warmup_steps=0: lr_at does the warm-up, the same way for both optimizers.
        opt = schedulefree.AdamWScheduleFree(model.parameters(), lr=config.lr, warmup_steps=0, weight_decay=config.weight_decay)
        opt.train()  # and it stays in train mode: Trainer.averaged_model computes the average into a copy
        return opt
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _count(value: Any, default: int) -> int:
    """A whole number read from a checkpoint, or ``default`` when it is not one."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= -1 else default
