"""Snapshot tests (pytest-textual-snapshot): the main screen idle, and the help screen.

Fixed terminal sizes, seeded sampling, unpaced streaming, a frozen clock for ages, and
checkpoints made from seeded *untrained* models with fixed metrics (no training, so
nothing depends on floating-point details of an optimiser run). Nothing on these
screens blinks. Update after an intended change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tuihelpers import TINY_MODEL, TUI_TWEETS, app_idle

from core.store import policy
from core.store.checkpoints import save_checkpoint
from core.model.gru import new_model
from core.data.vocab import CharVocab
from tui import format as fmt
from tui.app import TweetgenApp
from tui.settings import AppSettings

HISTORY = [[0, float("nan"), 6.2], [10, 4.9, 4.4], [20, 3.9, 3.6], [30, 3.3, 3.2], [40, 3.0, 3.05],
           [50, 2.8, 2.95], [60, 2.7, 2.9], [70, 2.62, 2.86], [80, 2.55, 2.84]]


@pytest.fixture
def snap_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TweetgenApp:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(TUI_TWEETS), encoding="utf-8")
    vocab = CharVocab.build(TUI_TWEETS)
    run = tmp_path / "home" / "runs" / "snap"
    created = []
    for seed, step, val in ((3, 40, 3.05), (4, 80, 2.84)):
        path = run / f"step-{step:08d}.pt"
        save_checkpoint(path, model=new_model(vocab, seed=seed, **TINY_MODEL), vocab=vocab,
                        train_state={"step": step, "epoch": step // 3, "run": "snap"},
                        metrics={"val_bpc": val, "history": [h for h in HISTORY if h[0] <= step]}, tags=["periodic"])
        created.append(path.stat().st_mtime)
    demo = tmp_path / "demo.pt"
    save_checkpoint(demo, model=new_model(vocab, seed=9, **TINY_MODEL), vocab=vocab,
                    train_state={"step": 1500, "run": "demo"}, metrics={"val_bpc": 2.101}, tags=["final"])
    monkeypatch.setattr(fmt, "now", lambda: max(created) + 150.0)  # every age reads "2m"
    settings = AppSettings(data_path=corpus, demo_checkpoint=demo, run="snap", home=tmp_path / "home",
                           pace=0.0, gap_s=None, seed=11, model=dict(TINY_MODEL), train={"max_steps": 100})
    return TweetgenApp(settings)


def test_main_screen_idle_80x24(snap_app: TweetgenApp, snap_compare) -> None:
    """80x24: one finished seeded tweet from the run's newest checkpoint, the run's loss
    history in the chart, training idle, demo + two run checkpoints listed (active marked)."""
    assert snap_compare(snap_app, terminal_size=(80, 24), run_before=app_idle)


def test_main_screen_idle_120x36(snap_app: TweetgenApp, snap_compare) -> None:
    """120x36 (the -wide layout): same state as the 80x24 snapshot."""
    assert snap_compare(snap_app, terminal_size=(120, 36), run_before=app_idle)


def test_help_screen(snap_app: TweetgenApp, snap_compare) -> None:
    """`?` over the idle main screen: every key with what it does, then the widget keys."""
    assert snap_compare(snap_app, terminal_size=(80, 24), run_before=app_idle, press=["question_mark"])


async def screen_settled(pilot) -> None:
    """Until two screenshots 0.05 s apart are the same: a finished column's last lines are drawn at the
    next frame flush, after the record says it is complete (a snapshot taken between them flaked)."""
    previous = None
    for _ in range(100):
        await pilot.pause(0.05)
        current = pilot.app.export_screenshot()
        if current == previous:
            return
        previous = current
    raise AssertionError("the screen kept changing for 5 s")


async def novelty_shown(pilot) -> None:
    """Start-up done and the novelty index built, so every finished sample says its novelty."""
    from tuihelpers import wait_until

    await app_idle(pilot)
    app = pilot.app
    await wait_until(pilot, lambda: app.samples.novelty is not None and all(r.novelty is not None for r in app.samples.session if r.complete),
                     "novelty on every finished sample")
    await screen_settled(pilot)


async def probability_view(pilot) -> None:
    await novelty_shown(pilot)
    await pilot.press("p")
    await pilot.pause()


async def columns_done(pilot, *keys: str) -> None:
    from tuihelpers import footer_settled, wait_until

    from tui.screens.columns import ColumnsScreen

    await novelty_shown(pilot)
    app = pilot.app
    for key in keys:
        await pilot.press(key)
        await pilot.pause()
    await wait_until(pilot, lambda: isinstance(app.screen, ColumnsScreen),
                     f"the columns ({len(app.checkpoint_panel.marked)} marked, focus {app.focused}, train {app.train_state})")
    # checked, or said why not (the demo's column: the demo never saw this corpus)
    await wait_until(pilot, lambda: all(r.complete and (r.novelty is not None or r.novelty_note == policy.NOT_TRAINED_ON_IT)
                                        for r in app.screen.records),
                     "every column finished and checked")
    await footer_settled(pilot)
    await screen_settled(pilot)


async def sweep(pilot) -> None:
    await columns_done(pilot, "t")


async def compare(pilot) -> None:
    await columns_done(pilot, "c", "space", "down", "space", "up", "up", "space", "v")  # the cursor starts on the active


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_probability_view(snap_app: TweetgenApp, snap_compare, size: tuple[int, int]) -> None:
    """p: the finished tweet coloured by the model's probability of each character, the legend
    under the status line, bits/char and novelty under the tweet."""
    assert snap_compare(snap_app, terminal_size=size, run_before=probability_view)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_temperature_sweep(snap_app: TweetgenApp, snap_compare, size: tuple[int, int]) -> None:
    """t: five columns, T 0.5 to 2.0, one seed, each finished with bits/char and novelty."""
    assert snap_compare(snap_app, terminal_size=size, run_before=sweep)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_checkpoint_comparison(snap_app: TweetgenApp, snap_compare, size: tuple[int, int]) -> None:
    """space on the three checkpoints, then v: demo, step 80 and step 40 side by side, one seed."""
    assert snap_compare(snap_app, terminal_size=size, run_before=compare)


def test_prime_input(snap_app: TweetgenApp, snap_compare) -> None:
    """/: the prime input over the app, a prime typed."""

    async def typed(pilot) -> None:
        from tuihelpers import wait_until

        from tui.screens.prime import PrimeScreen

        await novelty_shown(pilot)
        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PrimeScreen), "the prime input")
        await pilot.press(*"the [cat]")
        await pilot.pause()

    assert snap_compare(snap_app, terminal_size=(80, 24), run_before=typed)
