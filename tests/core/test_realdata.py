"""Real-data behaviour on ../shared/data/trump_tweets_dev.csv (skipped with a reason where absent)."""

from __future__ import annotations

import pytest
from corehelpers import DEV_CSV, needs_dev_csv

from core.data.corpus import load_corpus, split_texts
from core.events import EvalEvent
from core.train.trainer import TrainConfig, Trainer
from core.model.gru import new_model
from core.data.vocab import CharVocab

pytestmark = [needs_dev_csv, pytest.mark.realdata, pytest.mark.slow]


def test_dev_corpus_loads_with_the_default_filters() -> None:
    """The default limit is 280: the dev corpus's few 2017 tweets over 140 are kept, nothing over 280."""
    texts, report = load_corpus(DEV_CSV)
    assert report.format == "csv" and report.read > 19000
    assert len(texts) > 20000 and max(map(len, texts)) <= 280 and sum(len(t) > 140 for t in texts) > 0
    assert not any("&amp;" in t for t in texts)  # entities unescaped


def test_short_run_lowers_validation_bits_per_char(tmp_path) -> None:
    texts, _ = load_corpus(DEV_CSV)
    train, val = split_texts(texts, 0.1, seed=0)
    vocab = CharVocab.build(train)
    model = new_model(vocab, seed=0, hidden_size=64, embed_dim=32)
    config = TrainConfig(max_steps=80, val_every=40, val_limit=300, ckpt_every=0, batch_size=32, threads=1)  # 2 threads ran 10x slower on a busy 2-core machine
    evals = [e for e in Trainer(model, vocab, train, val, config, tmp_path / "run").run() if isinstance(e, EvalEvent)]
    assert [e.step for e in evals] == [0, 40, 80]
    assert evals[-1].val_bpc < evals[0].val_bpc - 2.0  # from ~7.3 (uniform) to well below
    assert evals[-1].val_bpc < evals[1].val_bpc
