"""The neuron view (key u, issue 19) in the app: the ranked table, the coloured texts, the arrow keys,
escape, the live colouring of the generation, 16 colours, and reports across training.

The app runs on the shipped demo checkpoint's weights (tests/tui/neuronhelpers.py), so the unit
finder has real units to find; its reports are cached beside the checkpoints once per session.
The colour system is pinned (textual reads it when the App is built): the scale depends on it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import textual.constants
from neuronhelpers import NeuronAssets, neuron_assets, neuron_settings, save_grown  # noqa: F401 - fixture
from rich.style import Style
from tuihelpers import app_idle, run_async, sample_done, wait_until

from core.neurons.features import FEATURES
from core.neurons.finder import legend
from tui.app import TweetgenApp
from tui.screens.neurons import NeuronScreen
from tui.widgets.neuron_watch import NeuronWatch
from tui.widgets.unit_colours import ANSI_NEGATIVE, ANSI_POSITIVE, unit_style

SIZE = (100, 32)
TIMEOUT = 240.0  # the finder on two checkpoints of 256 units, on a busy 2-core machine


@pytest.fixture
def truecolor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "truecolor")


@pytest.fixture
def sixteen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "standard")


async def neurons_shown(pilot: Any) -> NeuronScreen:
    """u pressed on the idle app: wait for the report of the checkpoint shown and the coloured texts."""
    app = pilot.app
    await app_idle(pilot)
    await pilot.press("u")
    await wait_until(pilot, lambda: isinstance(app.screen, NeuronScreen), "the neuron view")
    screen = app.screen
    await wait_until(pilot, lambda: screen.report is not None and screen.states is not None,
                     "the report and the texts' states", timeout=TIMEOUT)
    await pilot.pause()
    return screen


def segments(widget: Any) -> list[tuple[str, Style | None]]:
    """The rendered segments of a widget, every line, as (text, style)."""
    out = []
    for y in range(widget.size.height):
        out.extend((seg.text, seg.style) for seg in widget.render_line(y) if seg.text)
    return out


def rendered(widget: Any) -> str:
    return "\n".join("".join(seg.text for seg in widget.render_line(y)) for y in range(widget.size.height))


def same_bg(style: Style | None, expected: Style) -> bool:
    if style is None or style.bgcolor is None or expected.bgcolor is None:
        return False
    return style.bgcolor.get_truecolor() == expected.bgcolor.get_truecolor()


@run_async
async def test_u_shows_the_ranked_table_and_coloured_texts(neuron_assets: NeuronAssets, truecolor: None) -> None:
    """u: one row per feature with its best unit and the verdict, the legend of the selected unit, and the
    texts with each character's background the scale's colour of that unit's state."""
    app = TweetgenApp(neuron_settings(neuron_assets))
    async with app.run_test(size=SIZE) as pilot:
        screen = await neurons_shown(pilot)
        report = screen.report
        assert report.step == 400
        table = rendered(screen.query_one("#neuron-table"))
        for label in FEATURES.values():
            assert label in table
        assert "tracker" in table
        tracked = [f for f in FEATURES if report.trackers(f)]
        assert tracked, "the demo weights have trackers"
        assert screen.feature == tracked[0]  # opens on the first tracked feature
        best = report.ranked[screen.feature][0]
        assert legend(best) in rendered(screen.query_one("#neuron-legend")).replace("\n", " ").replace("  ", " ")
        palette = [c.title for c in app.get_system_commands(app.screen)]
        assert "Neurons (u)" in palette  # the command palette offers it (enabled: a checkpoint generates)
        # the coloured texts: find a validation text shown, and check each of its characters' backgrounds
        text, acts = screen.states.pool[0]
        shown = segments(screen.query_one("#neuron-text-body"))
        coloured = [(t, s) for t, s in shown if s is not None and s.bgcolor is not None
                    and s.bgcolor.get_truecolor() != screen.query_one("#neuron-texts").background_colors[1].rich_color.get_truecolor()]
        assert len(coloured) > 20, shown[:10]
        # the tweet on screen: its characters in order, each on the background of its activation
        sample_text, sample_acts = screen.states.sample
        assert sample_text == app.generation.current.text
        chars = "".join(t for t, _ in shown)
        start = chars.index(sample_text[:10])
        by_char: list[Style | None] = []
        for t, s in shown:
            by_char.extend([s] * len(t))
        checked = 0
        for i in range(10):
            expected = unit_style(float(sample_acts[i, best.unit]), "full", screen.base)
            if expected.bgcolor is not None:
                assert same_bg(by_char[start + i], expected), (i, by_char[start + i], expected)
                checked += 1
        assert checked >= 5
        assert text  # the pool was read
        watch = screen.watch
        child = watch.finder._process
        assert child is not None and child.is_alive()
    assert not child.is_alive()  # the finder's process ends with the app


