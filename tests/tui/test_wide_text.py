"""Long and wide tweets on screen (issue 16 §1 and §6): a 280-character tweet, and tweets of
CJK, East Asian Wide and emoji characters (two terminal cells each), keep every screen line
exactly the terminal's width and every panel border in its column, at 80x24 and 120x36.

Columns are counted in terminal cells (``rich.cells.cell_len``), not in characters: a wide
character is one character and two cells. The Japanese-like corpus is made here by code
(random Han characters, kana, punctuation, emoji), never real tweets; the model is an
untrained one over its characters, so it writes wide characters nearly every time.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rich.cells import cell_len
from tuihelpers import TINY_MODEL, Assets, app_idle, make_settings, run_async, sample_done, wait_until

from core.store.checkpoints import save_checkpoint
from core.model.gru import new_model
from core.data.vocab import CharVocab
from tui.app import TweetgenApp
from tui.screens.columns import ColumnsScreen

BORDERS = frozenset("│╭╮╰╯")
SIZES = [(80, 24), (120, 36)]
WORDS = "the morning train was late again so I walked along the river and counted herons".split()


def wide_tweets(n: int, seed: int = 0) -> list[str]:
    """``n`` synthetic Japanese-like tweets of 20-140 characters: Han (U+4E00 + 0..2999), kana,
    full-width punctuation and letters, emoji."""
    rng = random.Random(seed)
    pools = [[chr(0x4E00 + i) for i in range(3000)], [chr(c) for c in range(0x3041, 0x3097)],
             list("、。！？「」ー"), list("ＡＢＣ１２３"), list("😀🙏🌸🍣🎉")]
    return ["".join(rng.choice(rng.choices(pools, (50, 30, 8, 4, 3))[0]) for _ in range(rng.randint(20, 140)))
            for _ in range(n)]


def cells(line: str) -> list[tuple[int, str]]:
    """(terminal column, character) of each character of a screen line."""
    out, column = [], 0
    for ch in line:
        out.append((column, ch))
        column += cell_len(ch)
    return out


def screen_lines(app: TweetgenApp) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def check_layout(lines: list[str], width: int, where: str) -> None:
    """Every line is ``width`` cells; between the title row and the footer, every row has a border in each
    column the panels' top edges set, and ends on one (nothing pushed past the right edge)."""
    assert all(cell_len(line) == width for line in lines), \
        f"{where}: line widths {sorted({cell_len(line) for line in lines})}, not all {width}"
    top = next(i for i, line in enumerate(lines) if "╭" in line)
    columns = {c for c, ch in cells(lines[top]) if ch in "╭╮"}
    for row in lines[top:-1]:
        at = dict(cells(row))
        moved = sorted(c for c in columns if at.get(c) not in BORDERS)
        assert not moved, f"{where}: no border at column(s) {moved} in {row!r}"
        assert row.rstrip(" ")[-1:] in BORDERS, f"{where}: the row does not end on a border: {row!r}"


def panel_text(lines: list[str], left: int, right: int) -> str:
    """What the screen shows strictly between cell columns ``left`` and ``right``, rows joined."""
    return "".join("".join(ch for c, ch in cells(line) if left < c < right) for line in lines)


