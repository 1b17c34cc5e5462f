"""Small corpora and models for fast unit tests (all text here is written for the tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.checkpoints import Checkpoint
from core.trainer import TrainConfig, Trainer
from core.model import new_model
from core.vocab import CharVocab

REPO = Path(__file__).resolve().parents[2]
DEV_CSV = REPO.parent / "shared" / "data" / "trump_tweets_dev.csv"  # third-party text: read, never copied

needs_dev_csv = pytest.mark.skipif(
    not DEV_CSV.exists(), reason=f"real-data test: {DEV_CSV} is absent (it lives in ../shared beside the checkout)"
)

TINY_TWEETS = [
    "the bakery opens at 7 today!",
    "rain again. the cat refuses to go out.",
    "new sourdough batch is ready #bread",
    "train 14 is running 5 minutes late",
    "sunny and 21C at noon, perfect for a walk",
    "@hikers meet at the north gate at 9",
    "coffee count: 3. it is only 10am",
    "the probe reports all systems nominal",
    "tomatoes are finally turning red",
    "library closes early on friday",
    "windy evening, hold on to your hats",
    "the cat found the warm laundry again",
]


def tiny_trainer(
    run_dir: Path,
    texts: list[str] | None = None,
    *,
    model_kwargs: dict[str, object] | None = None,
    resume_from: Checkpoint | None = None,
    **cfg: object,
) -> Trainer:
    """A 16-unit GRU on a dozen tweets: trains 20 steps in well under a second."""
    texts = texts or TINY_TWEETS
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=0, **(model_kwargs or {"embed_dim": 8, "hidden_size": 16}))
    defaults: dict[str, object] = {"batch_size": 4, "max_steps": 20, "val_every": 0, "ckpt_every": 0, "warmup_steps": 2}
    defaults.update(cfg)
    return Trainer(model, vocab, texts, texts[:2], TrainConfig(**defaults), run_dir, resume_from=resume_from)  # type: ignore[arg-type]


def run_all(trainer: Trainer) -> list[object]:
    return list(trainer.run())
