"""Scoring a model on encoded texts: the masked loss training minimises, and bits per character.

One module for what both training (the loss of a step, validation) and the benches and tests
(scoring a model on held-out texts) need, so every figure is computed the same way:
``<pad>`` never counts, ``<eos>`` always does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from core.data.batching import BucketBatcher, make_batch
from core.data.vocab import PAD_ID
from core.model.gru import CharGRU

LN2 = math.log(2.0)  # nats per bit


def masked_loss_sum(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over real positions: logits (B, T, V), targets (B, T) -> (nats, n_chars).

    ``<pad>`` targets are excluded; ``<eos>`` is a real target and counts.
    """
    flat_logits = logits.reshape(-1, logits.shape[-1])  # (B*T, V)
    flat_targets = targets.reshape(-1)  # (B*T,)
    total = F.cross_entropy(flat_logits, flat_targets, ignore_index=PAD_ID, reduction="sum")
    return total, int((flat_targets != PAD_ID).sum())


@torch.no_grad()
def evaluate_bpc(model: CharGRU, encoded: Sequence[Sequence[int]], batch_size: int = 256, device: torch.device | None = None) -> float:
    """Bits per character over ``encoded`` (padding excluded, ``<eos>`` included).

    A length-aware model is told each text's true length: this is bits/char *given the
    length*; add :func:`length_cost_bpc` for the honest figure.
    """
    if not encoded:
        return float("nan")
    nats, chars = evaluate_sums(model, encoded, batch_size, device)
    return nats / chars / LN2


@torch.no_grad()
def evaluate_sums(model: CharGRU, encoded: Sequence[Sequence[int]], batch_size: int = 256, device: torch.device | None = None,
                  rank: int = 0, world: int = 1) -> tuple[float, int]:
    """(nats, characters) over ``encoded``, or over rank ``rank``'s share of its batches out of ``world``."""
    if not encoded:
        return 0.0, 0
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    batcher = BucketBatcher(encoded, batch_size, seed=0)
    nats, chars = 0.0, 0
    for rows in sorted(batcher.epoch_order(0))[rank::world]:
        batch = make_batch([encoded[i] for i in rows]).to(device)
        logits, _ = model(batch.inputs, None, batch.remaining)  # (B, T, V)
        loss, n = masked_loss_sum(logits, batch.targets)
        nats += float(loss)
        chars += n
    model.train(was_training)
    return nats, chars


def length_cost_bpc(model: CharGRU, encoded: Sequence[Sequence[int]]) -> float:
    """What being told the lengths is worth, in bits per character of ``encoded``.

    Each text's length costs -log2 of its frequency in the training corpus; the sum is
    spread over the same characters as :func:`evaluate_bpc` counts (``<eos>`` included).
    0 for a model that is not length-aware.
    """
    if not encoded or not model.length_aware:
        return 0.0
    chars = sum(len(s) - 1 for s in encoded)
    return model.length_cost_bits([len(s) - 2 for s in encoded]) / chars
