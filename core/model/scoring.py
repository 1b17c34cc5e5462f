"""How surprised a model is by a text it wrote, from its per-character probabilities; no torch here
(the app imports this before its first frame)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def bits_per_char(probs: Sequence[float], eos_prob: float | None = None) -> float:
    """Mean -log2 p over the written characters' probabilities (at T=1) and the ``<eos>``'s when the
    model ended the text: :attr:`core.model.sampler.Written.bits_per_char`, from a stream (0.0 for nothing)."""
    ps = list(probs) + ([eos_prob] if eos_prob is not None else [])
    return sum(-math.log2(max(p, 1e-300)) for p in ps) / len(ps) if ps else 0.0
