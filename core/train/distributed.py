"""Training on several processes under ``torchrun`` (PyTorch's launcher), with DDP.

There is no launcher here and no process group of our own: ``torchrun`` starts the
processes and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address;
:func:`init_from_env` hands those to ``torch.distributed.init_process_group`` (gloo on
the CPU, nccl on CUDA), and the trainer reads the group back through :func:`rank_world`.
Without torchrun (or with one process) nothing here does anything, and training is the
single-process loop, bit for bit.

The design (``core.train.trainer`` holds the details):

- **Data**: every rank reads the whole corpus and draws the same epoch order of *global*
  batches (``batch_size * world`` texts, :class:`core.data.batching.BucketBatcher`); each takes
  its own contiguous slice of each global batch (:func:`core.data.batching.shard`), so every
  rank takes the same number of steps per epoch, and the global batches are the ones a
  single process with ``batch_size * world`` would draw.
- **Gradients**: DDP averages them; each rank's loss is its summed cross-entropy times
  ``world / chars of the global batch``, so the average is exactly the single-process
  gradient of the mean over the global batch's characters (up to float rounding).
- **Agreement**: after every step one ``all_reduce`` of four numbers (the loss sum, stop
  and save flags, the clock) gives every rank the same loss, the same decision to stop
  or save, and the same elapsed time, so they stop, validate and save at the same step.
- **Files**: only rank 0 locks the run directory and writes checkpoints.
- **Failures**: whatever one rank does alone (read DATA or the checkpoint, check memory,
  write a checkpoint) runs inside :func:`together`: afterwards one ``all_reduce`` tells every
  rank whether any failed, so all stop at that point (the failing rank with its own error,
  the others with :class:`PeerFailed`) and none waits in a collective that will never come.
  A failure anywhere else (a bug, a killed process) ends that rank without the leaving
  barrier; the others' next collective then fails at once (gloo: the connection closes), or
  at the process group's timeout (``defaults.DISTRIBUTED_TIMEOUT_S``), and torchrun stops the rest.
"""

from __future__ import annotations

import ctypes
import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def launched() -> bool:
    """Started by torchrun (or another launcher that sets the same variables) with more than one process."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False


def active() -> bool:
    """A process group of more than one process is up."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_world() -> tuple[int, int]:
    """(this process' rank, how many processes train): (0, 1) without a process group."""
    if not active():
        return 0, 1
    import torch.distributed as dist

    return dist.get_rank(), dist.get_world_size()


def backend_for(device: str | None) -> str:
    """nccl when the run will train on CUDA, else gloo (CPU)."""
    from core.train.device import resolve_device

    kind = resolve_device(device or "auto").type
    if kind == "mps":
        raise ValueError("training with several processes needs CUDA (nccl) or the CPU (gloo), not Apple MPS; "
                         "use --device cpu")
    return "nccl" if kind == "cuda" else "gloo"


def init_from_env(device: str | None) -> bool:
    """Join the process group torchrun describes; False (and nothing done) when not launched by it.

    On CUDA each process takes the GPU of its ``LOCAL_RANK``.
    """
    if not launched():
        return False
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return True
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    from datetime import timedelta

    from core.defaults import DISTRIBUTED_TIMEOUT_S

    dist.init_process_group(backend=backend, timeout=timedelta(seconds=DISTRIBUTED_TIMEOUT_S))
    return True


class PeerFailed(Exception):
    """Another process of the job failed at a point every rank reaches (:func:`together`); that
    process prints its own error. ``str()`` is one line."""


def agreed(exc: BaseException | None) -> bool:
    """Whether every rank knows of this failure (so all of them are leaving at the same point); an error
    raised while handling an agreed one (``raise UserError(...) from None``) is agreed too."""
    for _ in range(8):
        if exc is None:
            return False
        if isinstance(exc, PeerFailed) or getattr(exc, "_tweetgen_agreed", False):
            return True
        exc = exc.__context__
    return False


@contextmanager
def together() -> Iterator[None]:
    """Run a block that may fail on some ranks only; after it, every rank knows whether any did.

    Every rank enters at the same point, and the block holds no collective. A rank whose block
    raised re-raises its error; the others raise :class:`PeerFailed`. Without a process group
    it is just the block.
    """
    if not active():
        yield
        return
    try:
        yield
    except BaseException as exc:
        _agree(failed=True)
        try:
            exc._tweetgen_agreed = True  # type: ignore[attr-defined]  # read by agreed()
        except AttributeError:
            pass
        raise
    _agree(failed=False)


def _agree(*, failed: bool) -> None:
    import torch.distributed as dist

    failures = all_sum([1.0 if failed else 0.0], _device())[0]
    if failures and not failed:
        raise PeerFailed(f"stopped: {int(failures)} other process(es) of this job failed (rank {dist.get_rank()} "
                         "is fine; the failing one printed why)")


def shutdown(error: BaseException | None = None) -> None:
    """Leave the process group together: a barrier first, so a rank does not tear its connections
    down while rank 0 is still writing the last checkpoint (a rank that left early was seen to abort
    at exit, "terminate called without an active exception", failing torchrun).

    After an ``error`` the other ranks do not know of (not :func:`agreed`), there is no barrier:
    they may be waiting in another collective, and the barrier would never end. Leaving the group
    closes this rank's connections, so their collective fails instead of waiting.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if error is None or agreed(error):
            try:
                dist.barrier()
            except RuntimeError:  # a peer is gone already: nothing to wait for
                pass
        dist.destroy_process_group()


def lost_peer(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that failed because another process is gone (or timed out)."""
    import torch.distributed as dist

    errors = tuple(getattr(dist, name) for name in ("DistError", "DistBackendError", "DistNetworkError")
                   if isinstance(getattr(dist, name, None), type))
    text = str(exc).lower()
    return isinstance(exc, errors) or (isinstance(exc, RuntimeError) and any(
        word in text for word in ("connection closed", "connection reset", "broken pipe", "timed out", "gloo", "nccl")))


def _device() -> Any:
    """Where collectives' tensors live: the process' GPU for nccl, the CPU for gloo."""
    import torch
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def broadcast_object(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (``value`` itself without a process group).

    Pickled into a byte tensor and broadcast (``broadcast_object_list`` would do the same
    but needs NumPy, which tweetgen does not install).
    """
    if not active():
        return value
    import torch
    import torch.distributed as dist

    device = _device()
    data = pickle.dumps(value) if dist.get_rank() == 0 else b""
    size = torch.tensor([len(data)], dtype=torch.long, device=device)
    dist.broadcast(size, src=0)
    buf = torch.empty(int(size), dtype=torch.uint8, device=device)
    if dist.get_rank() == 0:
        buf.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buf, src=0)
    if dist.get_rank() == 0:
        return value
    buf = buf.cpu().contiguous()
    return pickle.loads(ctypes.string_at(buf.data_ptr(), buf.numel()))  # noqa: S301 - rank 0 of our own job


def gather_tensors(tensor: Any) -> list[Any]:
    """Every rank's ``tensor`` (same shape and dtype everywhere), in rank order, on the CPU."""
    if not active():
        return [tensor]
    import torch.distributed as dist

    device = _device()
    local = tensor.to(device)
    out = [local.new_empty(local.shape) for _ in range(dist.get_world_size())]
    dist.all_gather(out, local)
    return [t.cpu() for t in out]


def all_sum(values: list[float], device: Any) -> list[float]:
    """Element-wise sum over the ranks, in float64 (``values`` unchanged without a process group)."""
    if not active():
        return list(values)
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()
