"""core.train.guard.judge: the guard's verdict from the counters alone (no model, no torch)."""

from __future__ import annotations

import math
from types import SimpleNamespace

from core.train.guard import judge


def _run(patience: int = 2, early_stop: bool = False) -> tuple[SimpleNamespace, SimpleNamespace]:
    progress = SimpleNamespace(train_best=math.inf, best_val=2.0, best_step=100, worse_evals=0, overfit_evals=0,
                               overfit_since=-1)
    config = SimpleNamespace(guard_margin=0.05, guard_patience=patience, early_stop=early_stop)
    return progress, config


def test_one_noisy_validation_does_nothing_and_a_good_one_resets_the_count() -> None:
    p, c = _run()
    assert judge(p, c, 2.5, 1.0) is None and p.overfit_evals == 1
    assert judge(p, c, 2.01, 1.0) is None and p.overfit_evals == 0  # within the margin: fine again


def test_validation_and_training_both_worse_is_divergence() -> None:
    p, c = _run()
    judge(p, c, 2.0, 1.0)  # the training interval's best: 1.0
    assert judge(p, c, 2.5, 1.5) is None  # once: patience
    assert judge(p, c, 2.5, 1.5) == "diverging"


def test_validation_worse_while_training_holds_is_overfitting_said_once_per_best() -> None:
    p, c = _run()
    judge(p, c, 2.0, 1.0)
    assert [judge(p, c, 2.5, 0.9) for _ in range(4)] == [None, "overfitting", None, None]
    p, c = _run(early_stop=True)
    judge(p, c, 2.0, 1.0)
    assert [judge(p, c, 2.5, 0.9) for _ in range(3)] == [None, "overfitting", "overfitting"]