@run_async
async def test_arrow_keys_pick_feature_and_unit_and_escape_closes(neuron_assets: NeuronAssets, truecolor: None) -> None:
    """down/up move between features (wrapping), right/left among the feature's ranked units; the legend
    follows; escape goes back and the generation streams coloured by the unit picked; U turns it off.
    At 80x24, where the texts overflow their scroll box: the arrows still belong to the view."""
    app = TweetgenApp(neuron_settings(neuron_assets))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await neurons_shown(pilot)
        report = screen.report
        features = list(FEATURES)
        first = screen.feature
        await pilot.press("down")
        assert screen.feature == features[(features.index(first) + 1) % len(features)]
        await pilot.press("up", "up")
        assert screen.feature == features[(features.index(first) - 1) % len(features)]
        await pilot.press("down")
        assert screen.feature == first
        ranked = report.ranked[first]
        await pilot.press("right")
        assert screen.choice().unit == ranked[1].unit
        assert f"unit {ranked[1].unit} ·" in rendered(screen.query_one("#neuron-legend"))
        assert f"‹{ranked[1].unit}›" in rendered(screen.query_one("#neuron-table"))
        await pilot.press("right", "left", "left", "left")  # stops at the best unit
        assert screen.choice().unit == ranked[0].unit
        await pilot.press("right")
        picked = ranked[1].unit
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, NeuronScreen), "the view to close")
        assert app.generation.unit_view is not None and app.generation.unit_view.unit == picked
        text = await sample_done(pilot)
        current = app.generation.current
        assert current.unit == picked and len(current.acts) == len(current.written) == len(text) > 0
        body = app.query_one("#current")
        shown = segments(body)
        bg = [s for t, s in shown if s is not None and s.bgcolor is not None
              and any(same_bg(s, unit_style(a, "full", app.generation._palette[1])) for a in current.acts)]
        assert bg, shown[:8]
        assert f"unit {picked} ·" in rendered(app.query_one("#gen-legend"))
        await pilot.press("U")
        await pilot.pause()
        assert app.generation.unit_view is None
        assert not app.query_one("#gen-legend").display
        plain = [s for t, s in segments(body) if s is not None and s.bgcolor is not None
                 and any(same_bg(s, unit_style(a, "full", app.generation._palette[1] if app.generation._palette else (30, 30, 30)))
                         for a in current.acts if abs(a) > 0.1)]
        assert not plain
        # one colouring at a time: p (the probability view) turns the unit's off
        app.generation.set_unit_view(screen.choice())
        await pilot.press("p")
        await pilot.pause()
        assert app.probs_view and app.generation.unit_view is None


@run_async
async def test_sixteen_colours_use_three_ansi_bins(neuron_assets: NeuronAssets, sixteen: None) -> None:
    """In a 16-colour terminal the texts use the ANSI blue and yellow backgrounds only (no blends that the
    terminal would turn into unrelated colours)."""
    app = TweetgenApp(neuron_settings(neuron_assets))
    async with app.run_test(size=SIZE) as pilot:
        assert app.console.color_system == "standard"
        screen = await neurons_shown(pilot)
        assert screen.mode == "16"
        base = screen.query_one("#neuron-texts").background_colors[1].rich_color.get_truecolor()
        backgrounds = {s.bgcolor for _, s in segments(screen.query_one("#neuron-text-body"))
                       if s is not None and s.bgcolor is not None and s.bgcolor.get_truecolor() != base}
        assert backgrounds, "some characters are coloured"
        assert backgrounds <= {ANSI_NEGATIVE.bgcolor, ANSI_POSITIVE.bgcolor}, backgrounds


