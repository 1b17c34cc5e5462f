"""Checkpoint files: the format, atomic writing, and validation on load.

Listing a run's checkpoints, picking the best and retention live in :mod:`core.store.registry`.

One file per checkpoint holds weights, optimizer state, vocabulary, model config,
training state and metrics. Files are written to a temp file in the same directory,
fsynced and renamed over the target, so a crash leaves either the old file or the new
one, never half of one. Loading uses ``torch.load(weights_only=True)``: a file that
tries to run code is refused, never executed.

Each ``.pt`` has a small ``.json`` sidecar with its metadata so that listing hundreds of
checkpoints does not unpickle hundreds of weight files; a missing or stale sidecar
falls back to reading the checkpoint itself.
"""

from __future__ import annotations

import errno
import io
import json
import math
import numbers
import os
import pickle
import stat as _stat
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.model.gru import CharGRU, ModelConfig
from core.data.vocab import CharVocab
from core.errors import Hint, TweetgenError, hint

FORMAT_VERSION = 1
SUFFIX = ".pt"
TMP_SUFFIX = ".tmp"
REQUIRED_KEYS = ("format_version", "model_state", "model_config", "vocab", "train_state", "metrics")


class CheckpointError(TweetgenError):
    """A checkpoint that cannot be written or loaded; ``str()`` is one line naming the file."""


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}{SUFFIX}"


@dataclass
class Checkpoint:
    """A loaded checkpoint. ``model()`` rebuilds the network with its weights."""

    path: Path
    model_config: ModelConfig
    vocab: CharVocab
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    train_state: dict[str, Any]
    metrics: dict[str, Any]
    created: float

    @property
    def step(self) -> int:
        return int(self.train_state.get("step", 0))

    def model(self, device: str | torch.device = "cpu") -> CharGRU:
        net = CharGRU(self.model_config)
        net.load_state_dict(self.model_state)
        return net.to(device).eval()


