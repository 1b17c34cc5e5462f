"""``tweetgen-tui --data mine.csv``, then space: once the run being trained has a checkpoint, the
tweets come from it, not from the demo model; and the demo's tweets are not checked for copies
against a corpus that model never saw."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuihelpers import SIZE, TINY_TRAIN, Assets, app_idle, make_settings, run_async, wait_until, workers_done

from core.store import policy
from tui.app import TweetgenApp


def test_the_policy_follows_a_new_run_only_from_another_runs_model(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "mine"
    demo = tmp_path / "assets" / "demo.pt"
    assert policy.follow_when_trained(demo, run)
    assert policy.follow_when_trained(tmp_path / "elsewhere" / "step-00000010.pt", run)
    assert not policy.follow_when_trained(run / "step-00000010.pt", run)
    assert not policy.follow_when_trained(None, run), "the untrained model follows the run already"


def test_the_novelty_check_applies_only_to_a_model_of_this_corpus(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "mine"
    demo = tmp_path / "assets" / "demo.pt"
    assert not policy.novelty_applies(demo, run_dir=run, demo=demo, demo_corpus=False)
    assert policy.novelty_applies(demo, run_dir=run, demo=demo, demo_corpus=True)
    assert policy.novelty_applies(run / "step-00000010.pt", run_dir=run, demo=demo, demo_corpus=False)
    assert policy.novelty_applies(None, run_dir=run, demo=demo, demo_corpus=False)


@pytest.mark.slow  # starts a training process
@run_async
async def test_generation_moves_to_the_run_being_trained_once_it_has_a_checkpoint(tui_assets: Assets, home: Path) -> None:
    settings = make_settings(tui_assets, home, with_run=False, run="mine",
                             train={**TINY_TRAIN, "ckpt_every": 5, "max_steps": 1_000_000, "guard_patience": 10**9})
    app = TweetgenApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        assert app.source is not None and policy.same_file(app.source.path, tui_assets.demo), "a new run starts on the demo"
        first = app.generation.current
        assert first is not None and first.complete
        assert first.novelty is None and first.novelty_note == policy.NOT_TRAINED_ON_IT, first.novelty_note
        await pilot.press("space")
        run_dir = home / "runs" / "mine"
        await wait_until(pilot, lambda: app.source is not None and policy.of_run(app.source.path, run_dir),
                         "generation to move to the run being trained")
        await wait_until(pilot, lambda: app.generation.current is not None and app.generation.current.complete
                         and policy.of_run(app.generation.current.checkpoint, run_dir), "a tweet of the run")
        tweet = app.generation.current
        await wait_until(pilot, lambda: tweet.novelty is not None, "its novelty check")


@pytest.mark.slow  # starts a training process
@run_async
async def test_a_model_chosen_by_hand_while_training_stays(tui_assets: Assets, home: Path) -> None:
    settings = make_settings(tui_assets, home, with_run=False, run="mine",
                             train={**TINY_TRAIN, "ckpt_every": 5, "max_steps": 1_000_000, "guard_patience": 10**9})
    app = TweetgenApp(settings)
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await pilot.press("space")
        app.checkpoint_panel.switch_to(tui_assets.demo)  # as choosing the demo's row in the table does
        run_dir = home / "runs" / "mine"
        # run_checkpoints is set by the handler that would start following the run
        await wait_until(pilot, lambda: any(policy.of_run(i.path, run_dir) for i in app.run_checkpoints),
                         "the run's first checkpoint to be listed")
        await workers_done(pilot, "model")  # a follow would load the run's checkpoint here
        await wait_until(pilot, lambda: app.generation.current is not None and app.generation.current.complete,
                         "a finished tweet")
        assert app.source is not None and policy.same_file(app.source.path, tui_assets.demo)
        assert not app.checkpoint_panel.follow_best
