"""Shared fixtures: every test gets its own checkpoint home, and torch uses fixed threads."""

from __future__ import annotations

from pathlib import Path

import pytest

@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("tweetgen-home")
    monkeypatch.setenv("TWEETGEN_HOME", str(home))
    return home


@pytest.fixture(autouse=True, scope="session")
def _fixed_threads() -> None:
    import torch

    torch.set_num_threads(1)
