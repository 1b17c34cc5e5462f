"""Errors raised off the UI thread (the app's workers, the training process' event pump) always reach
the screen as one line, worded in the app's flags, and the app keeps running."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static
from tuihelpers import SIZE, Assets, app_idle, make_settings, run_async, wait_until

import tui.widgets.generation_panel as panel_module
from core.events import DoneEvent, StepEvent
from tui import messages as m
from tui.app import TweetgenApp


def _notes(app: TweetgenApp) -> list[str]:
    return [str(n.render()) for n in app.generation.query(".note").results(Static)]


@run_async
async def test_a_sampling_failure_is_shown_as_one_line_and_r_starts_again(tui_assets: Assets, home: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The failure the issue saw: torch's manual_seed raised inside the sample worker and generation froze."""
    real = panel_module.stream_chunks
    broken = {"on": False}

    def stream(*args: Any, **kwargs: Any) -> Any:
        if broken["on"]:
            raise ValueError("Overflow when unpacking long long\n  at torch/csrc/Generator.cpp:123\n  (more)")
        return real(*args, **kwargs)

    monkeypatch.setattr(panel_module, "stream_chunks", stream)
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        broken["on"] = True
        await pilot.press("r")
        await wait_until(pilot, lambda: app.errors, "the error to be reported")
        assert app.errors == ["sample failed: ValueError: Overflow when unpacking long long"]
        await wait_until(pilot, lambda: any("Generation stopped" in n for n in _notes(app)), "the note in the tweets")
        note = [n for n in _notes(app) if "Generation stopped" in n][-1]
        assert "\n" not in note and "Overflow when unpacking long long" in note and "r to try again" in note
        assert not app.generation.sampling
        broken["on"] = False
        before = app.generation.sample_id
        await pilot.press("r")
        await wait_until(pilot, lambda: app.generation.sample_id > before and not app.generation.sampling, "a new tweet after r")
        assert len(app.errors) == 1


@run_async
async def test_a_failure_delivering_training_events_is_shown(tui_assets: Assets, home: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The training pump keeps an exception of its callback in callback_error, which nothing shows:
    the app reports it itself."""

    def broken(_event: Any) -> Any:
        raise KeyError("no message for this event")

    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        monkeypatch.setattr(m, "training_message", broken)
        pump = threading.Thread(target=app.training_panel.deliver,
                                args=([StepEvent(1, 0, 2.0, 0.1, 10.0, 1.0, None, None, None)],))
        pump.start()
        pump.join(10)
        await wait_until(pilot, lambda: app.errors, "the error to be reported")
        assert app.errors == ["training events failed: KeyError: 'no message for this event'"]


@run_async
async def test_core_hints_reach_the_screen_in_the_apps_flags(tui_assets: Assets, home: Path) -> None:
    """A failed checkpoint write says "choose another --out directory" to tweetgen; tweetgen-tui has no --out.
    The training process sends the error's line as a hint (core.train.process), the app words it."""
    import errno

    from core.store.checkpoints import CheckpointError, _write_hint

    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        exc = CheckpointError("/r/step-00000010.pt: cannot write checkpoint (No space left on device)",
                              (_write_hint(OSError(errno.ENOSPC, "full")), "earlier checkpoints are untouched"))
        assert "choose another --out directory" in str(exc)  # tweetgen's words
        event = DoneEvent(10, "error", str(exc), None, hint=exc.as_hint())  # as the training process sends it
        app.training_panel.post_message(m.TrainingFinished(event))
        await wait_until(pilot, lambda: app.errors, "the error to be reported")
        (shown,) = app.errors
        assert "--out" not in shown and "choose another --checkpoint directory" in shown, shown
        status = str(app.query_one("#train-status", Static).render())
        assert "--out" not in status, status


@run_async
async def test_gap_0_keeps_generating(tui_assets: Assets, home: Path) -> None:
    """--gap 0 set a 0-second Timer, which divides by zero inside Textual: generation stopped after one
    tweet and the error surfaced only when the app exited."""
    app = TweetgenApp(make_settings(tui_assets, home, gap_s=0.0))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.generation.sample_id >= 4, "four tweets in a row")
        assert not app.errors
