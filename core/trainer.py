"""The training loop: teacher forcing, masked cross-entropy, Adam, clipping, schedule.

``Trainer.run()`` is a generator of :mod:`core.events`; whoever drives it (the CLI, a
training process for the TUI, a test) decides what to do with them. ``pause()``,
``resume()``, ``stop()`` and ``request_save()`` may be called from any thread; they take
effect between steps, so a completed step is never lost.

Exact resume: the batch order of an epoch depends only on ``(seed, epoch)``, and a
checkpoint stores epoch, position in the epoch, optimizer state and the torch RNG
state, so N steps in one go and N/2 + resume + N/2 give the same weights.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from core import checkpoints
from core.data import BucketBatcher, encode_all, make_batch
from core.events import (
    CheckpointEvent,
    DoneEvent,
    EvalEvent,
    PauseEvent,
    SampleEvent,
    StartEvent,
    StepEvent,
    TrainEvent,
)
from core.model import CharGRU, ModelConfig
from core.sampler import SampleConfig, sample
from core.vocab import PAD_ID, CharVocab

LN2 = math.log(2.0)


@dataclass
class TrainConfig:
    """How to train. The defaults are the tuned ones (see bench/RESULTS.md)."""

    batch_size: int = 32
    lr: float = 8e-3  # best of 120 s sweeps on the dev corpus (bench/RESULTS.md)
    lr_schedule: str = "cosine"  # "cosine" (to min_lr_ratio * lr) or "constant"; linear warm-up first
    warmup_steps: int = 30
    min_lr_ratio: float = 0.1
    clip: float = 1.0
    weight_decay: float = 0.0
    epochs: int | None = None
    max_steps: int | None = None
    minutes: float | None = None
    val_every: int = 200
    val_limit: int = 2000  # tweets used for periodic validation (all of them for `tweetgen eval`)
    ckpt_every: int = 500
    sample_every: int = 0
    keep_last: int = 0  # 0 keeps every checkpoint
    keep_best: int = 1
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    log_interval_s: float = 0.1
    divergence_factor: float = 4.0  # stop when loss exceeds this times the starting loss

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
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


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" picks CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is available; use --device cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' asked for, but Apple MPS is not available; use --device cpu")
    return device


def masked_loss_sum(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over real positions: logits (B, T, V), targets (B, T) -> (nats, n_chars).

    ``<pad>`` targets are excluded; ``<eos>`` is a real target and counts.
    """
    flat_logits = logits.reshape(-1, logits.shape[-1])  # (B*T, V)
    flat_targets = targets.reshape(-1)  # (B*T,)
    total = F.cross_entropy(flat_logits, flat_targets, ignore_index=PAD_ID, reduction="sum")
    return total, int((flat_targets != PAD_ID).sum())


