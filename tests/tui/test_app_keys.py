"""Pilot tests: every key of the app, with a tiny corpus and tiny checkpoints.

Samples are seeded (sample i uses SEED + i - 1) and unpaced, so each test can compute
exactly what the screen must show for a given checkpoint and temperature.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static
from tuihelpers import (
    SEED,
    SIZE,
    WAIT,
    Assets,
    app_idle,
    corpus_read,
    expected_sample,
    make_settings,
    run_async,
    sample_done,
    train_status,
    wait_until,
)

from core.store.checkpoints import load_checkpoint
from tui.app import TweetgenApp
from tui.widgets.checkpoint_panel import row_key
from tui.screens.help import HelpScreen


@run_async
async def test_opens_on_the_newest_checkpoint_of_the_run_and_streams_a_tweet(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        text = await sample_done(pilot)
        newest = home / "runs" / "tiny" / "step-00000020.pt"
        assert app.source is not None and app.source.path == newest
        assert text == expected_sample(newest, 0.8, SEED)
        assert app.generation.current is not None and app.generation.current.complete is True
        await app_idle(pilot)
        keys = [row_key(i.path) for i in app.checkpoint_panel.infos]
        assert keys[0] == row_key(tui_assets.demo), "the demo checkpoint is listed first"
        assert [i.step for i in app.checkpoint_panel.infos[1:]] == [20, 10], "then the run, newest first"


@run_async
async def test_r_resamples_and_keeps_the_previous_tweet_in_the_history(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        first = await sample_done(pilot)
        await pilot.press("r")
        second = await sample_done(pilot)
        newest = home / "runs" / "tiny" / "step-00000020.pt"
        assert app.generation.sample_id == 2
        assert second == expected_sample(newest, 0.8, SEED + 1) != first
        assert [r.text for r in app.generation.history] == [first]


@run_async
async def test_temperature_keys_apply_to_the_next_sample_within_bounds(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home, temperature=4.9, pace=5.0))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.generation.current is not None, "the first sample to start")
        await pilot.press("plus")
        assert app.temperature == 5.0
        assert app.generation.current is not None and app.generation.current.temperature == 4.9, "the current tweet keeps its temperature"
        assert "temp 5.0" in str(app.query_one("#gen-status", Static).render())
        assert app.screen.active_bindings["plus"].enabled is False, "+ is shown disabled at 5.0"
        await pilot.press("plus")
        assert app.temperature == 5.0
        for _ in range(3):
            await pilot.press("minus")
        assert app.temperature == 4.7
        app.settings.pace = 0.0
        await pilot.press("r")
        text = await sample_done(pilot)
        assert app.generation.current is not None and app.generation.current.temperature == 4.7
        assert text == expected_sample(home / "runs" / "tiny" / "step-00000020.pt", 4.7, SEED + 1)
        app.temperature = 0.1
        await pilot.pause()
        assert app.screen.active_bindings["minus"].enabled is False, "- is shown disabled at 0.1"


@run_async
async def test_selecting_a_checkpoint_switches_the_weights_at_once(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home, pace=4.0))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle_streaming(pilot, app)
        streaming = app.generation.current
        assert streaming is not None and streaming.complete is None, "slow pace: still streaming"
        await pilot.press("c")
        assert app.focused is app.checkpoint_panel.table
        await pilot.press("ctrl+home", "enter")  # the first row: the demo checkpoint
        await wait_until(pilot, lambda: app.source is not None and app.source.path == tui_assets.demo, "the switch")
        assert streaming.complete is False and streaming in app.generation.history, "the old stream stopped"
        app.settings.pace = 0.0
        await pilot.press("r")
        text = await sample_done(pilot)
        assert text == expected_sample(tui_assets.demo, 0.8, SEED + app.generation.sample_id - 1)
        assert app.generation.current is not None and app.generation.current.source.startswith("demo · step 15")
        assert app.checkpoint_panel.active == row_key(tui_assets.demo)


async def app_idle_streaming(pilot, app: TweetgenApp) -> None:
    await wait_until(pilot, lambda: app.checkpoint_panel.listed and app.generation.current is not None
                     and app.generation.current.text != "", "start-up and the first characters")


@run_async
async def test_a_corrupt_checkpoint_is_reported_and_the_previous_one_stays(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        before = app.source
        bad = home / "runs" / "tiny" / "step-00000010.pt"
        bad.write_bytes(b"PK\x03\x04 not a checkpoint any more")
        app.checkpoint_panel.switch_to(bad)
        await wait_until(pilot, lambda: any("not a tweetgen checkpoint" in e for e in app.errors),
                         "the error notification")
        assert app.source is before and app.is_running
        assert app.checkpoint_panel.active == row_key(before.path)


@run_async
async def test_help_screen_lists_every_key_and_closes(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed = {keys for keys, _ in app.screen.rows}
        assert {"r", "+", "-", "space", "s", "c", "?", "q"} <= listed
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark", "q")
        assert not isinstance(app.screen, HelpScreen) and app.return_code is None, "q closes the help, not the app"


@run_async
async def test_every_key_is_in_the_command_palette_when_enabled(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for title in ("Resample (r)", "Temp+ (+)", "Temp- (-)", "Train (space)", "Checkpoints (c)", "Help (?)", "Quit (q)"):
            assert title in titles
        assert "Save (s)" not in titles and app.screen.active_bindings["s"].enabled is False, "s: nothing to save yet"


@pytest.mark.slow  # starts a training process
@run_async
async def test_space_starts_pauses_and_resumes_training_and_the_chart_fills(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        chart = app.training_panel.chart
        before = chart.point_count
        assert app.screen.active_bindings["space"].binding.action == "start_training"
        await pilot.press("space")
        assert app.train_state == "starting" and app.training.process is not None
        await wait_until(pilot, lambda: app.train_state == "running" and chart.point_count > before + 2, "training progress")
        assert app.screen.active_bindings["space"].binding.action == "pause_training"
        await pilot.press("space")
        await wait_until(pilot, lambda: app.train_state == "paused", "the pause")
        assert app.screen.active_bindings["space"].binding.action == "resume_training"
        paused_at = app.training.process.step
        await pilot.press("s")
        saved = home / "runs" / "tiny" / f"step-{paused_at:08d}.pt"
        await wait_until(pilot, lambda: any(row_key(saved) == row_key(i.path) for i in app.checkpoint_panel.infos),
                         "the saved checkpoint in the list")
        await pilot.press("space")
        await wait_until(pilot, lambda: app.train_state == "running" and app.training.process.step > paused_at, "training to resume")
        assert app.training_panel.step is not None and app.training_panel.step > 20, "resumed from the run's step 20"


@pytest.mark.slow  # starts a training process
@run_async
async def test_quit_while_training_writes_a_checkpoint_first(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.training.process is not None and app.training.process.step > 25, "some training steps")
        process = app.training.process
        shown = app.training_panel.step
        await pilot.press("q")  # the tiny model stops within a step: no assertion on "stopping" here
        await wait_until(pilot, lambda: app.return_code is not None, "the app to exit", timeout=WAIT)
    assert process is not None and process.done is not None and process.done.reason == "stopped"
    last = process.done.last_checkpoint
    assert last is not None and last.exists()
    assert load_checkpoint(last).step == process.done.step >= max(25, shown or 0), "no completed step lost"


@pytest.mark.slow  # starts a training process
@run_async
async def test_divergence_is_shown_and_the_app_keeps_generating(tui_assets: Assets, home: Path) -> None:
    train = {"batch_size": 4, "warmup_steps": 0, "val_every": 0, "ckpt_every": 0, "max_steps": 400, "lr": 50.0,
             "lr_schedule": "constant", "clip": 1e6}
    app = TweetgenApp(make_settings(tui_assets, home, train=train))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        source = app.source
        await pilot.press("space")
        await wait_until(pilot, lambda: train_status(app).startswith("✗"), "the run to end")
        assert "diverged" in train_status(app), train_status(app)
        assert app.train_state == "error" and app.training.can("start") and app.source is source  # the one state: the error shown, space trains again
        await pilot.press("r")
        assert await sample_done(pilot)


@run_async
async def test_an_unreadable_corpus_is_shown_and_generation_still_works(tui_assets: Assets, home: Path, tmp_path: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home, data_path=tmp_path / "nope.csv"))
    async with app.run_test(size=SIZE) as pilot:
        text = await sample_done(pilot)
        await wait_until(pilot, lambda: corpus_read(app), "the corpus error")
        assert train_status(app).startswith("✗ corpus: ") and "nope.csv: no such file" in train_status(app)
        assert text and app.is_running


@run_async
async def test_without_any_checkpoint_an_untrained_model_writes_and_says_so(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home, with_run=False, demo_checkpoint=None))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        assert app.source is not None and app.source.path is None and app.source.label == "untrained"
        notes = [str(n.render()) for n in app.query(".note")]
        assert any("press space to train" in n for n in notes)
        assert app.checkpoint_panel.query_one("#checkpoint-empty").display


@run_async
async def test_generated_text_is_plain_text_never_markup(tui_assets: Assets, home: Path) -> None:
    from tui import messages as m

    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        app.generation.begin(99, 0.8, "test")
        tricky = "[bold]not bold[/] [link=x]🐈 \\[ [/link"
        app.generation.post_message(m.SampleChunk(99, tricky))
        await pilot.pause()
        rendered = app.query_one("#current", Static).render()
        assert str(rendered).startswith(tricky)
        assert not any("bold" in str(span.style) for span in getattr(rendered, "spans", []))


@run_async
async def test_keys_typed_while_quitting_are_ignored(tui_assets: Assets, home: Path) -> None:
    """Typing `question_mark` into a terminal sends q first; the letters after it reach an app
    whose widgets are being torn down (an `r` then crashed the exit). Once quitting, every key
    is disabled and no new tweet starts."""
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        panel = app.generation  # (the app's widgets are gone once it has exited)
        await pilot.press("q")
        assert all(app.check_action(a, ()) is None for a in ("resample", "start_training", "help", "quit"))
        panel.start_sample()
        await wait_until(pilot, lambda: app.return_code is not None, "the app to exit")
    assert app.return_code == 0 and panel.sample_id == 1
