"""Fixtures shared by the app tests: the tiny corpus/checkpoints (built once per session)
and a fresh tweetgen home per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from tuihelpers import tui_assets  # noqa: F401 - registers the session fixture for every test here


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"
