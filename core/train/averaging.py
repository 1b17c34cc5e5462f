"""The model training is for: schedule-free AdamW's running average, kept apart from the training point.

Schedule-free AdamW takes its gradient steps at one point (y, the training model's
parameters) and keeps a running average x, which is the model meant to be used:
x = y + (1 - 1/beta1)(z - y), the formula of ``optimizer.eval()``. :class:`Averager`
computes x into a copy of the model, so validating, sampling or saving never touches the
training weights (``eval()``/``train()`` in place would round them, and a resumed run would
then differ from an uninterrupted one). A checkpoint holds x as its weights and y beside
them (``train_weights``), so a resume continues from exactly the point it left. For Adam
(no average) the copy is the training model's weights.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from core.model.gru import CharGRU


class Averager:
    """The averaged model of a training model and its optimizer, and the training point's save and restore."""

    def __init__(self, model: CharGRU, optimizer: torch.optim.Optimizer, schedulefree: bool) -> None:
        self.training_model = model
        self.optimizer = optimizer
        self.schedulefree = schedulefree
        self._copy: CharGRU | None = None
        self._param_of: dict[int, torch.Tensor] | None = None  # training parameter id -> the copy's tensor for it

    def make_copy(self) -> None:
        """Make the averaged copy now (before DDP hooks the training model's parameters); else on first use."""
        if self._copy is None:
            self._copy = copy.deepcopy(self.training_model)
            self._copy.precision = "fp32"  # validation, samples and checkpoints in full precision
            self._param_of = {id(p): q.data for p, q in zip(self.training_model.parameters(), self._copy.parameters())}

    @torch.no_grad()
    def model(self) -> CharGRU:
        """The averaged model (the one validation, samples and checkpoints use), in eval mode."""
        self.make_copy()
        assert self._copy is not None and self._param_of is not None
        for group in self.optimizer.param_groups if self.schedulefree else ():
            weight = 1 - 1 / group["betas"][0]
            for p in group["params"]:
                self._param_of[id(p)].copy_(p)
                z = self.optimizer.state.get(p, {}).get("z")
                if z is not None:
                    self._param_of[id(p)].lerp_(z.to(p.device), weight)
        if not self.schedulefree:
            for src, dst in zip(self.training_model.parameters(), self._copy.parameters()):
                dst.copy_(src)
        for src, dst in zip(self.training_model.buffers(), self._copy.buffers()):
            dst.copy_(src)
        return self._copy.eval()

    def training_point(self) -> dict[str, torch.Tensor] | None:
        """Schedule-free: the training point y, saved next to the averaged weights so a resume is exact (else None)."""
        if not self.schedulefree:
            return None
        return {k: v.detach().cpu().clone() for k, v in self.training_model.state_dict().items()}

    def restore(self, weights: dict[str, torch.Tensor], optimizer_state: dict[str, Any] | None, train_weights: Any,
                optimizer_name: str) -> str | None:
        """Restore the training model and the optimizer (from a checkpoint or the guard's best snapshot); returns a
        note when the optimizer state did not fit.

        ``weights`` are the averaged ones a checkpoint holds; ``train_weights`` the schedule-free training point
        saved beside them (:meth:`training_point`). Without it (older files), y is rebuilt from x and z by
        ``optimizer.train()``'s formula.
        """
        self.training_model.load_state_dict(weights)
        note = None
        if optimizer_state:
            try:
                self.optimizer.load_state_dict(copy.deepcopy(optimizer_state))
            except (ValueError, KeyError, RuntimeError, TypeError, IndexError):
                note = f"optimizer state did not fit; starting {optimizer_name} afresh"
        if self.schedulefree:
            for group in self.optimizer.param_groups:
                group["train_mode"] = True  # this trainer never switches modes: the averaged copy is separate
            if isinstance(train_weights, dict) and set(train_weights) == set(weights):
                try:
                    self.training_model.load_state_dict(train_weights)
                    return note
                except RuntimeError:
                    pass
            with torch.no_grad():
                for group in self.optimizer.param_groups:
                    for p in group["params"]:
                        z = self.optimizer.state.get(p, {}).get("z")
                        if z is not None:
                            p.lerp_(z.to(p.device), 1 - group["betas"][0])
        return note