@pytest.fixture
def wide_assets(tmp_path: Path) -> tuple[Path, Path]:
    """A Japanese-like corpus file and an untrained checkpoint over its characters, with a CJK file name."""
    texts = wide_tweets(60)
    corpus = tmp_path / "wide.txt"
    corpus.write_text("\n".join(texts), encoding="utf-8")
    vocab = CharVocab.build(texts)
    checkpoint = tmp_path / "日本語のモデル.pt"
    save_checkpoint(checkpoint, model=new_model(vocab, seed=3, **TINY_MODEL), vocab=vocab,
                    train_state={"step": 40, "run": "wide"}, metrics={"val_bpc": 9.5}, tags=["final"])
    return corpus, checkpoint


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@run_async
async def test_wide_character_tweets_keep_every_column(tui_assets: Assets, home: Path, wide_assets: tuple[Path, Path],
                                                       size: tuple[int, int]) -> None:
    """Generated wide-character tweets (history and current), a CJK checkpoint name in the table, and the
    temperature sweep's five columns of them: no line wider or narrower than the terminal, no border moved."""
    corpus, checkpoint = wide_assets
    app = TweetgenApp(make_settings(tui_assets, home, with_run=False, data_path=corpus, checkpoint=checkpoint,
                                    run="wide", temperature=1.5))
    async with app.run_test(size=size) as pilot:
        await app_idle(pilot)
        await pilot.press("r")
        first = app.generation.history[-1].text if app.generation.history else ""
        text = await sample_done(pilot)
        assert sum(cell_len(ch) == 2 for ch in text + first) >= 20, "the model wrote wide characters"
        await pilot.pause(0.2)
        lines = screen_lines(app)
        assert any("日本語のモデル" in line for line in lines), "the checkpoint's CJK name is listed"
        check_layout(lines, size[0], "main screen")

        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, ColumnsScreen)
                         and all(r.complete is not None for r in app.screen.records),
                         f"the sweep to finish ({app.errors}, {[r.complete for r in getattr(app.screen, 'records', [])]})")
        await pilot.pause(0.3)
        lines = screen_lines(app)
        assert sum(cell_len(ch) == 2 for ch in "".join(lines)) >= 20, "the sweep shows wide characters"
        check_layout(lines, size[0], "sweep")


@pytest.mark.parametrize("kind", ["latin", "wide"])
@run_async
async def test_a_full_length_tweet_is_shown_whole_at_80x24(tui_assets: Assets, home: Path, kind: str) -> None:
    """A 280-character tweet (Twitter's limit since 2017), and a 140-character CJK one (which Twitter counts
    as 280; it takes 280 cells), finished with its score line, at 80x24: every character on screen, in the
    generation panel, and the layout intact."""
    if kind == "latin":
        rng = random.Random(5)
        words: list[str] = []
        while len(" ".join(words)) < 280:
            words.append(rng.choice(WORDS))
        tweet = " ".join(words)[:280].rstrip() + "!"
        tweet = tweet[:280]
    else:
        tweet = wide_tweets(1, seed=9)[0].ljust(140, "語")[:140]
    app = TweetgenApp(make_settings(tui_assets, home, max_len=280))
    async with app.run_test(size=(80, 24)) as pilot:
        await app_idle(pilot)
        panel = app.generation
        panel.begin(5000, 0.8, "tiny · step 20")
        for i in range(0, len(tweet), 7):
            panel.append(5000, tweet[i:i + 7])
        panel.finish(5000, True, eos_prob=0.5)
        await pilot.pause(0.3)
        lines = screen_lines(app)
        check_layout(lines, 80, f"{kind} tweet")
        top = next(i for i, line in enumerate(lines) if "╭" in line)
        left, right = sorted(c for c, ch in cells(lines[top]) if ch in "╭╮")[:2]  # the generation panel's edges
        shown = panel_text(lines[top + 1:-2], left, right)
        flat, whole = shown.replace(" ", ""), tweet.replace(" ", "")
        assert whole in flat, "the whole tweet is on screen:\n" + "\n".join(lines)
        assert "bits/char" in flat[flat.index(whole) + len(whole):], "and its score line under it"


def test_the_layout_check_sees_a_border_pushed_by_a_wide_character() -> None:
    """The check itself: a wide character counted as one cell would move the border after it."""
    good = ["  title ", "╭──╮╭──╮", "│語││cd│", "╰──╯╰──╯", "footer  "]
    check_layout(good, 8, "good")
    with pytest.raises(AssertionError, match="no border at column"):
        check_layout(["  title ", "╭──╮╭──╮", "│a語││c│", "╰──╯╰──╯", "footer  "], 8, "pushed")
    with pytest.raises(AssertionError, match="line widths"):
        check_layout(["  title ", "╭──╮╭──╮", "│語b││cd│", "╰──╯╰──╯", "footer  "], 8, "too wide")
