"""Absurd numbers, given or stored: every numeric option refuses them in one line, a checkpoint or sidecar holding
them is refused or read around, and large but sane values still load (issue 12).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from corehelpers import TINY_CLI, one_error_line, train_tiny

from core.cli.flags import EXIT_USAGE
from core.cli.main import build_parser, format_eta, main
from core.store.checkpoints import load_checkpoint
from core.store.registry import list_checkpoints

TINY = TINY_CLI
_train, _one_line = train_tiny, one_error_line


# ---------------------------------------------------------------- absurd numbers


def _numeric_options() -> list[tuple[str, str, str]]:
    """(command, option, kind) for every option of every command that takes a number."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    found = []
    for command, p in sub.choices.items():
        for action in p._actions:
            kind = getattr(action.type, "__name__", "")
            if action.option_strings and kind in ("int", "float"):
                found.append((command, action.option_strings[-1], kind))
    return found


NUMERIC = _numeric_options()
POSITIONALS = {"train": ["data.txt"], "sample": ["x.pt"], "eval": ["x.pt", "data.txt"], "neurons": ["x.pt"]}


def test_the_numeric_option_list_is_complete() -> None:
    names = {(c, o) for c, o, _ in NUMERIC}
    expected = {("train", o) for o in ("--max-steps", "--epochs", "--minutes", "--hidden", "--embed", "--layers", "--seed",
                                       "--batch-size", "--lr", "--threads", "--keep-last", "--val-every", "--max-len")}
    expected |= {("sample", o) for o in ("--num", "--max-len", "--seed", "--temperature", "--top-k")}
    assert expected <= names, expected - names


@pytest.mark.parametrize("command,option,kind", NUMERIC, ids=[f"{c} {o}" for c, o, _ in NUMERIC])
def test_every_numeric_option_refuses_absurd_values_in_one_line(command: str, option: str, kind: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("1e30", "1" + "0" * 30, "1e300", "-1" + "0" * 30, "inf", "nan"):
        with pytest.raises(SystemExit) as exc:
            main([command, *POSITIONALS[command], f"{option}={value}"])
        assert exc.value.code == EXIT_USAGE, (option, value)
        line = _one_line(capsys)
        assert f"argument {option}" in line or option.lstrip("-") in line, line


@pytest.mark.parametrize("seconds,shown", [
    (0, "00:00:00"), (59.9, "00:00:59"), (86399, "23:59:59"), (86400, "1d 00:00:00"), (97445, "1d 03:04:05"),
    (400 * 86400 + 1, "400d 00:00:01"), (1e12, ">10000d"), (1e300, ">10000d"),
    (None, "-"), (math.inf, "-"), (math.nan, "-"), (-5, "-"),
])
def test_eta_past_a_day_shows_days_and_never_overflows(seconds: float | None, shown: str) -> None:
    assert format_eta(seconds) == shown


def _edited_checkpoint(src: Path, dst: Path, where: str, value: Any) -> Path:
    payload = torch.load(src, weights_only=True)
    target = payload
    *parents, key = where.split(".")
    for part in parents:
        target = target[part]
    target[key] = value
    torch.save(payload, dst)
    return dst


ABSURD_STORED = [
    ("train_state.elapsed", math.inf), ("train_state.elapsed", math.nan), ("train_state.elapsed", 1e300),
    ("train_state.elapsed", -5.0), ("train_state.step", 10**30), ("train_state.epoch", 10**20),
    ("train_state.batch_in_epoch", 10**400), ("train_state.best_val", math.inf), ("train_state.best_val", math.nan),
    ("train_state.train_config.max_steps", 10**30), ("train_state.train_config.minutes", 1e300),
    ("train_state.train_config.lr", math.nan), ("train_state.train_config.epochs", math.inf),
    ("train_state.filter_config.max_len", 10**30), ("metrics.val_bpc", math.inf), ("metrics.train_loss", 1e300),
    ("metrics.history", [[1.0, 1e300, math.nan]]), ("created", math.inf), ("created", 1e300), ("created", math.nan),
]


@pytest.mark.parametrize("where,value", ABSURD_STORED, ids=[f"{w}={v!r}"[:40] for w, v in ABSURD_STORED])
def test_absurd_numbers_stored_in_a_checkpoint_are_refused_in_one_line(where: str, value: Any, trained: Path, tmp_path: Path,
                                                                       corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _edited_checkpoint(trained / "step-00000002.pt", tmp_path / "edited.pt", where, value)
    field = where.split(".history")[0]
    for argv in (["train", str(corpus), "--resume", str(bad), "--out", str(tmp_path / "resumed"), "--quiet"],
                 ["info", str(bad)], ["sample", str(bad)]):
        assert main(argv) == 1, argv
        line = _one_line(capsys)
        assert str(bad) in line and field in line, line
    assert not (tmp_path / "resumed").exists()


@pytest.mark.parametrize("field,value", [("step", 10**30), ("step", -3), ("created", 1e300), ("created", math.nan),
                                         ("created", math.inf), ("step", "many")])
def test_absurd_numbers_in_a_sidecar_fall_back_to_the_checkpoint(field: str, value: Any, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sidecar = trained / "step-00000002.json"
    meta = json.loads(sidecar.read_text())
    meta[field] = value
    sidecar.write_text(json.dumps(meta))  # written after the .pt, so it is taken as current
    [info] = list_checkpoints(trained)
    assert info.step == 2 and 0 < info.created < time.time() + 60
    assert main(["list", str(trained)]) == 0 and "step-00000002.pt" in capsys.readouterr().out


def test_large_but_sane_stored_numbers_still_load(trained: Path, tmp_path: Path) -> None:
    """The bounds are not so tight that a long run's checkpoint is refused: years of training, a 2**63 seed."""
    path = _edited_checkpoint(trained / "step-00000002.pt", tmp_path / "a.pt", "train_state.elapsed", 3e8)
    path = _edited_checkpoint(path, path, "train_state.train_config.seed", 2**63 - 1)
    assert load_checkpoint(_edited_checkpoint(path, path, "train_state.step", 10**12)).step == 10**12
