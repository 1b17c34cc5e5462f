"""The models the screen samples from, and paced streaming; no Textual here.

torch is imported inside the functions: they run in worker threads, after the first
frame has been drawn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FRAME_S = 1 / 30  # streamed characters reach the screen at most this often


@dataclass(frozen=True)
class GeneratorSource:
    """A model to sample from, with what the screen says about it."""

    label: str  # "demo", "step 200", "untrained", a file name
    path: Path | None  # None for the untrained model
    step: int | None
    val_bpc: float | None
    model: Any = field(repr=False, compare=False)
    vocab: Any = field(repr=False, compare=False)

    def describe(self) -> str:
        if self.path is None:
            return self.label
        return self.label if self.step is None or self.label.startswith("step") else f"{self.label} · step {self.step:,}"


def preload_in_background() -> threading.Thread:
    """Start importing torch (and the engine modules the app samples with) in a daemon thread.

    Called by ``tweetgen-tui`` before it even imports Textual: the import (about a second)
    then overlaps with drawing the first frame instead of following it, and the boot
    worker's own imports just wait for it to finish.
    """

    def load() -> None:
        try:
            import core.checkpoints  # noqa: F401 - imports torch
            import core.sampler  # noqa: F401
        except Exception:  # noqa: BLE001 - the boot worker imports again and reports properly
            pass

    thread = threading.Thread(target=load, name="tweetgen-preload", daemon=True)
    thread.start()
    return thread


def setup_torch(threads: int = 1) -> None:
    """Import torch (slow: do it in a worker) and keep sampling to one thread."""
    import torch

    torch.set_num_threads(threads)


def load_source(path: Path, label: str) -> GeneratorSource:
    """Load a checkpoint for sampling; raises ``CheckpointError`` with a one-line message."""
    from core.checkpoints import load_checkpoint

    return checkpoint_source(load_checkpoint(path), path, label)


def checkpoint_source(ckpt: Any, path: Path, label: str) -> GeneratorSource:
    """The source for a checkpoint already loaded (a :class:`core.checkpoints.Checkpoint`)."""
    val = ckpt.metrics.get("val_bpc")
    return GeneratorSource(label, Path(path), ckpt.step, float(val) if val is not None else None, ckpt.model(), ckpt.vocab)


def untrained_source(texts: Sequence[str], model_kwargs: dict[str, Any], seed: int = 0) -> GeneratorSource:
    """A freshly initialised model over the corpus' characters: what training starts from."""
    from core.model import new_model
    from core.vocab import CharVocab

    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=seed, **model_kwargs).eval()
    return GeneratorSource("untrained", None, 0, None, model, vocab)


def stream_chunks(
    source: GeneratorSource,
    temperature: float,
    max_len: int,
    seed: int | None,
    pace: float,
    cancelled: Callable[[], bool],
    frame_s: float = FRAME_S,
) -> Iterator[str]:
    """Generated text in chunks: at most ``pace`` characters a second (0 = unpaced) and
    at most one chunk per frame. ``cancelled`` is checked before every character and
    during every wait, so a cancelled stream stops within a character.
    """
    from core.sampler import SampleConfig, stream

    cfg = SampleConfig(temperature=temperature, max_len=max_len, seed=seed)
    start = last_flush = time.monotonic()
    buffer: list[str] = []
    for n, sampled in enumerate(stream(source.model, source.vocab, cfg), 1):
        if cancelled():
            return
        buffer.append(sampled.char)
        if pace > 0:
            due = start + n / pace
            while (delay := due - time.monotonic()) > 0:
                if cancelled():
                    return
                time.sleep(min(delay, 0.05))
        now = time.monotonic()
        if now - last_flush >= frame_s:
            yield "".join(buffer)
            buffer.clear()
            last_flush = now
    if buffer and not cancelled():
        yield "".join(buffer)
