"""Pilot tests: opening a corpus from inside the app (key d, or the palette's "Open corpus").

The corpus files are written here, in a tmp folder that is the current directory (where the
screen's file tree starts); their lines are made up for these tests. Training starts in a
spawned process, so the tests that confirm wait for it with generous, event-based timeouts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, DirectoryTree, Input, Static
from tuihelpers import SIZE, WAIT, Assets, app_idle, make_settings, run_async, wait_until

from core.store.policy import path_key
from tui.app import TweetgenApp
from tui.screens.open_corpus import OpenCorpusScreen
from tui.screens.palette import SafeCommandPalette

SHORT = [f"walk number {i} by the river, {'slow' if i % 2 else 'fast'} today" for i in range(30)]
LONG = [f"a long post {i}: " + "more words about the weather and the garden " * 7 for i in range(10)]  # ~330 chars: over 280
RETWEETS = [f"RT @friend: shared post {i} about the market" for i in range(5)]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current directory for the test: it holds mine.txt (30 short lines, 10 of ~240 characters, 5 retweets)."""
    where = tmp_path / "corpora"
    where.mkdir()
    (where / "mine.txt").write_text("\n".join(SHORT + LONG + RETWEETS), encoding="utf-8")
    monkeypatch.chdir(where)
    return where


def report_shown(screen: OpenCorpusScreen) -> str:
    return str(screen.query_one("#open-report", Static).render())


def error_shown(screen: OpenCorpusScreen) -> str:
    line = screen.query_one("#open-error", Static)
    return str(line.render()) if line.display else ""


async def open_screen(pilot, app: TweetgenApp, via: str) -> OpenCorpusScreen:
    if via == "key":
        await pilot.press("d")
    else:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, SafeCommandPalette), "the palette")
        await pilot.press(*"open corpus")
        await pilot.pause(0.3)  # the palette searches in a worker
        await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(app.screen, OpenCorpusScreen), f"the open-corpus screen ({via})")
    screen = app.screen
    assert isinstance(screen, OpenCorpusScreen)
    return screen


async def pick_in_tree(pilot, screen: OpenCorpusScreen, name: str) -> None:
    """Move the tree's cursor to ``name`` with the arrow keys and press enter, as a person would."""
    tree = screen.query_one(DirectoryTree)
    await wait_until(pilot, lambda: len(tree.root.children) > 0, "the tree to list the folder")
    tree.focus()
    for _ in range(20):
        node = tree.cursor_node
        if node is not None and node.data is not None and node.data.path.name == name:
            break
        await pilot.press("down")
    else:
        raise AssertionError(f"{name} not found in the tree")
    await pilot.press("enter")


def run_state(app: TweetgenApp) -> tuple:
    return (app.settings, app.run_dir, app.train_state, app.training.process, app.source, app.sub_title)


@pytest.mark.slow  # starts a training process
@run_async
async def test_key_d_picks_a_file_shows_its_report_and_trains_a_new_run_on_it(tui_assets: Assets, home: Path,
                                                                               folder: Path) -> None:
    """d, a file picked in the tree, the report (kept, drops by reason), the two choices, then Train: a new run
    named after the file trains on it with those choices; the demo stays listed."""
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        screen = await open_screen(pilot, app, "key")
        await pick_in_tree(pilot, screen, "mine.txt")
        await wait_until(pilot, lambda: "kept" in report_shown(screen), "the load report")
        report = report_shown(screen)
        assert "mine.txt: 35 of 45 kept" in report, report
        assert "too long 10" in report and "retweet" not in report, report  # a text file keeps retweets by default
        assert app.training.process is None and app.run_dir == home / "runs" / "tiny", "nothing trains before Train"

        # the length limit: 400 keeps the long posts; retweets: dropped
        max_len = screen.query_one("#open-max-len", Input)
        max_len.focus()
        max_len.value = "400"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "45 of 45 kept" in report_shown(screen), "the report with max length 400")
        await pilot.click("#open-retweets")
        await wait_until(pilot, lambda: "40 of 45 kept" in report_shown(screen), "the report without retweets")
        assert "retweet 5" in report_shown(screen)

        await wait_until(pilot, lambda: not screen.query_one("#open-start", Button).disabled, "Train to be enabled")
        await pilot.click("#open-start")
        await wait_until(pilot, lambda: app.train_state == "running", "training on the opened corpus", timeout=WAIT)
        run_dir = home / "runs" / "mine"
        assert app.run_dir == run_dir and app.settings.data_path == folder / "mine.txt"
        assert app.training.process is not None and app.training.process.job.data_path == folder / "mine.txt"
        assert app.training.process.job.run_dir == run_dir and app.training.process.job.resume_from is None, "a new run"
        assert app.training.process.job.filters == {"max_len": 400, "drop_retweets": True}
        assert "mine.txt · 40 tweets" in str(app.training_panel.border_subtitle)
        listed = {path_key(i.path) for i in app.checkpoint_panel.infos}
        assert path_key(tui_assets.demo) in listed, "the demo is still there to pick"
        assert (home / "runs" / "tiny" / "step-00000020.pt").exists(), "the old run is untouched"
        await pilot.press("q")
        await wait_until(pilot, lambda: app.return_code is not None, "the app to exit", timeout=WAIT)
    assert sorted(p.name for p in run_dir.glob("step-*.pt")), "the new run wrote its checkpoint on quit"


