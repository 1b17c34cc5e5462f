"""Fixtures and helpers for the app's Pilot and snapshot tests.

(Not a ``conftest.py``: a second conftest module would shadow ``tests/conftest.py`` for
the unit tests that import from it.) The corpus is written for these tests; its lines
include ``[`` and emoji on purpose.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._footer import FooterKey  # not exported by textual.widgets; textual is pinned (constraints.txt)

from core.store.checkpoints import load_checkpoint
from core.model.sampler import SampleConfig, sample
from core.train.trainer import TrainConfig, Trainer
from core.model.gru import new_model
from core.data.vocab import CharVocab
from tui.app import TweetgenApp
from tui.widgets.generation_panel import GenerationPanel
from tui.settings import AppSettings

TUI_TWEETS = [
    "[update] the bakery opens at 7 today 🥐",
    "rain again. the cat refuses to go out 🐈",
    "new sourdough batch is ready #bread",
    "train 14 is running 5 minutes late [sorry]",
    "sunny and 21C at noon, perfect for a walk ☀",
    "@hikers meet at the north gate at 9",
    "coffee count: 3. it is only 10am",
    "the probe reports all systems nominal",
    "tomatoes are finally turning red 🍅",
    "library closes early on friday",
    "windy evening, hold on to your hats",
    "the cat found the warm laundry again",
]
TINY_MODEL = {"hidden_size": 16, "embed_dim": 8}
TINY_TRAIN = {"batch_size": 4, "warmup_steps": 2, "val_every": 5, "ckpt_every": 0, "log_interval_s": 0.05}
SEED = 7
SIZE = (110, 32)  # the Pilot tests' terminal: the -wide layout
WAIT = 60.0  # a spawned training process imports torch: slow on a busy 2-core machine


@dataclass(frozen=True)
class Assets:
    corpus: Path
    demo: Path  # plays the demo checkpoint
    run: Path  # a run directory with checkpoints at steps 10 and 20


def _train(run_dir: Path, texts: list[str], seed: int, steps: int, every: int) -> None:
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=seed, **TINY_MODEL)
    config = TrainConfig(max_steps=steps, ckpt_every=every, val_every=every, batch_size=4, warmup_steps=2, seed=seed, threads=1)
    for _ in Trainer(model, vocab, texts, texts[:2], config, run_dir).run():
        pass


@pytest.fixture(scope="session")
def tui_assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    root = tmp_path_factory.mktemp("tui-assets")
    corpus = root / "tiny.txt"
    corpus.write_text("\n".join(TUI_TWEETS), encoding="utf-8")
    _train(root / "demo-src", TUI_TWEETS, seed=1, steps=15, every=15)
    demo = root / "demo.pt"
    shutil.copy2(root / "demo-src" / "step-00000015.pt", demo)
    shutil.copy2(root / "demo-src" / "step-00000015.json", root / "demo.json")
    _train(root / "runs" / "tiny", TUI_TWEETS, seed=0, steps=20, every=10)
    return Assets(corpus, demo, root / "runs" / "tiny")


def make_settings(assets: Assets, home: Path, *, with_run: bool = True, **overrides: Any) -> AppSettings:
    """Settings for a test app: its own home (a copy of the run when ``with_run``), instant seeded samples."""
    if with_run and not (home / "runs" / "tiny").exists():
        shutil.copytree(assets.run, home / "runs" / "tiny")  # copy2: sidecars stay newer than their .pt
    values: dict[str, Any] = {
        "data_path": assets.corpus,
        "demo_checkpoint": assets.demo,
        "run": "tiny",
        "home": home,
        "pace": 0.0,
        "gap_s": None,
        "seed": SEED,
        # Trains until the test stops it. The tiny model overfits the tiny corpus within a few hundred
        # steps, and the degradation guard then (rightly) ends the run after 3 rollbacks: seconds on a
        # quiet machine, which raced the key presses. The guard is tested in core and, in the app, with
        # injected GuardEvents; here it never responds.
        "train": {**TINY_TRAIN, "max_steps": 1_000_000, "guard_patience": 10**9},
        "model": dict(TINY_MODEL),
        "threads": 1,
        "stop_timeout_s": WAIT,
    }
    values.update(overrides)
    return AppSettings(**values)


def expected_sample(checkpoint: Path, temperature: float, seed: int, max_len: int = 140) -> str:
    """What the app must show for this checkpoint, temperature and seed."""
    ckpt = load_checkpoint(checkpoint)
    return sample(ckpt.model(), ckpt.vocab, SampleConfig(temperature=temperature, max_len=max_len, seed=seed))


def run_async(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test without a pytest asyncio plugin (the project does not depend on one)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


async def wait_until(pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Let the app run until ``condition()`` holds (checked between its message batches)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(0.02)


async def workers_done(pilot: Pilot[Any], *groups: str) -> None:
    """Wait for the app's workers in these groups to finish, then for their messages to be handled."""
    app = pilot.app
    workers = [w for w in app.workers if w.group in groups]
    await app.workers.wait_for_complete(workers)
    await pilot.pause()


