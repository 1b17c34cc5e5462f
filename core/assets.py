"""Where the demo corpus and demo checkpoint live.

They sit in the repository-root ``assets/`` folder, beside the ``core`` and ``tui``
packages; the project is installed editable, so that folder is found from this file.
Neither file is guaranteed to exist (the demo checkpoint is trained separately), so
callers check ``.exists()`` and cope when it is missing.
"""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEMO_CORPUS = "demo_tweets.txt"
DEMO_CHECKPOINT = "demo.pt"


def demo_corpus_path() -> Path:
    """The demo corpus: one synthetic tweet per line, written by ``assets/make_demo_corpus.py``."""
    return ASSETS_DIR / DEMO_CORPUS


def demo_checkpoint_path() -> Path:
    """The checkpoint trained on the demo corpus (may not exist yet)."""
    return ASSETS_DIR / DEMO_CHECKPOINT