# ---------------------------------------------------------------- writing


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_owner(tmp: Path) -> int | None:
    """The pid in a temp name ``.<target>.<pid>.tmp`` (:func:`atomic_write`'s), or None."""
    parts = tmp.name.rsplit(".", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` running (ours or someone else's)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(fileobj)`` on a temp file beside ``path`` and rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _metadata(payload: dict[str, Any], path: Path) -> dict[str, Any]:
    ts, metrics = payload["train_state"], payload["metrics"]
    return {
        "format_version": FORMAT_VERSION,
        "file": path.name,
        "run": ts.get("run", path.parent.name),
        "step": int(ts.get("step", 0)),
        "epoch": int(ts.get("epoch", 0)),
        "val_bpc": finite_or_none(metrics.get("val_bpc")),
        "val_step": metrics.get("val_step") if is_int(metrics.get("val_step")) else None,
        "train_loss": finite_or_none(metrics.get("train_loss")),
        "created": payload.get("created", time.time()),
        "tags": list(payload.get("tags", [])),
    }


def finite_or_none(x: Any) -> float | None:
    """``x`` as a finite float, or None (a metric that is missing, not a number, NaN or infinite)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def save_checkpoint(
    path: str | Path,
    *,
    model: CharGRU,
    vocab: CharVocab,
    optimizer: torch.optim.Optimizer | None = None,
    train_state: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    tags: list[str] | None = None,
) -> Path:
    """Write one checkpoint atomically (and its sidecar). Raises :class:`CheckpointError` on disk faults."""
    path = Path(path)
    payload: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer_state": optimizer.state_dict() if optimizer is not None else None,
        "model_config": model.config.to_dict(),
        "vocab": vocab.to_dict(),
        "train_state": dict(train_state or {}),
        "metrics": dict(metrics or {}),
        "created": time.time(),
        "tags": list(tags or []),
    }
    # Serialise in memory first: torch.save turns an OSError from the file (disk full)
    # into an opaque RuntimeError, while a plain write of bytes reports it as it is.
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getbuffer()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: fh.write(data))
        meta = _metadata(payload, path)
        meta["size"] = len(data)
        encoded = json.dumps(meta).encode()
        atomic_write(path.with_suffix(".json"), lambda fh: fh.write(encoded))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CheckpointError(f"{path}: cannot write checkpoint ({reason})",
                              (_write_hint(exc), "earlier checkpoints are untouched")) from None
    return path


def _write_hint(exc: OSError) -> Hint:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return hint("free some space or choose another {run_dir} directory")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return hint("the directory is not writable; choose another {run_dir} directory or fix its permissions")
    if exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return hint("a file is in the way of the output directory; choose another {run_dir} directory")
    return hint("free space or choose another {run_dir} directory")


def ensure_writable_dir(directory: Path) -> None:
    """Create ``directory`` if missing and check that a file can be written in it (before training, not at the
    first checkpoint). Raises :class:`CheckpointError`, one line naming the directory."""
    directory = Path(directory)
    probe = directory / f".write-test.{os.getpid()}{TMP_SUFFIX}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as fh:
            fh.write(b"tweetgen")
        probe.unlink()
    except OSError as exc:
        raise CheckpointError(f"{directory}: cannot write checkpoints here ({exc.strerror or exc})", _write_hint(exc)) from None


# ---------------------------------------------------------------- reading


def _read_payload(path: Path) -> dict[str, Any]:
    try:
        return _read_payload_unchecked(path)
    except FileNotFoundError:  # removed between the checks and the read (retention, another process)
        raise CheckpointError(f"{path}: no such checkpoint file (it was removed while being read); choose another") from None


def _read_payload_unchecked(path: Path) -> dict[str, Any]:
    name = str(path)
    if not path.exists():
        raise CheckpointError(f"{name}: no such checkpoint file; check the path")
    if path.is_dir():
        raise CheckpointError(f"{name}: is a directory; give a .pt checkpoint file")
    if not _stat.S_ISREG(path.stat().st_mode):  # a FIFO would block the read, a device never end
        raise CheckpointError(f"{name}: not a regular file (a pipe, device or socket); give a .pt checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{name}: checkpoint file is empty (an interrupted write?); use an earlier checkpoint")
    corrupt = f"{name}: not a tweetgen checkpoint (corrupt, truncated or another kind of file); use another file"
    refused = f"{name}: refused: the file holds Python objects a checkpoint never needs (possible code); nothing in it was run"
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(2)
        # tweetgen writes zip checkpoints only; a bare pickle is refused whatever it holds
        raise CheckpointError(refused if head[:1] == b"\x80" else corrupt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(refused if "global" in str(exc).lower() else corrupt) from None
    except FileNotFoundError:
        raise
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, KeyError, IndexError, TypeError, AttributeError, OSError):
        raise CheckpointError(corrupt) from None
    if not isinstance(payload, dict):
        raise CheckpointError(f"{name}: not a tweetgen checkpoint (holds a {type(payload).__name__}, not a mapping)")
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise CheckpointError(f"{name}: not a tweetgen checkpoint (missing {', '.join(missing)})")
    version = payload["format_version"]
    if not isinstance(version, int):
        raise CheckpointError(f"{name}: format_version is {version!r}, not a number")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{name}: written by a newer tweetgen (format {version}, this one reads {FORMAT_VERSION}); upgrade tweetgen")
    _check_schema(payload, name)
    return payload


def is_int(x: Any) -> bool:
    """A whole number as JSON and pickle give it (``True`` is not one)."""
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_schema(payload: dict[str, Any], name: str) -> None:
    """Every field the loaders, the trainer and the CLI read has the type they expect.

    A file that passes this never makes them fail with a ``TypeError``/``ValueError``.
    """
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{name}: not a valid tweetgen checkpoint ({what}); use another file")

    ts, metrics = payload["train_state"], payload["metrics"]
    for key in ("train_state", "metrics"):
        if not isinstance(payload[key], dict):
            raise bad(f"{key} is not a mapping")
    for key in ("step", "epoch", "batch_in_epoch"):
        if key in ts and not (is_int(ts[key]) and ts[key] >= 0):
            raise bad(f"train_state.{key} is {ts[key]!r}, not a count")
    for key in ("elapsed", "val_fraction"):
        if key in ts and not _is_number(ts[key]):
            raise bad(f"train_state.{key} is {ts[key]!r}, not a number")
    if "val_fraction" in ts and not 0 <= ts["val_fraction"] < 1:
        raise bad(f"train_state.val_fraction is {ts['val_fraction']!r}, not in [0, 1)")
    if ts.get("best_val") is not None and not _is_number(ts["best_val"]):
        raise bad(f"train_state.best_val is {ts['best_val']!r}, not a number")
    for key in ("train_config", "filter_config"):
        if key in ts and not isinstance(ts[key], dict):
            raise bad(f"train_state.{key} is not a mapping")
    rng = ts.get("rng_state")
    if rng is not None and not (isinstance(rng, torch.Tensor) and rng.dtype == torch.uint8):
        raise bad("train_state.rng_state is not a byte tensor")
    if "world_size" in ts and not (is_int(ts["world_size"]) and 1 <= ts["world_size"] <= MAX_WORLD):
        raise bad(f"train_state.world_size is {ts['world_size']!r}, not a number of processes")
    states = ts.get("rng_states")
    if states is not None and not (isinstance(states, list) and all(isinstance(r, torch.Tensor) and r.dtype == torch.uint8 for r in states)):
        raise bad("train_state.rng_states is not a list of byte tensors")
    for key in ("train_loss", "train_bpc", "val_bpc", "best_val_bpc"):
        if metrics.get(key) is not None and not _is_number(metrics[key]):
            raise bad(f"metrics.{key} is {metrics[key]!r}, not a number")
    history = metrics.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, (list, tuple)) and all(_is_number(x) for x in h) for h in history):
        raise bad("metrics.history is not a list of number rows")
    if "created" in payload and not _is_number(payload["created"]):
        raise bad(f"created is {payload['created']!r}, not a time")
    tags = payload.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise bad("tags is not a list of strings")
    optimizer_state = payload.get("optimizer_state")
    if optimizer_state is not None and not isinstance(optimizer_state, dict):
        raise bad("optimizer_state is not a mapping")
    _check_ranges(payload, bad)


MAX_COUNT = 10**15  # steps, epochs: far beyond any real run
MAX_SECONDS = 1e10  # training time: about 300 years
MAX_WORLD = 2**20  # processes of one torchrun job (train_state.world_size)
MAX_SETTING = 2**64  # a stored setting (seeds go up to 2**64 - 1)


def within(x: Any, limit: float, low: float | None = None) -> bool:
    """Finite, ``|x| <= limit`` (and ``>= low``); an int too large for a float is out of range too."""
    try:
        return math.isfinite(x) and abs(x) <= limit and (low is None or x >= low)
    except OverflowError:
        return False


def _check_ranges(payload: dict[str, Any], bad: Any) -> None:
    """Numbers of the right type can still be absurd (a damaged or edited file): inf, NaN or 1e300 would crash
    the resume, the ETA or the time display later. The trainer writes only finite values of sane size, so
    anything else is refused (not clamped): the file is not what tweetgen wrote."""
    ts, metrics = payload["train_state"], payload["metrics"]
    for key in ("step", "epoch", "batch_in_epoch"):
        if key in ts and not within(ts[key], MAX_COUNT):
            raise bad(f"train_state.{key} is {ts[key]!r}, out of range")
    if "elapsed" in ts and not within(ts["elapsed"], MAX_SECONDS, low=0):
        raise bad(f"train_state.elapsed is {ts['elapsed']!r}, not a training time in seconds")
    if ts.get("best_val") is not None and not within(ts["best_val"], MAX_COUNT):
        raise bad(f"train_state.best_val is {ts['best_val']!r}, out of range")
    for section in ("train_config", "filter_config"):
        for key, value in ts.get(section, {}).items():
            if _is_number(value) and not within(value, MAX_SETTING):
                raise bad(f"train_state.{section}.{key} is {value!r}, out of range")
    for key in ("train_loss", "train_bpc", "val_bpc", "best_val_bpc"):
        value = metrics.get(key)
        if value is not None and not (value != value or within(value, MAX_COUNT)):  # NaN means "not measured"
            raise bad(f"metrics.{key} is {value!r}, out of range")
    for row in metrics.get("history", []):
        if not all(x != x or within(x, MAX_COUNT) for x in row):
            raise bad(f"metrics.history has an out-of-range row {list(row)!r}")
    if "created" in payload and not within(payload["created"], 1e11, low=0):
        raise bad(f"created is {payload['created']!r}, not a time")


def read_metadata(path: Path) -> dict[str, Any]:
    """What a sidecar holds (run, step, metrics, tags...), read from the checkpoint itself, which is checked as
    :func:`load_checkpoint` checks it; any problem is one :class:`CheckpointError`."""
    payload = _read_payload(path)
    _check_model(payload, str(path))
    return _metadata(payload, path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and validate a checkpoint; any problem is one :class:`CheckpointError`."""
    path = Path(path)
    payload = _read_payload(path)
    vocab, config, state = _check_model(payload, str(path))
    return Checkpoint(
        path=path,
        model_config=config,
        vocab=vocab,
        model_state=state,
        optimizer_state=payload.get("optimizer_state"),
        train_state=payload["train_state"],
        metrics=payload["metrics"],
        created=float(payload.get("created", path.stat().st_mtime)),
    )


def _check_model(payload: dict[str, Any], name: str) -> tuple[CharVocab, ModelConfig, dict[str, torch.Tensor]]:
    """Vocab, model config and weights agree with each other, and the weights are finite."""
    try:
        vocab = CharVocab.from_dict(payload["vocab"])
        config = ModelConfig.from_dict(dict(payload["model_config"]))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{name}: bad vocab or model config ({exc})") from None
    sizes = {k: getattr(config, k) for k in ("vocab_size", "embed_dim", "hidden_size", "num_layers")}
    if not all(is_int(v) for v in sizes.values()) or not _is_number(config.dropout):
        raise CheckpointError(f"{name}: bad model config ({sizes}, dropout {config.dropout!r}); sizes must be whole numbers")
    if config.vocab_size != len(vocab):
        raise CheckpointError(f"{name}: model expects {config.vocab_size} symbols but the vocab has {len(vocab)}; the file is inconsistent")
    state = payload["model_state"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name}: model_state is not a mapping of tensors")
    if config.num_layers > len(state):
        raise CheckpointError(f"{name}: weights do not match the model config ({config.num_layers} layers, {len(state)} tensors); the file is inconsistent")
    try:
        expected = CharGRU.state_shapes(config)  # shapes only: a config claiming a huge model must not allocate it
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:
        raise CheckpointError(f"{name}: bad model config ({exc})") from None
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if wrong:
        k = wrong[0]
        raise CheckpointError(
            f"{name}: weights do not match the model config ({k} is {tuple(state[k].shape)}, the config needs {expected[k]}); the file is inconsistent"
        )
    try:
        CharGRU(config).load_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0] if first else "mismatch"
        raise CheckpointError(f"{name}: weights do not match the model config ({detail})") from None
    if any(not torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise CheckpointError(f"{name}: weights contain NaN or infinity; use an earlier checkpoint")
    return vocab, config, state