async def sample_done(pilot: Pilot[Any]) -> str:
    """Wait for the sampling worker; returns the text of the finished current sample."""
    app = pilot.app
    assert isinstance(app, TweetgenApp)
    await workers_done(pilot, "boot", "model", "sample")
    await wait_until(pilot, lambda: app.generation.current is not None and app.generation.current.complete is not None,
                     "the current sample to finish")
    current = app.generation.current
    assert current is not None
    return current.text


def train_status(app: TweetgenApp) -> str:
    """The training panel's state line as shown: icon and text."""
    return str(app.query_one("#train-status", Static).render())


def corpus_shown(app: TweetgenApp) -> str:
    """What the training panel's border says about the corpus ("demo corpus · 1,234 tweets" once read)."""
    return str(app.training_panel.border_subtitle or "")


def corpus_read(app: TweetgenApp) -> bool:
    """The corpus was read (its size is shown) or could not be (the state line says why)."""
    return " tweets" in corpus_shown(app) or "corpus:" in train_status(app)


async def app_idle(pilot: Pilot[Any]) -> None:
    """Start-up complete: model loaded, corpus read, checkpoints listed, first sample finished."""
    app = pilot.app
    assert isinstance(app, TweetgenApp)
    await sample_done(pilot)
    await wait_until(pilot, lambda: corpus_read(app) and app.checkpoint_panel.listed, "start-up to finish")
    await workers_done(pilot, "boot", "listing")
    await wait_until(pilot, lambda: checkpoint_table_laid_out(app), "the checkpoint table's layout")
    await footer_settled(pilot)


def checkpoint_table_laid_out(app: Any) -> bool:
    """The listed rows have room on screen: on a busy machine the table was seen holding its
    rows at height 0 (layout not yet run), and a snapshot taken then showed an empty panel."""
    table = app.query_one("#checkpoint-table")
    return not (table.display and table.row_count) or table.size.height > 0


async def footer_settled(pilot: Pilot[Any]) -> None:
    """Wait until the Footer shows each key enabled/disabled as the bindings say now.

    The Footer recomposes after a refresh once bindings change (e.g. ``c`` becomes enabled
    when the checkpoint list arrives), so a screenshot taken just after the state change
    could still show the old footer.
    """
    app = pilot.app

    def settled() -> bool:
        active = app.screen.active_bindings
        keys = list(app.screen.query(FooterKey))
        return bool(keys) and all(
            key.has_class("-disabled") != active[key.key].enabled for key in keys if key.key in active
        )

    await wait_until(pilot, settled, "the footer to show the current key states")


class PanelApp(App[None]):
    """The generation panel alone, for tests that feed it messages directly."""

    def compose(self) -> ComposeResult:
        yield GenerationPanel()
