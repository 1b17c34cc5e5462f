"""Checkpoint files and the registry that lists them.

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

import json
import math
import os
import pickle
import re
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.model import CharGRU, ModelConfig
from core.vocab import CharVocab

FORMAT_VERSION = 1
SUFFIX = ".pt"
TMP_SUFFIX = ".tmp"
REQUIRED_KEYS = ("format_version", "model_state", "model_config", "vocab", "train_state", "metrics")
ENV_HOME = "TWEETGEN_HOME"
_STEP_NAME = re.compile(r"step-(\d+)\.pt$")


class CheckpointError(Exception):
    """A checkpoint that cannot be written or loaded; ``str()`` is one line naming the file."""


def default_home() -> Path:
    """Where runs live: ``$TWEETGEN_HOME`` or the platform's user data directory."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("tweetgen", appauthor=False)


def runs_dir(home: Path | None = None) -> Path:
    return (home or default_home()) / "runs"


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


@dataclass
class CheckpointInfo:
    """One line of the registry."""

    path: Path
    run: str
    step: int
    epoch: int
    val_bpc: float | None
    train_loss: float | None
    created: float
    size: int
    tags: list[str] = field(default_factory=list)


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
        "val_bpc": _finite_or_none(metrics.get("val_bpc")),
        "train_loss": _finite_or_none(metrics.get("train_loss")),
        "created": payload.get("created", time.time()),
        "tags": list(payload.get("tags", [])),
    }


def _finite_or_none(x: Any) -> float | None:
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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda fh: torch.save(payload, fh))
        meta = json.dumps(_metadata(payload, path)).encode()
        atomic_write(path.with_suffix(".json"), lambda fh: fh.write(meta))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CheckpointError(f"{path}: cannot write checkpoint ({reason}); free space or choose another --out directory") from None
    return path


# ---------------------------------------------------------------- reading


def _read_payload(path: Path) -> dict[str, Any]:
    name = str(path)
    if not path.exists():
        raise CheckpointError(f"{name}: no such checkpoint file; check the path")
    if path.is_dir():
        raise CheckpointError(f"{name}: is a directory; give a .pt checkpoint file")
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
    return payload


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and validate a checkpoint; any problem is one :class:`CheckpointError`."""
    path = Path(path)
    name = str(path)
    payload = _read_payload(path)
    try:
        vocab = CharVocab.from_dict(payload["vocab"])
        config = ModelConfig.from_dict(dict(payload["model_config"]))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{name}: bad vocab or model config ({exc})") from None
    if config.vocab_size != len(vocab):
        raise CheckpointError(f"{name}: model expects {config.vocab_size} symbols but the vocab has {len(vocab)}; the file is inconsistent")
    state = payload["model_state"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name}: model_state is not a mapping of tensors")
    try:
        CharGRU(config).load_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0] if first else "mismatch"
        raise CheckpointError(f"{name}: weights do not match the model config ({detail})") from None
    for key in ("train_state", "metrics"):
        if not isinstance(payload[key], dict):
            raise CheckpointError(f"{name}: {key} is not a mapping")
    if any(not torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise CheckpointError(f"{name}: weights contain NaN or infinity; use an earlier checkpoint")
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


def read_info(path: Path) -> CheckpointInfo:
    """Registry entry for one file: from its sidecar when that matches, else from the file."""
    path = Path(path)
    stat = path.stat()
    sidecar = path.with_suffix(".json")
    meta: dict[str, Any] | None = None
    try:
        if sidecar.stat().st_mtime_ns >= stat.st_mtime_ns:
            candidate = json.loads(sidecar.read_text())
            if isinstance(candidate, dict) and candidate.get("file") == path.name:
                meta = candidate
    except (OSError, ValueError):
        meta = None
    if meta is None:
        payload = _read_payload(path)
        meta = _metadata(payload, path)
    return CheckpointInfo(
        path=path,
        run=str(meta.get("run") or path.parent.name),
        step=int(meta.get("step", 0)),
        epoch=int(meta.get("epoch", 0)),
        val_bpc=_finite_or_none(meta.get("val_bpc")),
        train_loss=_finite_or_none(meta.get("train_loss")),
        created=float(meta.get("created", stat.st_mtime)),
        size=stat.st_size,
        tags=list(meta.get("tags", [])),
    )


def list_checkpoints(root: str | Path) -> list[CheckpointInfo]:
    """Every readable checkpoint under ``root`` (a run directory or a directory of runs), oldest step first.

    Temp files of interrupted writes and unreadable files are skipped.
    """
    root = Path(root)
    if root.is_file():
        return [read_info(root)]
    if not root.is_dir():
        return []
    files = sorted(root.glob(f"*{SUFFIX}")) + sorted(root.glob(f"*/*{SUFFIX}"))
    infos: list[CheckpointInfo] = []
    for path in files:
        if path.name.startswith("."):
            continue
        try:
            infos.append(read_info(path))
        except (CheckpointError, OSError):
            continue
    infos.sort(key=lambda i: (i.run, i.step, i.created))
    return infos


def latest_checkpoint(root: str | Path) -> CheckpointInfo | None:
    infos = list_checkpoints(root)
    return max(infos, key=lambda i: (i.step, i.created)) if infos else None


def remove_stale_temp_files(directory: Path) -> int:
    """Delete temp files left by interrupted writes; returns how many."""
    n = 0
    if directory.is_dir():
        for tmp in directory.glob(f".*{TMP_SUFFIX}"):
            try:
                tmp.unlink()
                n += 1
            except OSError:
                pass
    return n


def delete_checkpoint(path: Path) -> None:
    for p in (path, path.with_suffix(".json")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def prune(run_dir: Path, keep_last: int, keep_best: int) -> list[Path]:
    """Retention: keep the newest ``keep_last`` and the best ``keep_best`` (lowest val bits/char).

    ``keep_last <= 0`` keeps everything. Returns the deleted paths.
    """
    if keep_last <= 0:
        return []
    infos = [i for i in list_checkpoints(run_dir) if i.path.parent == run_dir]
    by_step = sorted(infos, key=lambda i: i.step)
    keep = {i.path for i in by_step[-keep_last:]}
    scored = sorted((i for i in infos if i.val_bpc is not None), key=lambda i: i.val_bpc)  # type: ignore[arg-type, return-value]
    keep |= {i.path for i in scored[: max(0, keep_best)]}
    removed = []
    for info in infos:
        if info.path not in keep:
            delete_checkpoint(info.path)
            removed.append(info.path)
    return removed
