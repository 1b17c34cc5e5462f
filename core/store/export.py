"""Samples as JSON records: one schema for ``tweetgen sample --json`` and the app's export (``e``).

A record holds the text, whether the model ended it (``<eos>``) or it was cut at the
length limit, everything needed to reproduce it (seed, temperature, top-k, top-p,
prime, target length, checkpoint and step), the model's own bits/char for it, and,
when checked, its novelty against the training texts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.model.novelty import NoveltyResult
from core.model.sampler import SampleConfig, Written


def sample_record(written: Written, cfg: SampleConfig, *, checkpoint: str | Path | None, step: int | None,
                  novelty: NoveltyResult | None = None) -> dict[str, Any]:
    """The JSON object of one finished sample (``cfg`` is the config it was written with, seed included)."""
    record: dict[str, Any] = {
        "text": written.text, "ended": written.ended, "seed": cfg.seed, "temperature": cfg.temperature,
        "top_k": cfg.top_k, "top_p": cfg.top_p, "prime": cfg.prime, "length": cfg.length,
        "checkpoint": None if checkpoint is None else str(checkpoint), "step": step,
        "bits_per_char": round(written.bits_per_char, 4),
    }
    if novelty is not None:
        record["novelty"] = {"longest": novelty.longest, "source": novelty.source, "copied": novelty.copied,
                             "match": novelty.match}
    return record


def to_line(record: dict[str, Any]) -> str:
    """One JSON line (UTF-8 text kept readable, not \\u-escaped)."""
    return json.dumps(record, ensure_ascii=False)


def append_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Append records to ``path`` as JSON lines, flushed and fsynced; returns how many were written.

    Appending (never rewriting) means an export can only add to what is already saved.
    """
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for record in records:
            fh.write(to_line(record) + "\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    return n
