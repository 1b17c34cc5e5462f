"""What generated and corpus text looks like on screen: control, format and zero-width
characters are drawn as a visible dim <U+XXXX> and never reach the terminal raw, so the
panel borders stay where they are (issue 12, item 11)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from rich.cells import cell_len
from tuihelpers import SIZE, Assets, app_idle, make_settings, run_async, wait_until

from core.events import DoneEvent
from tui import format as fmt
from tui import messages as m
from tui.app import TweetgenApp

HOSTILE = ["\u202e", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\x1b", "\x07", "\x7f",
           "\x85", "\u2028", "\u2029", "\u00ad", "\U000e0001", "\ue000", "\r", "\t"]
TWEET = "abc" + "".join(HOSTILE) + " olleh\u202e reversed? \u200bzero\ufeffwidth [b]not markup[/b] end"


def _raw_hidden(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in fmt.HIDDEN_CATEGORIES]


@pytest.mark.parametrize("ch", HOSTILE)
def test_each_hidden_character_is_shown_as_its_code_point(ch: str) -> None:
    shown = fmt.visible(f"a{ch}b")
    assert shown.plain == f"a<U+{ord(ch):04X}>b" and fmt.printable(f"a{ch}b") == shown.plain
    assert fmt.visible("plain text, émoji 🥐 and a\nline break").plain == "plain text, émoji 🥐 and a\nline break"


def _screen_lines(app: TweetgenApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


@run_async
async def test_control_characters_in_generated_and_corpus_text_keep_the_layout(tui_assets: Assets, home: Path,
                                                                              tmp_path: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        clean = _screen_lines(app)
        panel = app.generation
        # a finished tweet (history) and one streaming (current), as the sampler would send them
        panel.begin(1000, 0.8, "step 20")
        panel.append(1000, TWEET)
        panel.finish(1000, True)
        panel.begin(1001, 0.8, "evil\u202efile.pt · step 20")
        for ch in TWEET:
            panel.append(1001, ch)
        # a checkpoint file and a training message with them too
        evil = tmp_path / "x\u202eevil\u200b.pt"
        evil.write_bytes((home / "runs" / "tiny" / "step-00000020.pt").read_bytes())
        app.settings.checkpoint = evil
        app.checkpoint_panel.request_listing()
        app.training_panel.post_message(m.TrainingFinished(DoneEvent(20, "error", "corpus line 3: \u202ebad\x1b[31m", None)))
        # the listing is throttled (tui.widgets.checkpoint_panel.LIST_MIN_INTERVAL_S): wait for the file name and the message on screen
        await wait_until(pilot, lambda: any("evil" in line for line in _screen_lines(app))
                         and any("bad" in line for line in _screen_lines(app)), "the listing and the message to be shown",
                         timeout=30)
        await pilot.pause()
        lines = _screen_lines(app)
        text = "\n".join(lines)
        assert [c for line in lines for c in _raw_hidden(line)] == [], "raw control/format characters reached the terminal"
        assert "<U+202E>" in text and "<U+200B>" in text and "<U+FEFF>" in text and "<U+001B>" in text
        assert "[b]not markup[/b]" in text
        assert all(cell_len(line) == SIZE[0] for line in lines)
        # every panel border is still in its column
        columns = {i for line in clean for i, c in enumerate(line) if c == "│"}
        assert all(i in columns for line in lines for i, c in enumerate(line) if c == "│")
        assert all(line[-1] in "│╮╯╭╰" for line in lines[1:-1]), "a row pushed past the right border"
        assert any("<U+202E>" in line for line in lines if "evil" in line), "the file name in the list"
        assert _raw_hidden(str(app.query_one("#train-status").render())) == []

