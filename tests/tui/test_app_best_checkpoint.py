"""Issue 8 in the app: it generates from the run's best checkpoint, says so, and shows when validation got worse."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widgets import Static
from tuihelpers import SIZE, Assets, app_idle, make_settings, run_async, wait_until

from core.store.checkpoints import load_checkpoint, save_checkpoint
from core.events import EvalEvent, GuardEvent
from tui import messages as m
from tui.app import TweetgenApp


def _add_worse_newer_checkpoint(run: Path) -> Path:
    """Step 30: the step-20 weights with a validation score clearly worse than the run's best."""
    src = load_checkpoint(run / "step-00000020.pt")
    best = min(load_checkpoint(run / f"step-000000{s}.pt").metrics["val_bpc"] for s in (10, 20))
    path = run / "step-00000030.pt"
    save_checkpoint(path, model=src.model(), vocab=src.vocab,
                    train_state={**{k: v for k, v in src.train_state.items() if k != "train_weights"}, "step": 30},
                    metrics={**src.metrics, "val_bpc": best + 1.0, "val_step": 30})
    return path


@run_async
async def test_opens_on_the_best_checkpoint_not_the_newest_and_says_so(tui_assets: Assets, home: Path) -> None:
    settings = make_settings(tui_assets, home)
    run = home / "runs" / "tiny"
    _add_worse_newer_checkpoint(run)
    scores = {s: load_checkpoint(run / f"step-000000{s}.pt").metrics["val_bpc"] for s in (10, 20)}
    best = min(scores, key=scores.__getitem__)
    app = TweetgenApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        assert app.source is not None and app.source.path == run / f"step-000000{best}.pt"
        status = str(app.query_one("#gen-status", Static).render())
        assert f"best step {best} · tiny" in status


@run_async
async def test_a_checkpoint_directory_generates_from_its_best_not_its_newest(tui_assets: Assets, home: Path,
                                                                           tmp_path: Path) -> None:
    """--checkpoint DIR: the directory's best checkpoint, as `tweetgen-tui --help` says (it said "the newest")."""
    other = tmp_path / "other"
    shutil.copytree(tui_assets.run, other)  # copy2: sidecars stay newer than their .pt
    newest = _add_worse_newer_checkpoint(other)
    scores = {s: load_checkpoint(other / f"step-000000{s}.pt").metrics["val_bpc"] for s in (10, 20)}
    best = other / f"step-000000{min(scores, key=scores.__getitem__)}.pt"
    app = TweetgenApp(make_settings(tui_assets, home, with_run=False, checkpoint=other))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        assert app.source is not None and app.source.path == best != newest
        assert app.errors == []


@run_async
async def test_the_training_panel_shows_validation_getting_worse_and_the_guard_is_announced(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        stats = app.query_one("#train-stats", Static)
        app.training_panel.post_message(m.TrainingEvaluated(EvalEvent(100, 2.0, 2.0, 2.1, 100)))
        await wait_until(pilot, lambda: "val 2.000 · best 2.000" in str(stats.render()), "a healthy validation")
        assert "worse" not in str(stats.render())
        app.training_panel.post_message(m.TrainingEvaluated(EvalEvent(200, 2.45, 2.0, 1.9, 100)))
        await wait_until(pilot, lambda: "▲0.45 worse" in str(stats.render()), "the panel to say validation got worse")
        guard = GuardEvent(300, 2.5, 2.0, 100, "rollback", 0.003, None, "validation 2.500 bits/char stayed worse: rolled back")
        app.training_panel.post_message(m.TrainingGuarded(guard))
        await wait_until(pilot, lambda: any("rolled back" in str(n.message) for n in app._notifications),
                         "a notification of the guard's response")


@run_async
async def test_the_training_panel_shows_overfitting_until_a_new_best(tui_assets: Assets, home: Path) -> None:
    """Issue 16: the guard's "overfitting" is a state of the run (training goes on): the panel says since
    when, under the validation line, within its 36 columns, and a new best clears it."""
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        stats = app.query_one("#train-stats", Static)
        app.training_panel.post_message(m.TrainingEvaluated(EvalEvent(1400, 2.9, 2.64, 1.2, 1200)))
        message = "validation stopped improving at step 1200; the model now memorises: more data or dropout helps"
        app.training_panel.post_message(m.TrainingGuarded(GuardEvent(1400, 2.9, 2.64, 1200, "overfit", 0.006, None, message)))
        await wait_until(pilot, lambda: "overfitting since step 1,200" in str(stats.render()), "the panel to show overfitting")
        assert all(len(line) <= 36 for line in str(stats.render()).splitlines())
        await wait_until(pilot, lambda: any("memorises" in str(n.message) for n in app._notifications), "a notification")
        assert "best 2.640" in str(stats.render())
        app.training_panel.post_message(m.TrainingEvaluated(EvalEvent(1600, 2.5, 2.5, 1.1, 1600)))
        await wait_until(pilot, lambda: "overfitting" not in str(stats.render()), "a new best to clear it")
