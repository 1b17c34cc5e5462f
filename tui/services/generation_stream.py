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
from typing import Any, NamedTuple

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
            import core.store.checkpoints  # noqa: F401 - imports torch
            import core.model.sampler  # noqa: F401
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
    from core.store.checkpoints import load_checkpoint

    return checkpoint_source(load_checkpoint(path), path, label)


def checkpoint_source(ckpt: Any, path: Path, label: str) -> GeneratorSource:
    """The source for a checkpoint already loaded (a :class:`core.store.checkpoints.Checkpoint`)."""
    val = ckpt.metrics.get("val_bpc")
    return GeneratorSource(label, Path(path), ckpt.step, float(val) if val is not None else None, ckpt.model(), ckpt.vocab)


def untrained_source(texts: Sequence[str], model_kwargs: dict[str, Any], seed: int = 0) -> GeneratorSource:
    """A freshly initialised model over the corpus' characters: what training starts from."""
    from core.model.gru import new_model
    from core.data.vocab import CharVocab

    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=seed, **model_kwargs).eval()
    return GeneratorSource("untrained", None, 0, None, model, vocab)


class StreamChunk(NamedTuple):
    """Characters that reached the screen together, with the model's probability of each (at T=1)."""

    text: str
    probs: tuple[float, ...]
    last: bool = False  # this column's text is over (ended or cut at max_len)
    eos_prob: float | None = None  # on the last chunk of a text the model ended: its <eos>'s probability
    acts: tuple[float, ...] = ()  # with a unit to watch: its state after each character (the neuron view, key u)


def stream_columns(
    columns: Sequence[tuple[GeneratorSource, Any]],
    pace: float,
    cancelled: Callable[[], bool],
    frame_s: float = FRAME_S,
    unit: int | None = None,
) -> Iterator[list[StreamChunk | None]]:
    """Several texts written together, one character of each in turn: ``columns`` are (source,
    :class:`core.model.sampler.SampleConfig`) pairs. Yields, at most once per frame, one entry per column: the
    chunk written since the last frame, or None. Each column gets at most ``pace`` characters a second
    (0 = unpaced); ``cancelled`` is checked before every character and during every wait. ``unit``: the
    chunks carry that hidden unit's state after each character (the configs must have ``keep_state``)."""
    from core.model.sampler import stream_scored

    its = [stream_scored(source.model, source.vocab, cfg) for source, cfg in columns]
    n = len(its)
    texts: list[list[str]] = [[] for _ in range(n)]
    probs: list[list[float]] = [[] for _ in range(n)]
    acts: list[list[float]] = [[] for _ in range(n)]
    eos: list[float | None] = [None] * n
    live = [True] * n
    told = [False] * n  # the last chunk was yielded
    start = last_flush = time.monotonic()
    rounds = 0
    while not all(told):
        rounds += 1
        for i, it in enumerate(its):
            if not live[i]:
                continue
            if cancelled():
                return
            ch = next(it, None)
            if ch is None:
                live[i] = False
            elif ch.char == "":  # <eos>
                eos[i] = ch.prob
                live[i] = False
            else:
                texts[i].append(ch.char)
                probs[i].append(ch.prob)
                if unit is not None and ch.state is not None:
                    acts[i].append(float(ch.state[unit]))
        if pace > 0 and any(live):
            due = start + rounds / pace
            while (delay := due - time.monotonic()) > 0:
                if cancelled():
                    return
                time.sleep(min(delay, 0.05))
        now = time.monotonic()
        if now - last_flush >= frame_s or not any(live):
            row: list[StreamChunk | None] = []
            for i in range(n):
                if told[i] or (live[i] and not texts[i]):
                    row.append(None)
                    continue
                row.append(StreamChunk("".join(texts[i]), tuple(probs[i]), not live[i], eos[i], tuple(acts[i])))
                told[i] = not live[i]
                texts[i].clear()
                probs[i].clear()
                acts[i].clear()
            if cancelled():
                return
            yield row
            last_flush = now


def stream_chunks(
    source: GeneratorSource,
    cfg: Any,
    pace: float,
    cancelled: Callable[[], bool],
    frame_s: float = FRAME_S,
    unit: int | None = None,
) -> Iterator[StreamChunk]:
    """One text (``cfg``: a :class:`core.model.sampler.SampleConfig`) in chunks: at most ``pace`` characters a
    second (0 = unpaced) and at most one chunk per frame. ``cancelled`` is checked before every character
    and during every wait, so a cancelled stream stops within a character. The last chunk has ``last``
    set (and may have no text: the ``<eos>`` alone). ``unit``: as :func:`stream_columns`."""
    for row in stream_columns([(source, cfg)], pace, cancelled, frame_s, unit):
        if row[0] is not None:
            yield row[0]
