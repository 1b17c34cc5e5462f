"""Fixtures the CLI rounds share: a tiny corpus file, and a run trained on it by ``tweetgen train``.

A module that needs another corpus defines its own ``corpus`` fixture, which wins over this one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corehelpers import tiny_corpus_file, train_tiny


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return tiny_corpus_file(tmp_path)


@pytest.fixture
def trained(tmp_path: Path, corpus: Path) -> Path:
    """A run folder trained by the CLI on ``corpus`` (corehelpers.TINY_CLI)."""
    run = tmp_path / "trained"
    assert train_tiny(corpus, run) == 0
    return run
