"""The degradation guard's judgement: after a validation, is the run diverging, overfitting, or fine?

Pure bookkeeping on the run's progress counters (no torch, no I/O); the trainer acts on the
verdict (:meth:`core.train.trainer.Trainer._guard`: roll back and slow down, or keep the best
and say so). The statistic, and why it tells the two apart, is in that method's docstring.
"""

from __future__ import annotations

from typing import Any, Literal

Verdict = Literal["diverging", "overfitting"] | None


def judge(progress: Any, config: Any, val: float, interval: float | None) -> Verdict:
    """The verdict on validation score ``val`` (bits/char) given ``interval``, the mean training
    bits/char since the previous validation (None: no steps since). Updates the counters on
    ``progress`` (``train_best``, ``worse_evals``, ``overfit_evals``, ``overfit_since``).

    ``diverging``: validation *and* the interval training loss more than ``guard_margin`` above their
    bests, ``guard_patience`` times in a row. ``overfitting``: validation clearly worse while training
    holds, ``guard_patience`` times in a row; said once per best step unless ``early_stop`` is asked."""
    p, c = progress, config
    train_worse = interval is not None and interval > p.train_best + c.guard_margin
    if interval is not None:
        p.train_best = min(p.train_best, interval)
    if not val > p.best_val + c.guard_margin:
        p.worse_evals = p.overfit_evals = 0
        return None
    if train_worse:
        p.worse_evals, p.overfit_evals = p.worse_evals + 1, 0
        return "diverging" if p.worse_evals >= c.guard_patience else None
    p.worse_evals, p.overfit_evals = 0, p.overfit_evals + 1
    if p.overfit_evals < c.guard_patience or (p.overfit_since == p.best_step and not c.early_stop):
        return None
    p.overfit_since = p.best_step
    return "overfitting"
