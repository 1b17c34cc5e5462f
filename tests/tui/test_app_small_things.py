"""Issue 12's small things in the app: the corpus length option and its hint, the progress
at the end of a run, the footer in a narrow terminal. (The checkpoint list following
files deleted behind it is in test_app_event_rate.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import ProgressBar, Static
from tuihelpers import (
    SIZE,
    TUI_TWEETS,
    Assets,
    app_idle,
    corpus_read,
    corpus_shown,
    footer_settled,
    make_settings,
    run_async,
    train_status,
    wait_until,
)

from core.events import DoneEvent, StartEvent, StepEvent
from tui import messages as m
from tui.__main__ import build_parser, settings_from_args
from tui.app import TweetgenApp

LONG = [f"{i:03d} " + (t + " ") * 10 for i, t in enumerate(TUI_TWEETS)]  # over 280 characters each


def test_max_tweet_len_is_the_corpus_filter_and_the_generation_cap_follows_the_model() -> None:
    """--max-tweet-len is the corpus filter (default 280); without --max-len a tweet may run a quarter
    past the model's longest training text (core.model.sampler.default_max_len), so settings hold None."""
    s = settings_from_args(build_parser().parse_args(["--max-tweet-len", "400"]))
    assert s.filters == {"max_len": 400} and s.corpus_filters().max_len == 400 and s.max_len is None
    s = settings_from_args(build_parser().parse_args(["--max-tweet-len", "400", "--max-len", "100"]))
    assert s.max_len == 100
    s = settings_from_args(build_parser().parse_args([]))
    assert s.filters == {} and s.corpus_filters().max_len == 280 and s.max_len is None


@pytest.mark.slow
@run_async
async def test_a_corpus_of_long_tweets_names_the_apps_option_and_trains_with_it(tui_assets: Assets, home: Path,
                                                                               tmp_path: Path) -> None:
    corpus = tmp_path / "long.txt"
    corpus.write_text("\n".join(LONG), encoding="utf-8")
    assert 280 < min(map(len, LONG)) and max(map(len, LONG)) <= 600
    app = TweetgenApp(make_settings(tui_assets, home, data_path=corpus, with_run=False, run="long"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: corpus_read(app), "the corpus error")
        status = train_status(app)
        assert "corpus:" in status and "--max-tweet-len" in status and "--max-len " not in status, status
    app = TweetgenApp(make_settings(tui_assets, home, data_path=corpus, with_run=False, run="long",
                                    filters={"max_len": 600}, train={"batch_size": 4, "max_steps": 3, "val_every": 0,
                                                                     "ckpt_every": 0, "log_interval_s": 0.05}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: corpus_read(app), "the corpus")
        assert corpus_shown(app).endswith(f" · {len(LONG)} tweets"), train_status(app)
        await wait_until(pilot, lambda: "press space to train" in train_status(app), "the run directory")
        await footer_settled(pilot)
        await pilot.press("space")
        await wait_until(pilot, lambda: "space to train more" in train_status(app) or "✗" in train_status(app),
                         "the training to end")
        assert train_status(app).startswith("○ ") and "finished" in train_status(app), train_status(app)
        assert app.errors == []


@run_async
async def test_the_progress_shown_reaches_the_step_the_run_finished_at(tui_assets: Assets, home: Path) -> None:
    """Progress events are throttled: the last one said step 57/60 while the run said 'finished 60 steps'."""
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        run = home / "runs" / "tiny"
        panel = app.training_panel  # where the training process' events are posted
        panel.post_message(m.TrainingStarted(StartEvent(0, run, "cpu", 10, 2, 100, 60, None)))
        panel.post_message(m.TrainingProgress(StepEvent(57, 0, 2.0, 0.01, 100.0, 5.0, 0.95, 1.0, 60)))
        await pilot.pause()
        stats = app.query_one("#train-stats", Static)
        assert "step 57/60" in str(stats.render())
        panel.post_message(m.TrainingFinished(DoneEvent(60, "finished", "finished 60 steps", None)))
        await pilot.pause()
        await pilot.pause()
        assert "step 60/60" in str(stats.render())
        bar = app.query_one("#train-progress", ProgressBar)
        assert bar.percentage == 1.0
        assert "finished 60 steps" in str(app.query_one("#train-status", Static).render())


@pytest.mark.parametrize("width", [40, 50, 60, 79])
@run_async
async def test_help_and_quit_stay_visible_in_a_narrow_footer(tui_assets: Assets, home: Path, width: int) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=(width, 24)) as pilot:
        await app_idle(pilot)
        await pilot.pause()
        footer = app.screen._compositor.render_strips()[-1].text
        assert "? Help" in footer and "q Quit" in footer, footer
        await pilot.press("question_mark")  # and they work
        assert app.screen.__class__.__name__ == "HelpScreen"


@run_async
async def test_help_and_quit_stay_visible_after_narrowing_the_terminal(tui_assets: Assets, home: Path) -> None:
    """Resizing from 120 to 50 columns (the footer used the size before the resize event). Every key
    fits from ALL_KEYS_FIT (104) columns: there the footer starts with r."""
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=(120, 24)) as pilot:
        await app_idle(pilot)
        assert app.screen._compositor.render_strips()[-1].text.startswith("r Resample")
        await pilot.resize_terminal(50, 24)

        def footer() -> str:
            return app.screen._compositor.render_strips()[-1].text

        await wait_until(pilot, lambda: app.size.width == 50 and app.screen._compositor.size.width == 50, "the resize to reach the screen",
                         timeout=30)
        await footer_settled(pilot)
        await pilot.pause()
        assert "? Help" in footer() and "q Quit" in footer(), footer()


@run_async
async def test_reading_a_large_corpus_shows_how_far_it_has_got(tui_assets: Assets, home: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The boot worker reads the corpus; a large file shows 'reading … N%' in the training panel's border
    until the count of tweets replaces it (the threshold is lowered so a small file counts as large)."""
    import tui.startup
    from tui.widgets.training_panel import TrainingPanel

    corpus = tmp_path / "many.txt"
    corpus.write_text("\n".join(f"{t} #{i}" for i in range(400) for t in TUI_TWEETS), encoding="utf-8")
    monkeypatch.setattr(tui.startup, "CORPUS_PROGRESS_BYTES", 1)
    shown: list[str] = []
    original = TrainingPanel.set_corpus

    def record(self: TrainingPanel, label: str) -> None:
        shown.append(label)
        original(self, label)

    monkeypatch.setattr(TrainingPanel, "set_corpus", record)
    app = TweetgenApp(make_settings(tui_assets, home, data_path=corpus, with_run=False, run="many"))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: corpus_read(app), "the corpus")
        size_mb = corpus.stat().st_size / 2**20
        reading = [s for s in shown if s.startswith("reading many.txt… ")]
        assert reading and reading[-1] == f"reading many.txt… 100% of {size_mb:,.0f} MB", shown
        assert shown[-1] == f"many.txt · {400 * len(TUI_TWEETS):,} tweets" == corpus_shown(app), shown
