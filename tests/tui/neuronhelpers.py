"""The neuron view's test assets (issue 19): the shipped demo checkpoint, and a run that "grows" from it.

- ``demo.pt`` and its corpus ``demo_tweets.txt``, copied (with their times) out of ``assets/``;
- a run ``grow`` with ``step-00000200.pt``, an untrained model of the demo's shape made with the demo
  run's seed (exactly the untrained twin the finder compares with, so it has no tracker), and
  ``step-00000400.pt``, the demo's trained weights. Both record the copied corpus as theirs, so
  the finder finds their validation texts.

The finder's reports are cached beside these files once per session; tests that add files copy
the run first (the cache key is the file's size and SHA-256: the copies keep their cached reports).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from core.store.checkpoints import load_checkpoint, save_checkpoint
from core.model.gru import CharGRU
from tui.settings import AppSettings

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@dataclass(frozen=True)
class NeuronAssets:
    root: Path
    corpus: Path
    demo: Path
    home: Path  # holds runs/grow


def save_grown(path: Path, demo: Path, corpus: Path, step: int, *, untrained: bool) -> Path:
    """The demo checkpoint's weights (or, ``untrained``, the demo run's initialisation) saved as ``step``."""
    ckpt = load_checkpoint(demo)
    model = ckpt.model()
    state = dict(ckpt.train_state)
    seed = (state.get("train_config") or {}).get("seed", 0)
    if untrained:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = CharGRU(model.config)
    entry = dict(state["data_files"][0], path=str(corpus))
    state.update(step=step, run="grow", data_files=[entry], data_path=str(corpus), data_paths=[str(corpus)])
    return save_checkpoint(path, model=model, vocab=ckpt.vocab, train_state=state,
                           metrics={"val_bpc": 3.0 if untrained else 0.403}, tags=["periodic"])


@pytest.fixture(scope="session")
def neuron_assets(tmp_path_factory: pytest.TempPathFactory) -> NeuronAssets:
    root = tmp_path_factory.mktemp("neuron-assets")
    for name in ("demo.pt", "demo_tweets.txt"):
        shutil.copy2(ASSETS / name, root / name)
    home = root / "home"
    run = home / "runs" / "grow"
    save_grown(run / "step-00000200.pt", root / "demo.pt", root / "demo_tweets.txt", 200, untrained=True)
    save_grown(run / "step-00000400.pt", root / "demo.pt", root / "demo_tweets.txt", 400, untrained=False)
    return NeuronAssets(root, root / "demo_tweets.txt", root / "demo.pt", home)


def neuron_settings(assets: NeuronAssets, home: Path | None = None, **overrides: Any) -> AppSettings:
    """An app on the run ``grow`` (it opens on step 400, the demo's weights): instant seeded tweets."""
    values: dict[str, Any] = dict(data_path=assets.corpus, demo_checkpoint=assets.demo, run="grow",
                                  home=home or assets.home, pace=0.0, gap_s=None, seed=5, threads=1)
    values.update(overrides)
    return AppSettings(**values)
