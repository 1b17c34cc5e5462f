"""The panels on their own: loss chart drawing and decimation, sample history, background stream pacing."""

from __future__ import annotations

import math
import time

from textual.app import App, ComposeResult
from tuihelpers import Assets, PanelApp, run_async

from core.model.sampler import SampleConfig
from tui.services.generation_stream import load_source, stream_chunks
from tui.widgets.generation_panel import MAX_HISTORY, GenerationPanel
from tui.widgets.loss_chart import MAX_POINTS, LossChart, Series, _line


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LossChart()


def test_series_stays_bounded_and_monotonic() -> None:
    series = Series()
    for step in range(3 * MAX_POINTS):
        series.add(step, 5.0 - step / 10_000)
    assert len(series) <= MAX_POINTS and series.steps == sorted(series.steps)
    series.add(10, 1.0)  # a run restarted from an earlier step: later points are dropped
    assert series.steps[-1] == 10 and all(s <= 10 for s in series.steps)
    series.add(11, math.nan)
    assert series.steps[-1] == 10, "non-finite values are not plotted"


def test_line_is_connected() -> None:
    points = _line((0, 0), (5, 3))
    assert points[0] == (0, 0) and points[-1] == (5, 3)
    assert all(abs(a[0] - b[0]) <= 1 and abs(a[1] - b[1]) <= 1 for a, b in zip(points, points[1:]))


@run_async
async def test_chart_draws_both_series_with_a_readable_axis() -> None:
    app = ChartApp()
    async with app.run_test(size=(50, 12)) as pilot:
        chart = app.query_one(LossChart)
        assert "no points yet" in str(chart.render())
        for step in range(0, 200, 5):
            chart.add_train_loss(step, math.log(2) * (6.0 - step / 50))  # nats in, bits/char on screen
        for step in (0, 100, 195):
            chart.add_val_bpc(step, 6.5 - step / 45)
        await pilot.pause()
        lines = str(chart.render()).splitlines()
        assert lines[0].startswith("━ train 2.1") and "val 2.17" in lines[0] and "bits/char" in lines[0]
        plot = lines[1:-1]
        assert len(plot) == 12 - 2
        assert any("┤" in line for line in plot) and plot[0].lstrip()[:4].replace(".", "").isdigit()
        assert sum(ch != " " and 0x2800 <= ord(ch) <= 0x28FF for line in plot for ch in line) > 30
        assert lines[-1].strip().startswith("0") and lines[-1].strip().endswith("step 195")


@run_async
async def test_history_keeps_finished_and_cut_samples_and_is_capped() -> None:
    app = PanelApp()
    async with app.run_test(size=(60, 20)) as pilot:
        panel = app.query_one(GenerationPanel)
        panel.begin(1, 0.8, "demo")
        panel.append(1, "hello [world]")
        panel.finish(1, complete=True)
        panel.begin(2, 1.5, "demo")
        panel.append(2, "half")
        panel.append(1, " late chunk of an old sample")  # ignored
        panel.begin(3, 1.5, "demo")
        await pilot.pause()
        assert [(r.text, r.complete) for r in panel.history] == [("hello [world]", True), ("half", False)]
        for i in range(4, MAX_HISTORY + 10):
            panel.begin(i, 0.8, "demo")
        await pilot.pause()
        assert len(panel.history) == MAX_HISTORY
        assert len(panel.query(".sample")) == MAX_HISTORY


def test_stream_chunks_paces_and_stops_on_cancel(tui_assets: Assets) -> None:
    source = load_source(tui_assets.run / "step-00000020.pt", "tiny")
    start = time.monotonic()
    chunks = list(stream_chunks(source, SampleConfig(temperature=0.8, max_len=12, seed=1), pace=40.0, cancelled=lambda: False))
    took = time.monotonic() - start
    text = "".join(c.text for c in chunks)
    assert len(chunks) >= 2, "paced text arrives in several chunks"
    assert took >= (len(text) - 1) / 40.0 - 0.02, "no faster than the pace"
    calls = {"n": 0}

    def cancel_after_three() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    cut = "".join(c.text for c in stream_chunks(source, SampleConfig(temperature=0.8, seed=1), pace=0.0,
                                                 cancelled=cancel_after_three))
    assert len(cut) <= 3, "cancellation is checked on every character"