@torch.no_grad()
def evaluate_bpc(model: CharGRU, encoded: Sequence[Sequence[int]], batch_size: int = 256, device: torch.device | None = None) -> float:
    """Bits per character over ``encoded`` (padding excluded, ``<eos>`` included)."""
    if not encoded:
        return float("nan")
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    batcher = BucketBatcher(encoded, batch_size, seed=0)
    nats, chars = 0.0, 0
    for rows in sorted(batcher.epoch_order(0)):
        batch = make_batch([encoded[i] for i in rows]).to(device)
        logits, _ = model(batch.inputs)
        loss, n = masked_loss_sum(logits, batch.targets)
        nats += float(loss)
        chars += n
    model.train(was_training)
    return nats / chars / LN2


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
    last_val: float | None = None
    last_loss: float | None = None
    history: list[list[float]] = field(default_factory=list)  # [step, train_bpc, val_bpc or nan]


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
        if config.threads:
            torch.set_num_threads(config.threads)
        self.model = model.to(self.device)
        self.train_ids = encode_all(train_texts, vocab)
        self.val_ids = encode_all(val_texts[: config.val_limit], vocab) if config.val_limit else encode_all(val_texts, vocab)
        self.batcher = BucketBatcher(self.train_ids, config.batch_size, seed=config.seed)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.extra_state = dict(extra_state or {})
        self.extra_state.setdefault("data_fingerprint", fingerprint(train_texts))
        self.progress = _Progress()
        self.resumed_from: Path | None = None
        self.notes: list[str] = []
        if resume_from is not None:
            self._restore(resume_from)
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
        c = self.config
        if c.warmup_steps and step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        if c.lr_schedule == "constant":
            return c.lr
        total = self.total_steps
        if total:
            frac = (step - c.warmup_steps) / max(1, total - c.warmup_steps)
        elif c.minutes:
            frac = elapsed / (c.minutes * 60.0)
        else:
            return c.lr
        frac = min(max(frac, 0.0), 1.0)
        floor = c.lr * c.min_lr_ratio
        return floor + (c.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * frac))

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
            "rng_state": torch.get_rng_state(),
            "train_config": self.config.to_dict(),
        }
        state.update(self.extra_state)
        return state

    def metrics(self) -> dict[str, Any]:
        p = self.progress
        return {
            "train_loss": p.last_loss,
            "train_bpc": p.last_loss / LN2 if p.last_loss is not None else None,
            "val_bpc": p.last_val,
            "best_val_bpc": p.best_val if math.isfinite(p.best_val) else None,
            "history": p.history[-2000:],
        }

    def _restore(self, ckpt: checkpoints.Checkpoint) -> None:
        self.model.load_state_dict(ckpt.model_state)
        if ckpt.optimizer_state:
            try:
                self.optimizer.load_state_dict(ckpt.optimizer_state)
            except (ValueError, KeyError, RuntimeError, TypeError, IndexError):
                self.notes.append("optimizer state did not fit; starting Adam afresh")
        ts = ckpt.train_state
        p = self.progress
        p.step = int(ts.get("step", 0))
        p.epoch = int(ts.get("epoch", 0))
        p.batch_in_epoch = int(ts.get("batch_in_epoch", 0))
        p.elapsed = float(ts.get("elapsed", 0.0))
        best = ts.get("best_val")
        p.best_val = float(best) if best is not None else float("inf")
        p.last_val = ckpt.metrics.get("val_bpc")
        p.last_loss = ckpt.metrics.get("train_loss")
        p.history = [list(h) for h in ckpt.metrics.get("history", [])]
        rng = ts.get("rng_state")
        if isinstance(rng, torch.Tensor):
            try:
                torch.set_rng_state(rng)
            except (RuntimeError, TypeError):
                self.notes.append("the stored random state did not fit; dropout and sampling will differ from an uninterrupted run")
        if ts.get("data_fingerprint") not in (None, self.extra_state.get("data_fingerprint")):
            self.notes.append("the corpus differs from the one this checkpoint was trained on; batches will differ")
        self.resumed_from = ckpt.path

    def save(self, reason: str) -> CheckpointEvent:
        """Write a checkpoint of the current step (atomic), then apply retention."""
        path = self.run_dir / checkpoints.checkpoint_name(self.progress.step)
        tags = [reason]
        checkpoints.save_checkpoint(
            path, model=self.model, vocab=self.vocab, optimizer=self.optimizer,
            train_state=self.state(), metrics=self.metrics(), tags=tags,
        )
        self.last_checkpoint = path
        if self.config.keep_last:
            checkpoints.prune(self.run_dir, self.config.keep_last, self.config.keep_best)
        return CheckpointEvent(self.progress.step, path, reason, self.progress.last_val)

    # ------------------------------------------------------------ the loop

    def _finished(self) -> str | None:
        c, p = self.config, self.progress
        total = self.total_steps
        if total is not None and p.step >= total:
            return "finished"
        if c.minutes is not None and p.elapsed >= c.minutes * 60.0:
            return "time"
        return None

    def _validate(self) -> EvalEvent | None:
        if not self.val_ids:
            return None
        p = self.progress
        val = evaluate_bpc(self.model, self.val_ids, device=self.device)
        p.last_val = val
        p.best_val = min(p.best_val, val)
        train_bpc = (p.last_loss or float("nan")) / LN2
        p.history.append([float(p.step), train_bpc, val])
        return EvalEvent(p.step, val, p.best_val, train_bpc)

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(t).all()) for t in self.model.parameters())

    def train_step(self, batch: Any) -> tuple[float, int, bool]:
        """One optimizer step; returns (mean nats/char, real chars, ok). Not ok = non-finite loss or gradient."""
        model, opt = self.model, self.optimizer
        batch = batch.to(self.device)
        logits, _ = model(batch.inputs)  # (B, T, V)
        loss_sum, n_chars = masked_loss_sum(logits, batch.targets)
        loss = loss_sum / n_chars
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), self.config.clip)
        value = float(loss.detach())
        if not (math.isfinite(value) and math.isfinite(float(grad_norm))):
            return value, n_chars, False
        opt.step()
        return value, n_chars, True

    def run(self) -> Iterator[TrainEvent]:
        """Train until the budget is spent or ``stop()``; yields events. Always ends with a DoneEvent."""
        c, p = self.config, self.progress
        removed = checkpoints.remove_stale_temp_files(self.run_dir)
        if removed:
            self.notes.append(f"removed {removed} temp file(s) of interrupted writes")
        self.model.train()
        yield StartEvent(p.step, self.run_dir, str(self.device), len(self.train_ids), len(self.val_ids),
                         self.model.num_parameters(), self.total_steps, self.resumed_from)
        if c.val_every and p.last_val is None and self.val_ids:
            event = self._validate()
            if event:
                yield event
        window_loss, window_chars, window_steps = 0.0, 0, 0
        self._clock_base, self._clock_start = p.elapsed, time.perf_counter()
        window_start = time.perf_counter()
        last_report = 0.0
        reason = self._finished()
        while reason is None:
            order = self.batcher.epoch_order(p.epoch)
            while p.batch_in_epoch < len(order) and reason is None:
                if self._stop.is_set():
                    reason = "stopped"
                    break
                if self._pause.is_set():
                    yield from self._wait_while_paused()
                    window_start = time.perf_counter()
                    window_loss, window_chars, window_steps = 0.0, 0, 0
                    continue
                lr = self.lr_at(p.step, p.elapsed)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                batch = make_batch([self.train_ids[i] for i in order[p.batch_in_epoch]])
                loss, n_chars, ok = self.train_step(batch)
                if self._initial_loss is None and ok:
                    self._initial_loss = max(loss, math.log(len(self.vocab)) / 2)
                limit = c.divergence_factor * (self._initial_loss or loss)
                if not ok or loss > limit or not self._weights_finite():
                    good = self.last_checkpoint or self.resumed_from  # a resumed run's last good one is where it began
                    yield DoneEvent(
                        p.step, "diverged",
                        f"training diverged at step {p.step + 1} (loss {loss:.3g}); lower the learning rate "
                        f"(now {c.lr:g}). Last good checkpoint kept: {good or 'none written yet'}",
                        good,
                    )
                    return
                p.step += 1
                p.batch_in_epoch += 1
                p.elapsed = self._clock()
                p.last_loss = loss if p.last_loss is None else 0.9 * p.last_loss + 0.1 * loss
                window_loss += loss * n_chars
                window_chars += n_chars
                window_steps += 1
                now = time.perf_counter()
                if now - last_report >= c.log_interval_s or p.step == 1:
                    span = max(now - window_start, 1e-9)
                    total = self.total_steps
                    progress, eta = self._progress_eta(total)
                    yield StepEvent(p.step, p.epoch, window_loss / window_chars, lr, window_chars / span,
                                    p.elapsed, progress, eta, total)
                    window_loss, window_chars, window_steps = 0.0, 0, 0
                    window_start, last_report = now, now
                if c.val_every and p.step % c.val_every == 0:
                    event = self._validate()
                    if event:
                        yield event
                    window_start = time.perf_counter()
                if c.sample_every and p.step % c.sample_every == 0:
                    text = sample(self.model, self.vocab, SampleConfig(temperature=0.8, seed=p.step))
                    self.model.train()
                    yield SampleEvent(p.step, text, 0.8)
                    window_start = time.perf_counter()
                if (c.ckpt_every and p.step % c.ckpt_every == 0) or self._save.is_set():
                    why = "request" if self._save.is_set() else "periodic"
                    self._save.clear()
                    yield self.save(why)
                    window_start = time.perf_counter()
                reason = self._finished()
            if p.batch_in_epoch >= len(order):
                p.epoch += 1
                p.batch_in_epoch = 0
        if reason in ("finished", "time") and c.val_every and self.val_ids and (p.history[-1:] or [[-1]])[0][0] != p.step:
            event = self._validate()
            if event:
                yield event
        if self.last_checkpoint is None or self.last_checkpoint.name != checkpoints.checkpoint_name(p.step) or reason == "stopped":
            yield self.save("stop" if reason == "stopped" else "final")
        messages = {
            "finished": f"finished {p.step} steps",
            "time": f"time budget of {c.minutes:g} min reached at step {p.step}" if c.minutes else "time budget reached",
            "stopped": f"stopped at step {p.step}; checkpoint saved",
        }
        yield DoneEvent(p.step, reason, messages[reason], self.last_checkpoint)

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
                yield self.save("request")
            time.sleep(0.05)
        self._clock_start = time.perf_counter()
        yield PauseEvent(self.progress.step, False)


def new_model(vocab: CharVocab, *, seed: int = 0, **model_kwargs: Any) -> CharGRU:
    """A freshly initialised model, seeded so the same arguments give the same weights."""
    torch.manual_seed(seed)
    return CharGRU(ModelConfig(vocab_size=len(vocab), **model_kwargs))
