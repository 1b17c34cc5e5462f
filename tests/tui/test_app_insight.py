"""Issue 10 in the app: the probability view (p), bits/char and novelty of every finished sample,
the temperature sweep (t), the checkpoint comparison (space marks, v), the prime (/), top-k (k)
and top-p (n), the source of a copy (o), copying (y) and exporting (e)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.text import Text
from tuihelpers import (
    PanelApp,
    SIZE,
    TUI_TWEETS,
    Assets,
    app_idle,
    expected_sample,
    make_settings,
    run_async,
    sample_done,
    wait_until,
)

from core.store.checkpoints import load_checkpoint
from core.model.sampler import SampleConfig, write
from tui import format as fmt
from tui import messages as m
from tui.app import TOP_K_STEPS, TOP_P_STEPS, TweetgenApp
from tui.screens.columns import SWEEP_TEMPERATURES, ColumnsScreen
from tui.widgets.generation_panel import GenerationPanel
from tui.screens.help import HelpScreen
from tui.screens.prime import PrimeScreen

NEWEST = "step-00000020.pt"


def styles_of(text: Text) -> list[str]:
    """The style of each character of ``text`` (spans flattened)."""
    styles = [str(text.style)] * len(text.plain)
    for span in text.spans:
        for i in range(span.start, span.end):
            styles[i] = str(span.style)
    return styles


def test_prob_text_colours_each_character_by_its_probability() -> None:
    probs = [0.9, 0.5, 0.3, 0.1, 0.05, 0.01, 0.005, 0.0]
    text = fmt.prob_text("", "abcdefgh", probs)
    assert text.plain == "abcdefgh"
    expected = ["green", "green", "yellow", "yellow", "red", "red", "bold reverse red", "bold reverse red"]
    assert styles_of(text) == expected
    primed = fmt.prob_text("[x] ", "a\u202eb", [0.9, 0.02, 0.6])  # a prime, and a hidden character
    assert primed.plain == "[x] a<U+202E>b"
    styles = styles_of(primed)
    assert styles[:4] == ["dim italic"] * 4 and styles[4] == "green" and set(styles[5:13]) == {"red"} and styles[13] == "green"
    legend = fmt.prob_legend()
    assert all(label in legend.plain for _, _, label in fmt.PROB_BUCKETS)


def colours_of(content: object) -> list[tuple[int | None, bool]]:
    """(ANSI colour number of the foreground, reversed) of each character of rendered Content."""
    plain = content.plain  # type: ignore[attr-defined]
    out: list[tuple[int | None, bool]] = [(None, False)] * len(plain)
    for span in content.spans:  # type: ignore[attr-defined]
        style = span.style
        fg = getattr(style, "foreground", None)
        for i in range(span.start, span.end):
            out[i] = (fg.ansi if fg is not None else None, bool(getattr(style, "reverse", False)))
    return out


@run_async
async def test_panel_colours_the_stream_with_the_probabilities_passed_in() -> None:
    app = PanelApp()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(GenerationPanel)
        panel.begin(1, 0.8, "demo")
        panel.post_message(m.SampleChunk(1, "ab[", (0.7, 0.2, 0.001)))
        await pilot.pause()
        panel.set_probs_view(True)
        shown = panel.query_one("#current").render()  # what the widget draws (Textual Content)
        assert shown.plain.startswith("ab[")
        assert colours_of(shown)[:3] == [(2, False), (3, False), (1, True)]  # ANSI green, yellow, reversed red
        assert panel.query_one("#gen-legend").display
        panel.set_probs_view(False)
        assert not panel.query_one("#gen-legend").display
        assert colours_of(panel.query_one("#current").render())[:3] == [(None, False)] * 3


@run_async
async def test_finished_sample_shows_the_bits_per_char_write_gives(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        record = app.generation.current
        assert record is not None and record.complete
        ckpt = load_checkpoint(home / "runs" / "tiny" / NEWEST)
        written = write(ckpt.model(), ckpt.vocab, SampleConfig(temperature=record.temperature, seed=record.cfg.seed))
        assert record.text == written.text
        assert [round(p, 9) for p in record.probs] == [round(c.prob, 9) for c in written.chars]
        assert abs(record.bits_per_char - written.bits_per_char) < 1e-9
        await wait_until(pilot, lambda: app.samples.novelty is not None, "the novelty index")
        await wait_until(pilot, lambda: record.novelty is not None, "the sample's novelty")
        score = record.score()
        assert score is not None and f"{written.bits_per_char:.2f} bits/char" in score.plain
        assert f"longest shared run {record.novelty.longest} chars" in score.plain or "COPIED" in score.plain
        await pilot.press("p")
        assert app.generation.probs_view


@run_async
async def test_a_copied_sample_is_flagged_and_o_shows_its_source(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await wait_until(pilot, lambda: app.samples.novelty is not None, "the novelty index")
        source = TUI_TWEETS[3]  # "train 14 is running 5 minutes late [sorry]": its '[' must stay text
        record = app.generation.begin(500, 0.8, "test")
        app.samples.records[500] = record
        app.generation.post_message(m.SampleChunk(500, "so: " + source[:41], (0.5,) * 45))
        app.generation.post_message(m.SampleFinished(500, complete=True, eos_prob=0.5))
        await wait_until(pilot, lambda: record.novelty is not None, "the novelty check")
        assert record.novelty.copied and record.novelty.longest == 41 and record.novelty.source == 3
        assert "COPIED 41 chars from training text #3" in record.score().plain
        assert app.check_action("show_source", ()) is True
        await pilot.press("o")
        await pilot.pause()
        notes = [n.message for n in app._notifications]
        assert any(source in n for n in notes)


@run_async
async def test_sweep_streams_every_temperature_with_one_seed(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the sweep")
        screen = app.screen
        assert isinstance(screen, ColumnsScreen) and screen.kind == "sweep"
        await wait_until(pilot, lambda: all(r.complete for r in screen.records), "every column to finish")
        titles = [str(c.border_title) for c in screen.columns]
        assert titles == [f"T {t:.1f}" for t in SWEEP_TEMPERATURES]
        seeds = {r.cfg.seed for r in screen.records}
        assert len(seeds) == 1, "every column has the same seed"
        seed = seeds.pop()
        for record in screen.records:
            assert record.text == expected_sample(home / "runs" / "tiny" / NEWEST, record.temperature, seed)
            assert record.score() is not None
        first = [r.text for r in screen.records]
        await pilot.press("r")  # a new seed for every column
        await wait_until(pilot, lambda: all(r.complete for r in screen.records), "the new columns")
        assert {r.cfg.seed for r in screen.records} == {seed + 1}
        assert [r.text for r in screen.records] != first
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ColumnsScreen), "the single view")
        await sample_done(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the sweep again")
        await pilot.press("t")  # t also returns
        await wait_until(pilot, lambda: app.columns_screen is None, "the single view again")


@run_async
async def test_compare_marked_checkpoints_with_one_seed(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home, temperature=1.0))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        assert app.check_action("compare", ()) is None
        await pilot.press("c")
        await pilot.press("space")  # the demo (first row)
        await pilot.press("down", "space")
        panel = app.checkpoint_panel
        assert len(panel.marked) == 2
        assert "2 marked" in str(panel.border_subtitle)
        assert app.train_state == "idle", "space on the list marks, it does not train"
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ColumnsScreen), "the comparison")
        screen = app.screen
        assert isinstance(screen, ColumnsScreen) and screen.kind == "compare"
        await wait_until(pilot, lambda: all(r.complete for r in screen.records), "every column to finish")
        assert len({r.cfg.seed for r in screen.records}) == 1
        assert {r.temperature for r in screen.records} == {1.0}
        seed = screen.records[0].cfg.seed
        paths = [i.path for i in panel.marked_infos()]
        assert [r.checkpoint for r in screen.records] == paths
        for record, path in zip(screen.records, paths):
            assert record.text == expected_sample(path, 1.0, seed)
        await pilot.press("v")
        await wait_until(pilot, lambda: app.columns_screen is None, "the single view")


@run_async
async def test_prime_top_k_top_p_are_settable_and_shown(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        await app_idle(pilot)
        await pilot.press("k", "k", "n")
        assert (app.top_k, app.top_p) == (TOP_K_STEPS[2], TOP_P_STEPS[1])
        status = str(app.generation.query_one("#gen-status").render())
        assert "top-k 10" in status and "top-p 0.95" in status
        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.screen, PrimeScreen), "the prime input")
        await pilot.press(*"the [☃")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.prime == "the [☃", "the prime")
        text = await sample_done(pilot)
        assert text.startswith("the [☃")
        record = app.generation.current
        assert record.cfg.prime == "the [☃" and record.cfg.top_k == 10 and record.cfg.top_p == 0.95
        ckpt = load_checkpoint(home / "runs" / "tiny" / NEWEST)
        assert text == write(ckpt.model(), ckpt.vocab, record.cfg).text, "unseen characters read as <unk>, as in the CLI"
        assert any("<unk>" in n.message for n in app._notifications)
        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.screen, PrimeScreen), "the prime input")
        await pilot.press("escape")  # cancel: unchanged
        await wait_until(pilot, lambda: not isinstance(app.screen, PrimeScreen), "the input to close")
        assert app.prime == "the [☃"
        commands = [c.title for c in app.get_system_commands(app.screen)]
        for key in ("Top-k (k)", "Top-p (n)", "Prime (/)", "Probs (p)", "Sweep (t)", "Copy (y)", "Export (e)"):
            assert key in commands
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        rows = " ".join(what for _, what in app.screen.rows)
        assert "top-k" in rows and "top-p" in rows and "probability" in rows and "clipboard" in rows


@run_async
async def test_y_copies_the_tweet_and_e_exports_the_session(tui_assets: Assets, home: Path) -> None:
    app = TweetgenApp(make_settings(tui_assets, home))
    async with app.run_test(size=SIZE) as pilot:
        text = await sample_done(pilot)
        await app_idle(pilot)
        await pilot.press("y")
        assert app.clipboard == text
        await wait_until(pilot, lambda: app.samples.novelty is not None, "the novelty index")
        await pilot.press("e")
        path = home / "runs" / "tiny" / "samples.jsonl"
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert [r["text"] for r in lines] == [text]
        assert lines[0]["seed"] == 7 and lines[0]["checkpoint"].endswith(NEWEST) and "novelty" in lines[0]
        assert any(str(path) in n.message for n in app._notifications)
        await pilot.press("e")  # nothing new: nothing appended
        assert len(path.read_text(encoding="utf-8").splitlines()) == 1


@run_async
async def test_without_a_seed_each_exported_tweet_carries_the_seed_that_writes_it_again(tui_assets: Assets,
                                                                                      home: Path) -> None:
    """No --seed: the app still draws a seed per tweet, so every exported line can be reproduced."""
    app = TweetgenApp(make_settings(tui_assets, home, seed=None))
    async with app.run_test(size=SIZE) as pilot:
        text = await sample_done(pilot)
        await app_idle(pilot)
        await wait_until(pilot, lambda: app.samples.novelty is not None, "the novelty index")
        await pilot.press("e")
        record = json.loads((home / "runs" / "tiny" / "samples.jsonl").read_text(encoding="utf-8").splitlines()[0])
        assert record["text"] == text and isinstance(record["seed"], int)
        ckpt = load_checkpoint(home / "runs" / "tiny" / NEWEST)
        cfg = SampleConfig(temperature=record["temperature"], seed=record["seed"], max_len=app.sample_config(0.8, None).max_len)
        assert write(ckpt.model(), ckpt.vocab, cfg).text == text
