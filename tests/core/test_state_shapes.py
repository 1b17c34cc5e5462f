"""CharGRU.state_shapes must equal the real state_dict shapes, and loading must stay fast.

The shapes let load_checkpoint check a file before allocating a model; building on the
meta device instead imports torch._dynamo (about a second on the first load of every
process, which the TUI pays before its first tweet).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.store.checkpoints import save_checkpoint
from core.model.gru import CharGRU, ModelConfig
from core.model.gru import new_model
from core.data.vocab import CharVocab


@pytest.mark.parametrize(
    "config",
    [ModelConfig(vocab_size=7), ModelConfig(vocab_size=40, embed_dim=8, hidden_size=16, num_layers=3, dropout=0.1),
     ModelConfig(vocab_size=5, embed_dim=33, hidden_size=1, num_layers=2),
     ModelConfig(vocab_size=9, embed_dim=6, hidden_size=5, max_length=140),
     ModelConfig(vocab_size=9, embed_dim=6, hidden_size=5, max_length=140, length_input=True)],
)
def test_state_shapes_match_the_model(config: ModelConfig) -> None:
    real = {k: tuple(v.shape) for k, v in CharGRU(config).state_dict().items()}
    assert CharGRU.state_shapes(config) == real


def test_loading_a_checkpoint_does_not_import_dynamo(tmp_path: Path) -> None:
    vocab = CharVocab.build(["abc"])
    path = save_checkpoint(tmp_path / "c.pt", model=new_model(vocab, hidden_size=8, embed_dim=4), vocab=vocab)
    code = ("import sys; from core.store.checkpoints import load_checkpoint; load_checkpoint(sys.argv[1]).model(); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", "load_checkpoint imported torch._dynamo (about a second)"
