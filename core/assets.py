"""Where the demo corpus and demo checkpoint live.

They sit in the repository-root ``assets/`` folder, beside the ``core`` and ``tui``
packages. The build maps that folder onto the package ``core._assets`` (pyproject.toml:
``package-dir`` and ``package-data``), so it ships inside the wheel and is found through
``importlib.resources`` however tweetgen is installed: from a wheel (``pip install .``,
``pipx install .``, ``uv tool install .``) it is ``site-packages/core/_assets``; in the
editable install of ``make`` setuptools' finder maps it back to ``assets/``. A checkout
that is on ``sys.path`` without being installed falls back to ``assets/`` beside ``core``.

Neither file is guaranteed to exist (the demo checkpoint is trained separately), so
callers check ``.exists()`` and cope when it is missing.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

ASSETS_PACKAGE = "core._assets"
DEMO_CORPUS = "demo_tweets.txt"
DEMO_CHECKPOINT = "demo.pt"


def assets_dir() -> Path:
    """The folder holding the demo corpus and checkpoint."""
    try:
        found = resources.files(ASSETS_PACKAGE)
    except ModuleNotFoundError:  # not installed: a checkout put on sys.path by hand
        return Path(__file__).resolve().parent.parent / "assets"
    # A wheel is always installed unpacked, so this is a real folder (not a zip member).
    return found if isinstance(found, Path) else Path(str(found))


def demo_corpus_path() -> Path:
    """The demo corpus: one synthetic tweet per line, written by ``assets/make_demo_corpus.py``."""
    return assets_dir() / DEMO_CORPUS


def demo_checkpoint_path() -> Path:
    """The checkpoint trained on the demo corpus (may not exist yet)."""
    return assets_dir() / DEMO_CHECKPOINT
