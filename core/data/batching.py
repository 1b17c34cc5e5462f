"""Length-bucketed teacher-forcing batches (the notebook's BucketIterator idea).

Texts arrive here already read and filtered (:mod:`core.data.corpus`) and encoded by the
vocabulary as ``<bos> ... <eos>`` id sequences.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import torch

from core.data.vocab import PAD_ID, CharVocab

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
        self.encoded = encoded if isinstance(encoded, PackedIds) else PackedIds.from_sequences(encoded)
        self.batch_size = batch_size
        self.seed = seed

    def __len__(self) -> int:
        return (len(self.encoded) + self.batch_size - 1) // self.batch_size

    def epoch_order(self, epoch: int) -> list[list[int]]:
        """Row indices of each batch of ``epoch``, in the order they are trained.

        The order of sorting ``(length, rng.random(), index)`` tuples and shuffling the
        batch list with the same ``rng`` (the order of earlier releases, which resumed runs
        rely on), computed on tensors: one tie-break draw per text, in text order, then two
        stable sorts (tie-break, then length) equal the tuple sort; shuffling batch numbers
        draws what shuffling the batches drew.
        """
        rng = random.Random(self.seed * 1_000_003 + epoch)
        n = len(self.encoded)
        tie = torch.frombuffer(array("d", (rng.random() for _ in range(n))), dtype=torch.float64)  # (n,)
        idx = torch.sort(tie, stable=True).indices  # (n,)
        idx = idx[torch.sort(self.encoded.lengths[idx], stable=True).indices].tolist()
        batches = [idx[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        shuffled = list(range(len(batches)))
        rng.shuffle(shuffled)
        return [batches[b] for b in shuffled]

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Batch]:
        """Batches of ``epoch`` from batch index ``start`` on."""
        for rows in self.epoch_order(epoch)[start:]:
            yield make_batch([self.encoded[i] for i in rows])


def shard(rows: Sequence[int], rank: int, world: int) -> list[int]:
    """Rank ``rank``'s contiguous share of one global batch of ``world`` processes (:mod:`core.train.distributed`).

    A global batch is cut by length (the batcher sorts it), so contiguous shares pad
    little. Each share holds at most ``ceil(len(rows) / world)`` rows; the last, short batch
    of an epoch may leave a rank an empty share (it then steps with zero weight, so every
    rank still takes every step).
    """
    per = -(-len(rows) // world)
    return list(rows[rank * per : (rank + 1) * per])


class PackedIds(Sequence[torch.Tensor]):
    """Encoded texts, compactly: every id in one flat tensor, and where each text starts.

    A list of lists of Python ints costs ~8 bytes an id plus ~60 a text; this costs 2
    (int16, for vocabularies under 32,768 characters; int32 otherwise) plus 8 a text, so a
    corpus of millions of tweets fits. ``packed[i]`` is text ``i``'s ``<bos> ... <eos>`` ids, a
    1-D view into the flat tensor (``len()``, iteration and ``make_batch`` take it as they took
    a list); ``packed[a:b]`` is a PackedIds of those texts.
    """

    def __init__(self, flat: torch.Tensor, starts: array) -> None:
        if starts.typecode != "q" or len(starts) < 1 or starts[0] != 0 or starts[-1] != flat.numel():
            raise ValueError("starts must be an array('q') from 0 to the number of ids")
        self.flat = flat  # (total ids,) int16/int32
        self._starts = starts  # n + 1 int64: text i is flat[starts[i]:starts[i + 1]]; plain ints for fast indexing
        self.offsets = torch.frombuffer(starts, dtype=torch.int64)  # (n + 1,): the same memory, as a tensor

    @classmethod
    def from_sequences(cls, seqs: Iterable[Sequence[int]], *, wide: bool = False) -> PackedIds:
        """Pack id sequences one at a time (only the packed ids and one sequence are held).

        ``wide``: int32 ids from the start (a vocabulary over 32,768); otherwise int16, widened
        once if an id does not fit.
        """
        ids, starts = array("i" if wide else "h"), array("q", [0])
        for seq in seqs:
            try:
                ids.extend(seq)
            except OverflowError:  # an id past int16: widen once (what was added of seq is dropped with the old array)
                ids = array("i", ids[: starts[-1]])
                ids.extend(seq)
            starts.append(len(ids))
        if not ids:
            return cls(torch.zeros(0, dtype=torch.int16 if ids.typecode == "h" else torch.int32), starts)
        return cls(torch.frombuffer(ids, dtype=torch.int16 if ids.typecode == "h" else torch.int32), starts)

    @property
    def lengths(self) -> torch.Tensor:
        """(n,) int64: ids per text, ``<bos>`` and ``<eos>`` included."""
        return self.offsets[1:] - self.offsets[:-1]

    @property
    def nbytes(self) -> int:
        return self.flat.element_size() * self.flat.numel() + 8 * len(self._starts)

    def __len__(self) -> int:
        return len(self._starts) - 1

    @overload
    def __getitem__(self, i: int) -> torch.Tensor: ...
    @overload
    def __getitem__(self, i: slice) -> PackedIds: ...

    def __getitem__(self, i: int | slice) -> torch.Tensor | PackedIds:
        n = len(self)
        if isinstance(i, slice):
            rows = range(*i.indices(n))
            return PackedIds.from_sequences((self[j].tolist() for j in rows), wide=self.flat.dtype == torch.int32)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"text {i} of {n}")
        return self.flat[self._starts[i] : self._starts[i + 1]]

    def __iter__(self) -> Iterator[torch.Tensor]:
        starts = self._starts
        for a, b in zip(starts, starts[1:]):
            yield self.flat[a:b]


def encode_all(texts: Iterable[str], vocab: CharVocab) -> PackedIds:
    """Every text as ``<bos> ... <eos>`` ids, packed (:class:`PackedIds`); int16 unless the vocabulary needs more."""
    return PackedIds.from_sequences((vocab.encode(t) for t in texts), wide=len(vocab) > 32768)
