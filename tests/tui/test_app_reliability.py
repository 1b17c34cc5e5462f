"""Reliability promises in the app: hostile checkpoints, switching while the trainer writes, resampling bursts.

(`q` while training and a diverging run are in test_app_keys.py:
test_quit_while_training_writes_a_checkpoint_first and
test_divergence_is_shown_and_the_app_keeps_generating.)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from tuihelpers import (
    SEED,
    SIZE,
    Assets,
    app_idle,
    expected_sample,
    make_settings,
    run_async,
    sample_done,
    wait_until,
)

from core.store import checkpoints
from core.store.checkpoints import load_checkpoint
from core.model.sampler import SampleConfig, sample
from tui.app import TweetgenApp


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.command = f"touch {marker}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


def _hostile_files(good: Path, d: Path, marker: Path) -> dict[Path, str]:
    """file -> a fragment its error must contain."""
    d.mkdir(parents=True, exist_ok=True)
    files: dict[Path, str] = {}
    evil = d / "evil.pt"
    torch.save({"format_version": 1, "model_state": _RunsCode(marker)}, evil)
    files[evil] = "refused"
    bare = d / "bare.pt"
    bare.write_bytes(pickle.dumps(_RunsCode(marker)))
    files[bare] = "refused"
    empty = d / "empty.pt"
    empty.write_bytes(b"")
    files[empty] = "empty"
    cut = d / "cut.pt"
    cut.write_bytes(good.read_bytes()[:3000])
    files[cut] = "not a tweetgen checkpoint"
    noise = d / "noise.pt"
    noise.write_bytes(os.urandom(4000))
    files[noise] = "not a tweetgen checkpoint"
    for name, change, fragment in (
        ("future", lambda p: p.__setitem__("format_version", 7), "newer tweetgen"),
        ("novocab", lambda p: p.pop("vocab"), "missing vocab"),
        ("mismatch", lambda p: p["vocab"].__setitem__("chars", p["vocab"]["chars"][:-1]), "but the vocab has"),
        ("badstep", lambda p: p["train_state"].__setitem__("step", "many"), "train_state.step"),
    ):
        payload = torch.load(good, weights_only=True)
        change(payload)
        path = d / f"{name}.pt"
        torch.save(payload, path)
        files[path] = fragment
    return files


@run_async
async def test_hostile_and_broken_checkpoints_are_refused_and_the_current_one_stays(tui_assets: Assets, home: Path, tmp_path: Path) -> None:
    """Each bad file: one error naming it; the payload never runs; the app keeps generating from its checkpoint."""
    marker = tmp_path / "PAYLOAD-RAN"
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        before = app.source
        assert before is not None and before.path is not None
        for path, fragment in _hostile_files(before.path, tmp_path / "bad", marker).items():
            n = len(app.errors)
            app.checkpoint_panel.switch_to(path)
            await wait_until(pilot, lambda: len(app.errors) > n, f"the error for {path.name}")
            error = app.errors[-1]
            assert str(path) in error and fragment in error and "\n" not in error, error
            assert "still generating from" in error
            assert app.source is before and app.is_running
        assert not marker.exists(), "the payload ran"
        await pilot.press("r")
        assert await sample_done(pilot) == expected_sample(before.path, 0.8, SEED + app.generation.sample_id - 1)


def _digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(bytes(value.detach().contiguous().view(torch.uint8).flatten().tolist()))
    return h.hexdigest()


@run_async
async def test_switching_to_a_checkpoint_while_it_is_being_written(tui_assets: Assets, home: Path) -> None:
    """A writer replaces one checkpoint file non-stop (as the trainer does: temp file + rename) with two
    different checkpoints; the app switches to it again and again and resamples meanwhile. Every model it
    ends up with is wholly one of the two, and nothing fails."""
    app = TweetgenApp(make_settings(tui_assets, home, pace=300.0))
    versions = {15: tui_assets.demo.read_bytes(), 20: (home / "runs" / "tiny" / "step-00000020.pt").read_bytes()}
    digests = {step: _digest(load_checkpoint(p).model()) for step, p in
               ((15, tui_assets.demo), (20, home / "runs" / "tiny" / "step-00000020.pt"))}
    target = home / "elsewhere" / "moving.pt"
    target.parent.mkdir(parents=True)
    target.write_bytes(versions[15])
    stop = threading.Event()
    writes = [0]

    def writer() -> None:
        while not stop.is_set():
            data = versions[20 if writes[0] % 2 else 15]
            checkpoints.atomic_write(target, lambda fh: fh.write(data))
            writes[0] += 1
            stop.wait(0.003)  # about the trainer's pace with a checkpoint every step

    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        seen: list[tuple[int | None, str]] = []
        try:
            for i in range(40):
                app.checkpoint_panel.switch_to(target)
                if i % 3 == 0:
                    app.action_resample()  # what r does (pilot.press itself takes ~0.2 s)
                await asyncio.sleep(0.03)
                if app.source is not None and app.source.path == target:
                    seen.append((app.source.step, _digest(app.source.model)))
            await wait_until(pilot, lambda: app.source is not None and app.source.path == target, "the switch")
        finally:
            stop.set()
            thread.join()
        seen.append((app.source.step, _digest(app.source.model)))
        assert writes[0] > 10, "the writer must really race the loads"
        assert app.errors == [], app.errors
        for step, digest in seen:
            assert step in digests and digest == digests[step], "a model mixed two checkpoints"
        app.settings.pace = 0.0
        await pilot.press("r")
        text = await sample_done(pilot)
        step = app.source.step
        original = tui_assets.demo if step == 15 else home / "runs" / "tiny" / "step-00000020.pt"
        assert text == expected_sample(original, 0.8, SEED + app.generation.sample_id - 1)
        assert app.is_running


@run_async
async def test_resampling_many_times_a_second_never_mixes_samples(tui_assets: Assets, home: Path) -> None:
    """15 presses of r as fast as Pilot types (~5 a second), then 45 resamples at ~40 a second, while tweets
    stream: no error, and every tweet on screen (cut short or not) is the beginning of exactly the tweet its
    own seed gives: no characters from another stream."""
    app = TweetgenApp(make_settings(tui_assets, home, pace=400.0))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        newest = home / "runs" / "tiny" / "step-00000020.pt"
        assert app.source is not None and app.source.path == newest
        first_id = app.generation.sample_id
        for _ in range(15):
            await pilot.press("r")
        for _ in range(45):
            app.action_resample()  # what r does
            await asyncio.sleep(0.02)
        app.settings.pace = 0.0
        await pilot.press("r")
        await sample_done(pilot)
        assert app.errors == [] and app.is_running
        assert app.generation.sample_id == first_id + 61
        records = [r for r in app.generation.history if r.sample_id > first_id]
        assert len(records) == 60 and app.generation.current is not None
        ckpt = load_checkpoint(newest)
        model = ckpt.model()
        for record in [*records, app.generation.current]:
            full = sample(model, ckpt.vocab, SampleConfig(temperature=0.8, max_len=app.sample_config(0.8, None).max_len, seed=SEED + record.sample_id - 1))
            assert full.startswith(record.text), (record.sample_id, record.text, full)
            assert record.complete is False or record.text == full
        assert app.generation.current.text == expected_sample(newest, 0.8, SEED + app.generation.sample_id - 1)
