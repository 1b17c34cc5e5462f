"""Checks made before a request is allowed to allocate or to train on the wrong text.

Memory: a model, batch or sample far too big for the machine is refused with one line
*before* anything is allocated. The estimate is deliberately simple (bytes of weights,
gradients, Adam state and the largest activations, see the functions below); it is
compared with the memory the system reports as available (``MemAvailable`` in
``/proc/meminfo``, lowered to a cgroup v2 container limit; free GPU memory on CUDA).
Where that cannot be read, nothing is refused. The estimate can be off by a factor of
about two either way, so the front ends also catch the allocator's own error
(:func:`is_out_of_memory`) and report it in one line.

Vocabulary: resuming a checkpoint on a corpus whose characters it has never seen
trains on ``<unk>`` symbols and reports a misleadingly good score;
:func:`check_unknown` measures that and refuses above :data:`UNKNOWN_LIMIT`.

Kept free of torch and Textual at import time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import Hint, TweetgenError, joined

FLOAT = 4  # bytes per float32
IDS = 48  # bytes per position of integer data: the batch's int64 inputs/targets/mask/remaining, the encoded list
UNKNOWN_LIMIT = 0.05  # share of a corpus' characters unknown to a resumed checkpoint's vocabulary


class LimitError(TweetgenError, ValueError):
    """A request refused before it ran (too much memory, a corpus the model cannot read); ``str()`` is one line."""


# ---------------------------------------------------------------- memory


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def _cgroup_room() -> int | None:
    """Room left under a cgroup v2 memory limit (a container), or None when unlimited/unknown."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((base / "memory.current").read_text().strip()))
    except (OSError, ValueError):
        return None


def available_memory(device: Any = "cpu") -> int | None:
    """Bytes that can still be allocated on ``device`` (CPU RAM, or a CUDA GPU's free memory); None = unknown."""
    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        try:
            import torch

            return int(torch.cuda.mem_get_info(device)[0])
        except Exception:  # noqa: BLE001 - any failure to ask means "unknown", never a refusal
            return None
    if kind != "cpu":
        return None
    room = [x for x in (_meminfo_available(), _cgroup_room()) if x is not None]
    return min(room) if room else None


def parameter_count(config: Any) -> int:
    """Parameters of a :class:`~core.model.gru.CharGRU` with ``config``, computed from shapes (nothing allocated)."""
    from core.model.gru import CharGRU

    total = 0
    for shape in CharGRU.state_shapes(config).values():
        n = 1
        for d in shape:
            n *= int(d)
        total += n
    return total


def _per_position(config: Any, training: bool) -> int:
    """Bytes per (text, character) position: embedding, GRU gates and outputs, logits (and their gradients)."""
    h, layers, e, v = int(config.hidden_size), int(config.num_layers), int(config.embed_dim), int(config.vocab_size)
    if training:  # kept for backward: input, gates (3H) and output per layer; logits, softmax and their grads
        return FLOAT * (2 * e + layers * 8 * h + 3 * v) + IDS
    # measured: one 2.1M-character text through a 32-unit model peaked at 5.1 GB of RSS; this estimate gives 5.7 GB
    return FLOAT * (e + 6 * h + 3 * v) + IDS  # a layer's input projection, gates and output, logits, log-softmax


def training_bytes(config: Any, batch_size: int, longest: int) -> int:
    """Weights, gradients and two Adam moments (4 copies), plus one batch of ``longest``-character texts."""
    steps = int(longest) + 1  # <bos> + text (targets: text + <eos>)
    return 4 * FLOAT * parameter_count(config) + int(batch_size) * steps * _per_position(config, True)


def eval_bytes(config: Any, batch_size: int, longest: int) -> int:
    return FLOAT * parameter_count(config) + int(batch_size) * (int(longest) + 1) * _per_position(config, False)


def sampling_bytes(config: Any, n: int, max_len: int) -> int:
    """Weights and the stepper's tables, the (n, max_len) id tensor and the texts, the per-step state of n streams."""
    h, layers, v = int(config.hidden_size), int(config.num_layers), int(config.vocab_size)
    per_stream = FLOAT * (layers * 6 * h + 4 * v)
    return 2 * FLOAT * parameter_count(config) + int(n) * int(max_len) * (8 + 4) + int(n) * per_stream


def _size(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 1e3:,.0f} kB"


def check_memory(need: int, what: str, hint: str | Hint, device: Any = "cpu") -> None:
    """Refuse (:class:`LimitError`) when ``need`` bytes exceed what ``device`` has available."""
    room = available_memory(device)
    if room is not None and need > room:
        raise LimitError(f"{what} needs about {_size(need)} of memory, but only {_size(room)} is available", hint)


def is_out_of_memory(exc: BaseException) -> bool:
    """The allocator's out-of-memory error, from torch (CPU or CUDA) or Python."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text.lower() or "DefaultCPUAllocator" in text)


# ---------------------------------------------------------------- vocabulary


def unknown_characters(vocab: Any, texts: Sequence[str]) -> tuple[int, int]:
    """(characters of ``texts`` not in ``vocab``, all characters)."""
    joined = "".join(texts)
    missing = set(joined).difference(vocab.chars)
    return sum(joined.count(c) for c in missing), len(joined)


def check_unknown(vocab: Any, texts: Sequence[str], data: Any, checkpoint: Any, *, allow: bool, insist: str | Hint) -> str | None:
    """On resume: refuse a corpus whose characters are mostly unknown to the checkpoint (unless ``allow``).

    Returns a note to show when some characters are unknown, None when none are.
    ``insist`` names how the user overrides the refusal (e.g. ``add --allow-unknown``).
    """
    unknown, total = unknown_characters(vocab, texts)
    if not unknown or not total:
        return None
    share = unknown / total
    what = (f"{data}: {100 * share:.1f}% of its characters ({unknown:,} of {total:,}) are unknown to the vocabulary of "
            f"{checkpoint}")
    if share > UNKNOWN_LIMIT and not allow:
        raise LimitError(joined(f"{what}, so it was trained on other text; start a new run on this corpus, or ", insist,
                                " to continue anyway"))
    return f"{what}; the model sees each of them as <unk>"
