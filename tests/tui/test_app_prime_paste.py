"""The prime box keeps what fits of a paste longer than a prime may be, and says so (a 121-character
paste used to vanish whole, with no message)."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.widgets import Input, Static
from tuihelpers import SIZE, Assets, app_idle, make_settings, run_async, wait_until

from tui.app import TweetgenApp
from tui.screens.prime import MAX_PRIME, PrimeScreen


def _help(app: TweetgenApp) -> str:
    return str(app.screen.query_one("#prime-help", Static).render())


@run_async
async def test_a_long_paste_is_cut_to_the_limit_and_the_box_says_so(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.screen, PrimeScreen), "the prime input")
        box = app.screen.query_one(Input)
        await pilot.press(*"ab")
        pasted = "0123456789" * 30  # 300 characters
        box.post_message(events.Paste(pasted))
        await wait_until(pilot, lambda: len(box.value) > 2, "the paste to land")
        assert box.value == "ab" + pasted[:MAX_PRIME - 2]
        assert f"at most {MAX_PRIME} characters: kept {MAX_PRIME - 2} of the 300 given" in _help(app), _help(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.prime == "ab" + pasted[:MAX_PRIME - 2], "the prime")


@run_async
async def test_a_paste_of_several_lines_keeps_the_first_and_says_so(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.screen, PrimeScreen), "the prime input")
        box = app.screen.query_one(Input)
        box.post_message(events.Paste("first line\nsecond line\nthird"))
        await wait_until(pilot, lambda: box.value == "first line", "the paste to land")
        await wait_until(pilot, lambda: "kept the first of the 3 pasted" in _help(app), "the note")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, PrimeScreen), "the box to close")
        assert app.prime == ""