@pytest.mark.slow  # starts a training process
@run_async
async def test_opening_while_training_stops_that_run_with_a_checkpoint_first(tui_assets: Assets, home: Path,
                                                                               folder: Path) -> None:
    """The palette command while the demo run trains: that run stops with a checkpoint, then the new one starts."""
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.training.process is not None and app.training.process.step > 25, "the first run to train")
        first = app.training.process
        screen = await open_screen(pilot, app, "palette")
        assert "stops training tiny first" in str(screen.query_one("#open-note", Static).render())
        path = screen.query_one("#open-path", Input)
        path.focus()
        path.value = "mine.txt"  # relative to the folder the tree shows
        await pilot.press("enter")
        await wait_until(pilot, lambda: not screen.query_one("#open-start", Button).disabled, "the report")
        await pilot.click("#open-start")
        await wait_until(pilot, lambda: app.training.process is not None and app.training.process is not first
                         and app.train_state == "running", "the new run to train", timeout=WAIT)
        assert first is not None and first.done is not None and first.done.reason == "stopped"
        assert first.done.last_checkpoint is not None and first.done.last_checkpoint.exists()
        assert app.run_dir == home / "runs" / "mine"
        await pilot.press("q")
        await wait_until(pilot, lambda: app.return_code is not None, "the app to exit", timeout=WAIT)


@run_async
async def test_palette_opens_it_and_a_bad_path_is_one_line(tui_assets: Assets, home: Path, folder: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        assert "Open corpus (d)" in {c.title for c in app.get_system_commands(app.screen)}
        screen = await open_screen(pilot, app, "palette")
        path = screen.query_one("#open-path", Input)
        path.focus()
        for typed, expected in (("no-such-file.csv", "no-such-file.csv"), ("", "type a path")):
            path.value = typed
            await pilot.press("enter")
            await wait_until(pilot, lambda: expected in error_shown(screen), f"the error for {typed!r}")
            assert "\n" not in error_shown(screen)
            assert screen.query_one("#open-error").size.height == 1
        (folder / "empty.csv").write_text("", encoding="utf-8")
        path.value = str(folder / "empty.csv")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "empty.csv" in error_shown(screen) and "no-such" not in error_shown(screen),
                         "the empty file's error")
        assert not screen.query_one("#open-result").display, "no report, no Train"
        assert app.screen is screen and app.training.process is None


@run_async
async def test_escape_cancels_and_nothing_changes(tui_assets: Assets, home: Path, folder: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        before = run_state(app)
        screen = await open_screen(pilot, app, "key")
        await pick_in_tree(pilot, screen, "mine.txt")
        await wait_until(pilot, lambda: "kept" in report_shown(screen), "the load report")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, OpenCorpusScreen), "the screen to close")
        await pilot.pause(0.3)
        assert run_state(app) == before
        assert not (home / "runs" / "mine").exists()


@run_async
async def test_a_changed_length_is_read_again_before_training(tui_assets: Assets, home: Path, folder: Path) -> None:
    """Train with a length typed but not yet read: the report is read again first (what it shows is what trains)."""
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        screen = await open_screen(pilot, app, "key")
        await pick_in_tree(pilot, screen, "mine.txt")
        await wait_until(pilot, lambda: "35 of 45 kept" in report_shown(screen), "the load report")
        screen.query_one("#open-max-len", Input).value = "400"
        await pilot.click("#open-start")
        await wait_until(pilot, lambda: "45 of 45 kept" in report_shown(screen), "the report read again")
        assert isinstance(app.screen, OpenCorpusScreen) and app.training.process is None
        box = screen.query_one("#open-max-len", Input)
        box.value = "0"
        box.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "max length must be" in error_shown(screen), "the bad length's line")
        await pilot.press("escape")
