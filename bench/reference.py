"""The notebook's recipe, reimplemented as the reference the defaults must beat.

Faithful on purpose, inefficiencies included:

* input is one-hot, built with ``torch.eye(vocab)[ids]`` every batch;
* ``nn.GRU(vocab, 64)`` -> ``nn.Linear(64, vocab)``;
* Adam, lr 0.004, constant; no clipping, no schedule;
* batches of 32 tweets, length-sorted (the BucketIterator idea) and padded;
* the loss is NOT masked: the mean cross-entropy over every position, padding included.

It uses the project's vocabulary and batcher only so that both models see the same
characters, split and bucketing; evaluation uses the project's masked bits/char.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.data.batching import BucketBatcher, make_batch

HIDDEN = 64
LR = 0.004
BATCH = 32


class NotebookGRU(nn.Module):
    """one-hot (B, T, V) -> GRU(V, 64) -> Linear(64, V)."""

    def __init__(self, vocab_size: int, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden = hidden
        self.gru = nn.GRU(vocab_size, hidden, batch_first=True)
        self.decoder = nn.Linear(hidden, vocab_size)

    def forward(self, ids: torch.Tensor, hidden: torch.Tensor | None = None, remaining: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """ids (B, T) -> logits (B, T, V); ``remaining`` (length conditioning) is not part of the recipe."""
        one_hot = torch.eye(self.vocab_size)[ids]  # (B, T, V), as the notebook builds it
        out, hidden = self.gru(one_hot, hidden)  # (B, T, 64)
        return self.decoder(out), hidden  # (B, T, V)

    def flops_per_char(self) -> int:
        """Matmul FLOPs of one forward character (the one-hot input is a dense V x 3H matmul)."""
        h, v = self.hidden, self.vocab_size
        return 2 * (3 * h * (v + h) + h * v)


def unmasked_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every position, padding included (the notebook's loss)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def train_reference(
    train_ids: Sequence[Sequence[int]], vocab_size: int, budget_s: float, *, seed: int = 0
) -> tuple[NotebookGRU, dict[str, float]]:
    """Train for ``budget_s`` seconds of wall time; returns the model and counters."""
    torch.manual_seed(seed)
    model = NotebookGRU(vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    batcher = BucketBatcher(train_ids, BATCH, seed=seed)
    model.train()
    steps = chars = padded = 0
    epoch = 0
    start = time.perf_counter()
    while time.perf_counter() - start < budget_s:
        for batch in batcher.epoch(epoch):
            logits, _ = model(batch.inputs)
            loss = unmasked_loss(logits, batch.targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            chars += batch.n_chars
            padded += batch.targets.numel()
            if time.perf_counter() - start >= budget_s:
                break
        epoch += 1
    elapsed = time.perf_counter() - start
    return model, {"steps": steps, "chars": chars, "padded_positions": padded, "train_s": elapsed, "epochs": epoch}
