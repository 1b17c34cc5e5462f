"""Hostile and broken checkpoint files: refused with one clear error, never executed, never a traceback.

Every file is built here. The code-running payloads would create a marker file if they
ever ran; each test checks that it does not exist. The app side (it keeps its current
checkpoint) is in tests/tui/test_app_reliability.py.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from corehelpers import TINY_TWEETS, run_all, tiny_trainer

from core.store.checkpoints import CheckpointError, load_checkpoint

from core.store.registry import list_checkpoints, read_info
from core.cli.main import main


class _RunsCode:
    """Unpickling this calls ``os.system(command)``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.command = f"touch {marker}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A genuine checkpoint (step 4) to derive broken variants from."""
    run = tmp_path_factory.mktemp("hostile") / "run"
    trainer = tiny_trainer(run, max_steps=4)
    run_all(trainer)
    assert trainer.last_checkpoint is not None
    return trainer.last_checkpoint


def _payload(good: Path) -> dict[str, Any]:
    return torch.load(good, weights_only=True)


def _evil_files(good: Path, d: Path, marker: Path) -> dict[str, Path]:
    evil = _RunsCode(marker)
    files = {
        "zip": d / "evil-zip.pt",
        "bare-pickle": d / "evil-bare.pt",
        "legacy-torch": d / "evil-legacy.pt",
        "inside-a-real-checkpoint": d / "evil-nested.pt",
        "in-the-weights": d / "evil-weights.pt",
    }
    torch.save({"format_version": 1, "model_state": evil}, files["zip"])
    files["bare-pickle"].write_bytes(pickle.dumps(evil))
    torch.save({"x": evil}, files["legacy-torch"], _use_new_zipfile_serialization=False)
    payload = _payload(good)
    payload["metrics"]["note"] = evil
    torch.save(payload, files["inside-a-real-checkpoint"])
    payload = _payload(good)
    payload["model_state"]["decoder.bias"] = evil
    torch.save(payload, files["in-the-weights"])
    return files


