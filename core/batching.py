"""Length-bucketed teacher-forcing batches (the notebook's BucketIterator idea).

Texts arrive here already read and filtered (:mod:`core.corpus`) and encoded by the
vocabulary as ``<bos> ... <eos>`` id sequences.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from core.vocab import PAD_ID, CharVocab

@dataclass
class Batch:
    """Teacher-forcing pair. ``inputs``/``targets``/``mask``/``remaining`` are (B, T); ``n_chars`` counts real targets.

    ``remaining[b, t]`` is how many characters of text ``b`` are still to be written
    after input position ``t`` (its length minus ``t``): the length-aware model's extra
    input. It reaches 0 at the position whose target is ``<eos>``; padding holds 0.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    n_chars: int
    remaining: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.inputs.to(device), self.targets.to(device), self.mask.to(device), self.n_chars,
                     self.remaining.to(device))


def make_batch(seqs: Sequence[Sequence[int]]) -> Batch:
    """Pad id sequences (each ``<bos> ... <eos>``) into a teacher-forcing batch."""
    width = max(len(s) for s in seqs) - 1
    padded = torch.full((len(seqs), width + 1), PAD_ID, dtype=torch.long)  # (B, T+1)
    for row, seq in enumerate(seqs):
        padded[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    inputs, targets = padded[:, :-1], padded[:, 1:]  # (B, T) each
    mask = targets != PAD_ID
    lengths = torch.as_tensor([len(s) - 2 for s in seqs], dtype=torch.long)  # (B,) characters without <bos>/<eos>
    remaining = (lengths[:, None] - torch.arange(width)[None, :]).clamp_(min=0) * mask  # (B, T)
    return Batch(inputs, targets, mask, int(mask.sum()), remaining)


class BucketBatcher:
    """Groups sequences of similar length into padded batches (the notebook's BucketIterator).

    Each epoch sorts by length with a seeded random tie-break, cuts into batches and
    shuffles the batch order; the order depends only on ``(seed, epoch)``, which is what
    lets a resumed run see exactly the batches the uninterrupted run would have seen.
    """

    def __init__(self, encoded: Sequence[Sequence[int]], batch_size: int, seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not encoded:
            raise ValueError("cannot batch an empty corpus")
        self.encoded = list(encoded)
        self.batch_size = batch_size
        self.seed = seed

    def __len__(self) -> int:
        return (len(self.encoded) + self.batch_size - 1) // self.batch_size

    def epoch_order(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        keys = [(len(s), rng.random(), i) for i, s in enumerate(self.encoded)]
        keys.sort()
        idx = [k[2] for k in keys]
        batches = [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        """Batches of ``epoch`` from batch index ``start`` on."""
        for rows in self.epoch_order(epoch)[start:]:
            yield make_batch([self.encoded[i] for i in rows])


def shard(rows: Sequence[int], rank: int, world: int) -> list[int]:
    """Rank ``rank``'s contiguous share of one global batch of ``world`` processes (:mod:`core.distributed`).

    A global batch is cut by length (the batcher sorts it), so contiguous shares pad
    little. Each share holds at most ``ceil(len(rows) / world)`` rows; the last, short batch
    of an epoch may leave a rank an empty share (it then steps with zero weight, so every
    rank still takes every step).
    """
    per = -(-len(rows) // world)
    return list(rows[rank * per : (rank + 1) * per])


def encode_all(texts: Sequence[str], vocab: CharVocab) -> list[list[int]]:
    return [vocab.encode(t) for t in texts]