@run_async
async def test_reports_follow_training_and_say_when_a_tracker_appeared(neuron_assets: NeuronAssets, truecolor: None,
                                                                       tmp_path: Path) -> None:
    """Every checkpoint of the run is scored once the view was opened (the untrained step 200 has no tracker,
    step 400 has), the line says "<feature>: unit N from step 400", and a checkpoint written later is
    scored as it is listed."""
    home = tmp_path / "home"
    shutil.copytree(neuron_assets.home, home, copy_function=shutil.copy2)  # the cached reports come along (keyed on size and SHA-256)
    app = TweetgenApp(neuron_settings(neuron_assets, home=home))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(NeuronWatch).idle_close_s = 0.5
        screen = await neurons_shown(pilot)
        run = home / "runs" / "grow"
        watch = screen.watch
        await wait_until(pilot, lambda: watch.book.pending == 0, "both checkpoints scored", timeout=TIMEOUT)
        await wait_until(pilot, lambda: watch.finder is None, "the idle finder's process to be closed")
        untrained = watch.book.reports[run / "step-00000200.pt"]
        assert not any(untrained.trackers(f) for f in FEATURES)
        trained = watch.book.reports[run / "step-00000400.pt"]
        feature = next(f for f in FEATURES if trained.trackers(f))
        assert screen.feature == feature  # the view opens on the first tracked feature
        await pilot.pause()
        line = rendered(screen.query_one("#neuron-history")).replace("\n", " ")
        assert f"{FEATURES[feature]}: unit {trained.trackers(feature)[0].unit} from step 400" in line, line
        # a new checkpoint: listed, then scored (from the demo weights again: same units)
        newer = save_grown(run / "step-00000600.pt", neuron_assets.demo, neuron_assets.corpus, 600, untrained=False)
        app.checkpoint_panel.request_listing()
        await wait_until(pilot, lambda: newer in watch.book.reports, "the new checkpoint scored", timeout=TIMEOUT)
        assert watch.book.reports[newer].step == 600
        assert newer.with_name("step-00000600.neurons.json").exists()  # cached beside it
        # the app follows the run's newest checkpoint, and so does the open view: its table is step 600's
        await wait_until(pilot, lambda: screen.path == newer and screen.report is not None and screen.states is not None,
                         "the view to show the new checkpoint", timeout=TIMEOUT)
        await pilot.pause()
        assert rendered(screen.query_one("#neuron-status")).lstrip().startswith("step 600")


@run_async
async def test_u_is_disabled_on_an_untrained_model(tui_assets, tmp_path: Path) -> None:
    """No checkpoint (an untrained model over the corpus): u does nothing."""
    from tuihelpers import make_settings

    app = TweetgenApp(make_settings(tui_assets, tmp_path / "home", with_run=False, demo_checkpoint=None))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        assert app.source is not None and app.source.path is None
        assert app.check_action("neurons", ()) is None
        assert not any(c.title.startswith("Neurons") for c in app.get_system_commands(app.screen))
        await pilot.press("u")
        await pilot.pause()
        assert not isinstance(app.screen, NeuronScreen)


@run_async
async def test_a_checkpoint_without_its_corpus_says_why_in_one_line(tui_assets, tmp_path: Path) -> None:
    """The tiny run's checkpoints record no corpus (trained from a list): the view says so in one line, with
    what to do, and escape still goes back."""
    from tuihelpers import make_settings

    from tui.services.neuron_reports import APP_HINT

    app = TweetgenApp(make_settings(tui_assets, tmp_path / "home"))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, NeuronScreen), "the neuron view")
        screen = app.screen
        await wait_until(pilot, lambda: screen.path in screen.book.errors, "the finder's answer", timeout=TIMEOUT)
        await pilot.pause()
        status = " ".join(rendered(screen.query_one("#neuron-status")).split())
        assert status.startswith("no units found: records no training corpus;"), status
        assert status.endswith(APP_HINT), status
        assert screen.choice() is None
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, NeuronScreen), "the view to close")
        assert app.generation.unit_view is None and app.errors == []
