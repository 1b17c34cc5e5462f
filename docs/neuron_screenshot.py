"""Make docs/neuron-view.svg, the README's screenshot of the neuron view (key u), with Textual's Pilot.

    .venv/bin/python docs/neuron_screenshot.py

The app runs on a copy of the shipped demo checkpoint and corpus (so the finder's cache is written
beside the copy, not into assets/), in true colour at 100x30, with a seeded tweet; the view is
opened with u and moved to "inside @mention" before the screenshot.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import textual.constants

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "neuron-view.svg"
SIZE = (100, 30)


async def main() -> None:
    sys.path.insert(0, str(REPO))
    textual.constants.COLOR_SYSTEM = "truecolor"  # read when the App is built: the scale depends on it
    from tui.app import TweetgenApp
    from tui.screens.neurons import NeuronScreen
    from tui.settings import AppSettings

    with tempfile.TemporaryDirectory(prefix="tweetgen-shot-") as tmp:
        root = Path(tmp)
        for name in ("demo.pt", "demo_tweets.txt"):
            shutil.copy2(REPO / "assets" / name, root / name)
        settings = AppSettings(data_path=root / "demo_tweets.txt", demo_checkpoint=root / "demo.pt", run="demo-run",
                               home=root / "home", pace=0.0, gap_s=None, seed=12)
        app = TweetgenApp(settings)
        async with app.run_test(size=SIZE) as pilot:
            while app.generation.current is None or app.generation.current.complete is None:
                await pilot.pause(0.1)
            await pilot.press("u")
            while not (isinstance(app.screen, NeuronScreen) and app.screen.report is not None
                       and app.screen.states is not None):
                await pilot.pause(0.1)
            while app.screen.feature != "mention":
                await pilot.press("down")
            await pilot.pause(0.5)
            app.save_screenshot(OUT.name, path=str(OUT.parent))
    print(f"wrote {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    asyncio.run(main())