def test_a_pickle_that_would_run_code_is_refused_and_never_runs(good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Five ways to hide a code-running pickle; loading, listing and every CLI command refuse each one."""
    marker = tmp_path / "PAYLOAD-RAN"
    # Sanity: the payload really runs code when unpickled the unsafe way.
    pickle.loads(pickle.dumps(_RunsCode(marker)))
    assert marker.exists()
    marker.unlink()
    files = _evil_files(good, tmp_path, marker)
    for kind, path in files.items():
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(path)
        assert str(err.value).startswith(str(path)) and "refused" in str(err.value) and "nothing in it was run" in str(err.value), kind
        for argv in (["info", str(path)], ["sample", str(path)], ["eval", str(path), str(good)]):
            assert main(argv) == 1
            lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
            assert len(lines) == 1 and "refused" in lines[0] and path.name in lines[0], (kind, argv, lines)
    assert list_checkpoints(tmp_path) == []
    assert not marker.exists(), "the payload ran"


def _variant(good: Path, d: Path, name: str, change: Callable[[dict[str, Any]], None]) -> Path:
    payload = _payload(good)
    change(payload)
    path = d / f"{name}.pt"
    torch.save(payload, path)
    return path


def _set(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        target = payload
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda payload: payload.pop(key)


BROKEN: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "empty": (lambda g, d: _write(d / "empty.pt", b""), "checkpoint file is empty"),
    "truncated-half": (lambda g, d: _write(d / "half.pt", g.read_bytes()[: g.stat().st_size // 2]), "corrupt, truncated"),
    "truncated-tail": (lambda g, d: _write(d / "tail.pt", g.read_bytes()[:-7]), "corrupt, truncated"),
    "random-bytes": (lambda g, d: _write(d / "random.pt", os.urandom(20_000)), "corrupt, truncated"),
    "text-file": (lambda g, d: _write(d / "notes.pt", b"just some notes\n"), "corrupt, truncated"),
    "zip-of-other-things": (lambda g, d: _zip(d / "other.pt"), "corrupt, truncated"),
    "not-a-mapping": (lambda g, d: _save(d / "list.pt", [1, 2, 3]), "holds a list, not a mapping"),
    "missing-vocab": (lambda g, d: _variant(g, d, "no-vocab", _drop("vocab")), "missing vocab"),
    "missing-weights": (lambda g, d: _variant(g, d, "no-weights", _drop("model_state")), "missing model_state"),
    "future-version": (lambda g, d: _variant(g, d, "future", _set("format_version", value=99)), "newer tweetgen (format 99"),
    "version-not-a-number": (lambda g, d: _variant(g, d, "version", _set("format_version", value="1")), "format_version is '1'"),
    "vocab-smaller-than-model": (
        lambda g, d: _variant(g, d, "vocab-size", lambda p: p["vocab"].__setitem__("chars", p["vocab"]["chars"][:-3])),
        "but the vocab has",
    ),
    "weights-for-another-size": (lambda g, d: _variant(g, d, "hidden", _set("model_config", "hidden_size", value=32)), "weights do not match"),
    "config-claims-a-huge-model": (
        lambda g, d: _variant(g, d, "huge", _set("model_config", "hidden_size", value=300_000)), "weights do not match"
    ),
    "config-claims-a-million-layers": (
        lambda g, d: _variant(g, d, "layers", _set("model_config", "num_layers", value=1_000_000)), "weights do not match"
    ),
    "fractional-size": (lambda g, d: _variant(g, d, "frac", _set("model_config", "hidden_size", value=16.5)), "whole numbers"),
    "extra-weight": (
        lambda g, d: _variant(g, d, "extra", lambda p: p["model_state"].__setitem__("extra", torch.zeros(2))), "weights do not match"
    ),
    "weights-not-tensors": (lambda g, d: _variant(g, d, "state", _set("model_state", value=[1, 2])), "not a mapping of tensors"),
    "nan-weights": (
        lambda g, d: _variant(g, d, "nan", lambda p: p["model_state"]["decoder.bias"].fill_(float("nan"))), "NaN or infinity"
    ),
    "duplicate-vocab": (lambda g, d: _variant(g, d, "dup", _set("vocab", "chars", value="aab")), "must be unique"),
    "step-not-a-number": (lambda g, d: _variant(g, d, "step", _set("train_state", "step", value="abc")), "train_state.step"),
    "created-not-a-time": (lambda g, d: _variant(g, d, "created", _set("created", value="yesterday")), "created is 'yesterday'"),
    "metric-not-a-number": (lambda g, d: _variant(g, d, "val", _set("metrics", "val_bpc", value="good")), "metrics.val_bpc"),
    "history-not-a-list": (lambda g, d: _variant(g, d, "hist", _set("metrics", "history", value=5)), "metrics.history"),
    "train-state-not-a-mapping": (lambda g, d: _variant(g, d, "ts", _set("train_state", value=[1])), "train_state is not a mapping"),
    "rng-state-not-bytes": (
        lambda g, d: _variant(g, d, "rng", _set("train_state", "rng_state", value=torch.zeros(3))), "rng_state"
    ),
    "tags-not-a-list": (lambda g, d: _variant(g, d, "tags", _set("tags", value=5)), "tags is not a list"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _save(path: Path, obj: Any) -> Path:
    torch.save(obj, path)
    return path


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "not a checkpoint")
    return path


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_file_gives_one_clear_error(kind: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """load_checkpoint raises one CheckpointError naming the file; info/sample/train --resume print it as one line."""
    make, expected = BROKEN[kind]
    path = make(good, tmp_path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message, message
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TINY_TWEETS))
    for argv in (["info", str(path)], ["sample", str(path)], ["train", str(corpus), "--resume", str(path), "--quiet"]):
        assert main(argv) == 1, argv
        err_lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert err_lines == [f"tweetgen {argv[0]}: error: {message}"], (argv, err_lines)
    assert list_checkpoints(tmp_path) == [], "the registry never lists a broken file"


def test_resuming_a_checkpoint_whose_optional_state_does_not_fit_trains_with_a_note(good: Path, tmp_path: Path) -> None:
    """Optimizer or RNG state that does not fit is not fatal: the weights are what matter; a note says what was dropped."""
    payload = _payload(good)
    payload["optimizer_state"] = {"state": {0: {"step": "x"}}, "param_groups": 5}
    payload["train_state"]["rng_state"] = torch.zeros(10, dtype=torch.uint8)
    odd = tmp_path / "odd.pt"
    torch.save(payload, odd)
    trainer = tiny_trainer(tmp_path / "run", max_steps=6, resume_from=load_checkpoint(odd))
    run_all(trainer)
    assert any("optimizer state did not fit" in n for n in trainer.notes)
    assert any("random state did not fit" in n for n in trainer.notes)
    assert load_checkpoint(trainer.last_checkpoint).step == 6  # type: ignore[arg-type]


def test_damaged_stored_filters_are_a_clear_error(good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = _payload(good)
    payload["train_state"]["filter_config"] = {"max_len": "long"}
    path = tmp_path / "filters.pt"
    torch.save(payload, path)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TINY_TWEETS))
    assert main(["train", str(corpus), "--resume", str(path), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tweetgen train: error:") and "filters are damaged" in err and "\n" not in err


@pytest.mark.parametrize(
    "sidecar",
    [
        '{"file": "step-00000004.pt", "step": "abc"}',
        '{"file": "step-00000004.pt", "step": 1e999}',
        '{"file": "step-00000004.pt", "tags": 5, "created": "x"}',
        "[" * 100_000,
        "not json at all",
        '{"file": "step-00000004.pt", "size": 12}',
    ],
    ids=["step-text", "step-inf", "bad-types", "deep-nesting", "not-json", "wrong-size"],
)
def test_hostile_sidecar_never_breaks_the_registry(sidecar: str, good: Path, tmp_path: Path) -> None:
    """A damaged or hostile .json sidecar is ignored: the registry reads the checkpoint itself."""
    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / good.name
    ckpt.write_bytes(good.read_bytes())
    ckpt.with_suffix(".json").write_text(sidecar)
    info = read_info(ckpt)
    assert info.step == 4 and info.path == ckpt
    assert [i.step for i in list_checkpoints(run)] == [4]
    assert main(["list", str(run)]) == 0


def test_sidecar_that_lies_about_a_file_replaced_since(good: Path, tmp_path: Path) -> None:
    """A sidecar whose recorded size no longer matches its checkpoint is not trusted."""
    run = tmp_path / "run"
    run.mkdir()
    ckpt = run / good.name
    ckpt.write_bytes(good.read_bytes())
    meta = json.loads(good.with_suffix(".json").read_text())
    meta["step"] = 999
    meta["size"] = ckpt.stat().st_size + 1
    ckpt.with_suffix(".json").write_text(json.dumps(meta))
    assert read_info(ckpt).step == 4


def test_loading_a_file_removed_meanwhile_is_a_clear_error(good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint pruned between the registry listing it and the load: one clear error, not 'corrupt'."""
    path = tmp_path / good.name
    path.write_bytes(good.read_bytes())
    real_load = torch.load

    def vanish_then_load(f: Any, *args: Any, **kwargs: Any) -> Any:
        Path(f).unlink()
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", vanish_then_load)
    with pytest.raises(CheckpointError, match="removed while being read"):
        load_checkpoint(path)


def test_a_config_claiming_a_huge_model_is_never_allocated(good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """hidden_size 300,000 would be ~1 TB of weights: the shapes are computed from the config, no model is built."""
    import core.store.checkpoints as ck

    built: list[tuple[int, str]] = []

    class spy(ck.CharGRU):  # records every model built while loading
        def __init__(self, config: Any) -> None:
            built.append((config.hidden_size, str(torch.get_default_device())))
            super().__init__(config)

    monkeypatch.setattr(ck, "CharGRU", spy)
    path = _variant(good, tmp_path, "huge", _set("model_config", "hidden_size", value=300_000))
    with pytest.raises(CheckpointError, match=r"the config needs \(900000, 8\)"):
        load_checkpoint(path)
    assert built == []  # refused before any model (real or meta) was constructed


def test_weights_only_loading_refuses_globals_from_memory_too() -> None:
    """weights_only loading refuses an arbitrary global even from memory (the guarantee the loader relies on)."""
    buf = io.BytesIO()
    torch.save({"x": _RunsCode(Path("/nonexistent/never"))}, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buf, weights_only=True)
