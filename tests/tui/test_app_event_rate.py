"""The app keeps up at any event rate: a checkpoint every step must not freeze it
(issue 12: 100 s unresponsive at 100% CPU after training with --ckpt-every 1), and
the checkpoint list follows files deleted behind it."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from textual.widgets import Static
from tuihelpers import SIZE, Assets, app_idle, make_settings, run_async, wait_until, workers_done

from core.events import CheckpointEvent, DoneEvent, StepEvent
from tui import messages as m
from tui.app import TweetgenApp
from tui.widgets.checkpoint_panel import LIST_MIN_INTERVAL_S

BURST = 400


def _step(i: int) -> StepEvent:
    return StepEvent(i, 0, 2.0, 0.01, 1000.0, float(i), None, None, None)


def test_a_burst_keeps_every_event_but_the_superseded_periodic_checkpoints() -> None:
    ckpts = [CheckpointEvent(i, Path(f"step-{i}.pt"), "periodic", None) for i in range(1, 6)]
    saved = CheckpointEvent(3, Path("step-3.pt"), "request", None)
    done = DoneEvent(5, "finished", "finished 5 steps", ckpts[-1].path)
    batch = [_step(1), ckpts[0], ckpts[1], saved, _step(2), ckpts[2], ckpts[3], ckpts[4], done]
    assert m.coalesce(batch) == [_step(1), saved, _step(2), ckpts[4], done]
    assert m.coalesce([ckpts[0]]) == [ckpts[0]]


@run_async
async def test_a_burst_of_checkpoint_events_makes_few_listings_and_loads_and_keys_still_work(
        tui_assets: Assets, home: Path) -> None:
    """BURST checkpoint messages at once (a checkpoint every step): the list is re-read at most once per
    LIST_MIN_INTERVAL_S and the followed model loaded at least once but a few times, not once per checkpoint;
    a key press meanwhile is answered (issue 12 froze it for 100 s; how fast it is answered is measured by
    `python -m bench.ui_lag`, its --ckpt-every 1 case, not here)."""
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        listings, loads = [0], [0]
        list_now, load_model = app.checkpoint_panel.list_now, app.checkpoint_panel._load_model

        def counting_list() -> None:
            listings[0] += 1
            list_now()

        def counting_load(path: Path, interrupt: bool) -> None:
            loads[0] += 1
            load_model(path, interrupt)

        app.checkpoint_panel.list_now = counting_list  # type: ignore[method-assign]
        app.checkpoint_panel._load_model = counting_load  # type: ignore[method-assign]
        run = home / "runs" / "tiny"
        assert app.source is not None and app.source.path == run / "step-00000020.pt"
        app.checkpoint_panel.follow_best = True
        # a newer checkpoint that validates better than the one in use: following the run means loading it
        newest = run / "step-00000030.pt"
        shutil.copyfile(run / "step-00000020.pt", newest)
        sidecar = json.loads((run / "step-00000020.json").read_text(encoding="utf-8"))
        sidecar.update(file=newest.name, step=30, val_step=30, val_bpc=sidecar["val_bpc"] - 1.0)
        newest.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
        started = time.monotonic()
        for i in range(BURST):
            app.post_message(m.CheckpointWritten(CheckpointEvent(21 + i, newest, "periodic", None)))
        await pilot.pause()
        before = app.temperature
        await pilot.press("minus")
        status = app.query_one("#gen-status", Static)
        await wait_until(pilot, lambda: f"temp {app.temperature:.1f}" in str(status.render()) and app.temperature != before,
                         "the key to be answered during the burst", timeout=30)
        await wait_until(pilot, lambda: app.source is not None and app.source.path == newest, "the newest checkpoint to be followed")
        await workers_done(pilot, "listing", "model")
        await pilot.pause(LIST_MIN_INTERVAL_S + 0.5)  # a listing still due from the burst would run by now
        await workers_done(pilot, "listing", "model")
        elapsed = time.monotonic() - started
        assert listings[0] <= 2 + elapsed / LIST_MIN_INTERVAL_S, f"{listings[0]} listings for {BURST} checkpoints"
        assert 1 <= loads[0] <= 10, f"{loads[0]} model loads for {BURST} checkpoints"
        assert app.errors == []


@run_async
async def test_the_checkpoint_list_follows_files_deleted_behind_it(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        run = home / "runs" / "tiny"
        assert [i.step for i in app.checkpoint_panel.infos[1:]] == [20, 10]
        (run / "step-00000010.pt").unlink()
        (run / "step-00000010.json").unlink(missing_ok=True)
        await wait_until(pilot, lambda: [i.step for i in app.checkpoint_panel.infos[1:]] == [20],
                         "the deleted checkpoint to leave the list", timeout=10)
        shutil.copy2(run / "step-00000020.pt", run / "step-00000030.pt")  # and one that appears
        await wait_until(pilot, lambda: len(app.checkpoint_panel.infos) == 3, "the new file to be listed", timeout=10)


@run_async
async def test_thousands_of_checkpoints_show_the_newest_and_the_active_one(tui_assets: Assets, home: Path) -> None:
    """A run with a checkpoint every step lists thousands: the table (rebuilt on the UI thread at every
    listing) keeps MAX_ROWS rows, the newest, plus the checkpoint in use, and says how many there are."""
    from core.store.registry import CheckpointInfo
    from tui.widgets.checkpoint_panel import MAX_ROWS, row_key

    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        panel = app.checkpoint_panel
        run = home / "runs" / "tiny"
        infos = [CheckpointInfo(run / f"step-{i:08d}.pt", "tiny", i, 0, 2.0, 1.0, 1e9 + i, 1, ["periodic"])
                 for i in range(1, 5001)]
        panel.set_active(infos[10].path)
        panel.set_checkpoints(infos, None)  # how long this takes is measured by `python -m bench.checkpoint_table`
        await pilot.pause()
        assert panel.table.row_count == MAX_ROWS
        assert [i.step for i in panel.infos[:3]] == [5000, 4999, 4998] and panel.infos[-1].step == 11
        assert row_key(infos[10].path) in panel.table.rows
        assert f"newest {MAX_ROWS} of 5,000" in str(panel.border_subtitle)
