"""Snapshot tests of the neuron view (key u, issue 19) at 80x24 and 120x36.

The app opens on the run ``grow`` (tests/tui/neuronhelpers.py: step 400 is the shipped demo's
weights, step 200 its untrained initialisation), streams one seeded tweet unpaced, and u is
pressed once it has finished; the snapshot is taken when the report, the texts' states and both
checkpoints' reports (the "across training" line) are in. True colour is pinned (the scale
depends on it); nothing on the screen blinks. Update after an intended change with
``pytest tests/tui/test_snapshots_neurons.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

import pytest
import textual.constants
from neuronhelpers import NeuronAssets, neuron_assets, neuron_settings  # noqa: F401 - fixture
from tuihelpers import app_idle, footer_settled, wait_until

from tui.app import TweetgenApp
from tui.screens.neurons import NeuronScreen

TIMEOUT = 240.0


@pytest.fixture
def neuron_app(neuron_assets: NeuronAssets, monkeypatch: pytest.MonkeyPatch) -> TweetgenApp:
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "truecolor")
    return TweetgenApp(neuron_settings(neuron_assets))


async def neuron_view(pilot) -> None:
    app = pilot.app
    await app_idle(pilot)
    await pilot.press("u")
    await wait_until(pilot, lambda: isinstance(app.screen, NeuronScreen), "the neuron view")
    screen = app.screen
    await wait_until(pilot, lambda: screen.report is not None and screen.states is not None and screen.watch.book.pending == 0,
                     "the reports and the texts' states", timeout=TIMEOUT)
    await pilot.pause()
    await footer_settled(pilot)


async def neuron_view_moved(pilot) -> None:
    await neuron_view(pilot)
    await pilot.press("down", "down", "down", "right")
    await pilot.pause()


def test_neuron_view_80x24(neuron_app: TweetgenApp, snap_compare) -> None:
    """80x24: the ranked table (every feature's best unit, AUC or r, halves, untrained, probe, verdict), the
    legend of the first tracked feature's best unit, the scale, the tweet on screen and the validation
    texts coloured by that unit (the box scrolls), when each feature first got a tracker, the keys."""
    assert snap_compare(neuron_app, terminal_size=(80, 24), run_before=neuron_view)


def test_neuron_view_120x36(neuron_app: TweetgenApp, snap_compare) -> None:
    """120x36, after down x3 and right: another feature selected, its second-ranked unit shown."""
    assert snap_compare(neuron_app, terminal_size=(120, 36), run_before=neuron_view_moved)
