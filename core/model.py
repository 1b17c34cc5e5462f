"""The character model: embedding -> GRU -> linear decoder.

The embedding stands in for the notebook's one-hot input: multiplying a one-hot vector
by the GRU's input weights picks one column, which is exactly an embedding lookup, so
we do the lookup and skip the (vocab x batch x time) one-hot tensor.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the model; stored in every checkpoint."""

    vocab_size: int
    embed_dim: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelConfig:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)  # type: ignore[arg-type]


class CharGRU(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.gru = nn.GRU(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, ids: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T) -> logits (B, T, V), hidden (L, B, H)."""
        x = self.embed(ids)  # (B, T, E)
        out, hidden = self.gru(x, hidden)  # (B, T, H), (L, B, H)
        return self.decoder(self.drop(out)), hidden  # (B, T, V)

    @torch.no_grad()
    def step(self, ids: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One character per stream: ids (B,) -> logits (B, V), hidden (L, B, H)."""
        logits, hidden = self.forward(ids[:, None], hidden)  # (B, 1, V)
        return logits[:, 0], hidden

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_char(self) -> int:
        """Multiply-adds x2 of one forward character (training costs about 3x this)."""
        c = self.config
        gru = 0
        for layer in range(c.num_layers):
            inp = c.embed_dim if layer == 0 else c.hidden_size
            gru += 3 * c.hidden_size * (inp + c.hidden_size)
        return 2 * (gru + c.hidden_size * c.vocab_size)
