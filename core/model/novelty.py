"""Novelty check (issue 10 §5): the longest verbatim run a sample shares with the training texts.

Design: a suffix array over the training texts, joined by a separator, queried with
binary search.

*Build.* Texts are mapped to a dense alphabet (1 byte a character when the corpus has
fewer than 255 distinct characters, as tweets do; 2 bytes otherwise) and joined as
``SEP t0 SEP t1 SEP ... SEP``. The suffixes are sorted by prefix doubling in torch:
round 0 sorts on the first two characters, a range of first characters at a time;
round 1 on the first ``k`` characters packed into an int64 (k = 8 for a tweet
alphabet), chunk by chunk of whole groups; then rounds sort only the suffixes still
tied, by (rank of the first h characters, rank of the next h), updating ranks in place
as Larsson & Sadakane's qsufsort does, until every suffix is told apart or h exceeds the
longest text + 2 (no search is longer: a sample never contains the separator). torch's
kernels release the GIL, so a build in a thread worker leaves an event loop free; the
Python-level steps are cut into chunks for the same reason.

*Check.* Pure Python on compact buffers (``array``, ``str``), so a check needs no torch.
For each start ``i`` in the sample, left to right, one binary search asks whether
``sample[i : i + best + 1]`` occurs anywhere (a search narrowed by a table of the
suffix array's two-character buckets); only when it does is the longest match at ``i``
measured, against the two suffixes beside the insertion point. A check is about
``len(sample)`` binary searches of ~log2(bucket) probes each.

*Exact.* Every figure is exact, for every run length, in every shard: ``longest`` is the
maximum over all training texts of the longest common substring, ``start`` is the
leftmost position in the sample where a run of that length starts, and ``source`` is a
text that contains it (one of them when several do: a whole-text copy is preferred,
then the first found). Characters the corpus never has (and so the separator) match
nothing.

*Memory.* The kept structures are the suffix array (int32, 4 bytes a corpus character),
the mapped text (1 byte a character for a tweet alphabet, 2 otherwise), text starts and
ids (8 bytes a text) and a bucket table (4 x alphabet^2 bytes, ~100 KB for tweets):
about 5.1 bytes a corpus character, measured by ``nbytes``. The training texts are not
kept: :meth:`NoveltyIndex.source_text` rebuilds a source text from the mapped copy.
The build holds, besides what it keeps, ~8 bytes a character (ranks, group marks, a
padded copy of the codes) and chunk temporaries of fixed size (``CHUNK_SLOTS``
suffixes, ~50 MB): ~19 bytes a character at its peak, measured (bench section 7). A
corpus larger than ``shard_chars`` (134M characters, ~1.3M tweets) is indexed as
independent shards, each searched by a check (the answers do not change, the time
grows with the number of shards).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core import defaults

COPY_THRESHOLD = defaults.COPY_THRESHOLD  # a sample sharing a verbatim run of this many characters is flagged as copied
SHARD_CHARS = 1 << 27  # characters per shard (~1.3M tweets): a check searches every shard
CHUNK_SLOTS = 1 << 20  # suffixes sorted at once in the build's later rounds: bounds their temporaries
_MAX_PAIR_WIDTH = 2048  # alphabets up to this size get a two-character bucket table (4 x width^2 bytes)
_SEP = 0  # separator code; characters map to 1..A, and a character the corpus lacks to A + 1


class BuildCancelled(Exception):
    """Raised by :meth:`NoveltyIndex.build` when its ``cancelled`` callback returns True."""


@dataclass(frozen=True)
class NoveltyResult:
    """The longest verbatim run a sample shares with the training texts.

    ``longest`` characters starting at ``start`` in the sample equal those starting at
    ``source_start`` in training text number ``source`` (None when ``longest`` is 0).
    ``whole`` is True when the sample *is* a training text; ``copied`` is
    ``longest >= threshold``, or ``whole``: a reproduced short tweet is a copy too.
    """

    longest: int
    start: int
    source: int | None
    source_start: int
    threshold: int
    whole: bool
    copied: bool
    match: str  # the shared run itself: sample[start : start + longest]


class _Shard:
    """One suffix array over a run of consecutive texts (see the module docstring)."""

    __slots__ = ("text", "sa", "starts", "ids", "buckets", "width", "limit")

    def __init__(self, text: str, sa: array, starts: array, ids: array, buckets: array, width: int, limit: int) -> None:
        self.text = text  # SEP t SEP t ... SEP, mapped to codes (a str, so slices compare in C)
        self.sa = sa  # suffix start positions, sorted by their first `limit` characters
        self.starts = starts  # position of each text's first character in `text`
        self.ids = ids  # the caller's index of each text
        self.buckets = buckets  # buckets[c0 * width + c1] = first SA slot whose suffix starts >= chr(c0) chr(c1)
        self.width = width  # 0: buckets are by the first character only (buckets[c0])
        self.limit = limit  # longest text + 2: the suffixes are ordered on this many characters

    def nbytes(self) -> int:
        kind = 1 if not self.text or max(self.text) < "\u0100" else 2
        return (len(self.text) * kind + self.sa.itemsize * len(self.sa) + self.starts.itemsize * len(self.starts)
                + self.ids.itemsize * len(self.ids) + self.buckets.itemsize * len(self.buckets))

    def _range(self, pattern: str) -> tuple[int, int]:
        """SA slots whose suffixes start with pattern's first two characters (one, for a huge alphabet)."""
        c0, w, b = ord(pattern[0]), self.width, self.buckets
        if not w:  # one-character buckets
            return (b[c0], b[c0 + 1]) if c0 + 1 < len(b) else (0, 0)
        if c0 >= w:
            return 0, 0
        if len(pattern) == 1:
            return b[c0 * w], b[(c0 + 1) * w]
        c1 = ord(pattern[1])
        if c1 >= w:
            return 0, 0
        return b[c0 * w + c1], b[c0 * w + c1 + 1]

    def find(self, pattern: str) -> int:
        """A position where ``pattern`` (non-empty, at most ``limit`` long) occurs, or -1."""
        lo, hi = self._range(pattern)
        if lo >= hi:
            return -1
        text, sa, n = self.text, self.sa, len(pattern)
        j = bisect_left(sa, pattern, lo, hi, key=lambda p: text[p : p + n])
        if j < hi and text[sa[j] : sa[j] + n] == pattern:
            return sa[j]
        return -1

    def longest_prefix(self, u: str, need: int) -> tuple[int, int]:
        """(length, position) of the longest prefix of ``u`` that occurs, if it is >= ``need``; else (0, -1).

        One binary search for ``u[:need]`` rejects most starts; when it is there, the
        longest match is with one of the two suffixes beside ``u``'s insertion point.
        """
        u = u[: self.limit]
        if need > len(u):
            return 0, -1
        lo, hi = self._range(u[:need])
        if lo >= hi:
            return 0, -1
        text, sa = self.text, self.sa
        head = u[:need]
        j = bisect_left(sa, head, lo, hi, key=lambda p: text[p : p + need])
        if j >= hi or text[sa[j] : sa[j] + need] != head:
            return 0, -1
        m = len(u)
        k = bisect_left(sa, u, j, hi, key=lambda p: text[p : p + m])
        best, where = need, sa[j]
        # slot k - 1 (when >= j) lies in the range that starts with u[:need]; slot k may not
        for slot, known in ((k - 1, need), (k, 0)):
            if j <= slot < hi:
                p = sa[slot]
                n = _common_prefix(u, text[p : p + m], known)
                if n > best:
                    best, where = n, p
        return best, where

    def text_at(self, pos: int) -> tuple[int, int]:
        """(caller's index, offset in it) of the text holding corpus position ``pos``."""
        t = bisect_right(self.starts, pos) - 1
        return self.ids[t], pos - self.starts[t]


def _common_prefix(a: str, b: str, known: int = 0) -> int:
    """Length of the common prefix of ``a`` and ``b``, given that it is at least ``known``.

    Binary search on slice equality: each comparison is one C-level memcmp, so ~log2(len)
    of them beat a character loop in Python.
    """
    lo, hi = known, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class _Unknown(dict):  # type: ignore[type-arg]
    """Translation table: a character the corpus lacks maps to a code no corpus character has."""

    def __init__(self, table: dict[int, int], unknown: int) -> None:
        super().__init__(table)
        self.unknown = unknown

    def __missing__(self, key: int) -> int:
        return self.unknown


class NoveltyIndex:
    """Answers "what is the longest run of this sample found verbatim in a training text?".

    Build it once per corpus with :meth:`build` (in a worker: ~0.5 s for 20k tweets),
    then :meth:`check` each finished sample (~1 ms for a tweet). Immutable, so checks
    may run from any thread.
    """

    def __init__(self, alphabet: str, shards: list[_Shard], n_texts: int, n_chars: int, threshold: int) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {threshold}")
        self.alphabet = alphabet  # code c (1..A) is alphabet[c - 1]
        self.shards = shards
        self.n_texts = n_texts
        self.n_chars = n_chars  # characters of the indexed texts (separators not counted)
        self.threshold = threshold
        self._to_codes = _Unknown({ord(ch): i + 1 for i, ch in enumerate(alphabet)}, len(alphabet) + 1)
        self._from_codes = {i + 1: ord(ch) for i, ch in enumerate(alphabet)}

    # ------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        *,
        threshold: int = COPY_THRESHOLD,
        shard_chars: int = SHARD_CHARS,
        progress: Callable[[float], object] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> NoveltyIndex:
        """Index ``texts`` (a pure function of them; the list is not kept).

        ``progress(fraction)`` is called as the work advances (from the building thread);
        ``cancelled()`` is polled between steps and, when it returns True, the build stops
        with :class:`BuildCancelled`. Empty texts are allowed and never match.
        """
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {threshold}")
        if shard_chars < 1:
            raise ValueError(f"shard_chars must be at least 1, got {shard_chars}")

        def step(fraction: float) -> None:
            if cancelled is not None and cancelled():
                raise BuildCancelled("novelty index build cancelled")
            if progress is not None:
                progress(min(1.0, fraction))

        kept = [i for i, t in enumerate(texts) if t]
        n_chars = sum(len(texts[i]) for i in kept)
        alphabet = _alphabet(texts, kept, step)
        table = _Unknown({ord(ch): i + 1 for i, ch in enumerate(alphabet)}, len(alphabet) + 1)
        groups: list[list[int]] = [[]]
        size = 0
        for i in kept:
            if groups[-1] and size + len(texts[i]) + 1 > shard_chars:
                groups.append([])
                size = 0
            groups[-1].append(i)
            size += len(texts[i]) + 1
        shards = []
        done = 0
        for group in groups:
            if not group:
                continue
            width = len(alphabet) + 1  # codes 0 (SEP) .. A; A + 1 (unknown) never occurs in a shard

            def sub(f: float, _base: int = done, _size: int = sum(len(texts[i]) + 1 for i in group)) -> None:
                step(0.1 + 0.9 * (_base + f * _size) / max(1, n_chars + len(kept)))

            shards.append(_build_shard(texts, group, table, width, sub))
            done += sum(len(texts[i]) + 1 for i in group)
        _release_freed_memory()
        step(1.0)
        return cls(alphabet, shards, len(texts), n_chars, threshold)

    # ------------------------------------------------------------ checking

    def check(self, sample: str, threshold: int | None = None) -> NoveltyResult:
        """The longest run of ``sample`` found verbatim in a training text, and whether it is a copy.

        ``threshold`` overrides the index's for this call. Exact for every length (see the
        module docstring); about ``len(sample)`` binary searches per shard.
        """
        limit = self.threshold if threshold is None else threshold
        if limit < 1:
            raise ValueError(f"threshold must be at least 1, got {limit}")
        u = sample.translate(self._to_codes)
        m = len(u)
        best, best_i, best_pos, best_shard = 0, 0, -1, None
        whole = False
        if m:
            framed = chr(_SEP) + u + chr(_SEP)
            for shard in self.shards:
                if m + 2 <= shard.limit:
                    p = shard.find(framed)
                    if p >= 0:
                        best, best_i, best_pos, best_shard, whole = m, 0, p + 1, shard, True
                        break
        i = 0
        while not whole and i < m - best:
            rest = u[i:]
            for shard in self.shards:
                n, p = shard.longest_prefix(rest, best + 1)
                if n > best:
                    best, best_i, best_pos, best_shard = n, i, p, shard
            i += 1
        if best_shard is None:
            return NoveltyResult(0, 0, None, 0, limit, False, False, "")
        source, offset = best_shard.text_at(best_pos)
        return NoveltyResult(best, best_i, source, offset, limit, whole, whole or best >= limit,
                             sample[best_i : best_i + best])

    def source_text(self, index: int) -> str:
        """Training text number ``index`` (as given to :meth:`build`), rebuilt from the index."""
        if not 0 <= index < self.n_texts:
            raise IndexError(f"text index {index} out of range 0..{self.n_texts - 1}")
        for shard in self.shards:
            t = bisect_left(shard.ids, index)
            if t < len(shard.ids) and shard.ids[t] == index:
                end = shard.starts[t + 1] - 1 if t + 1 < len(shard.starts) else len(shard.text) - 1
                return shard.text[shard.starts[t] : end].translate(self._from_codes)
        return ""  # an empty text is not stored

    @property
    def nbytes(self) -> int:
        """Bytes of the kept structures (suffix arrays, mapped texts, tables)."""
        return sum(s.nbytes() for s in self.shards) + 4 * len(self.alphabet)

    def __len__(self) -> int:
        return self.n_texts


# ---------------------------------------------------------------- building blocks


def _alphabet(texts: Sequence[str], kept: list[int], step: Callable[[float], None]) -> str:
    """The sorted distinct characters of the texts (chunked: releases the GIL between chunks)."""
    seen: set[str] = set()
    chunk = 4096
    for a in range(0, len(kept), chunk):
        seen.update("".join(texts[i] for i in kept[a : a + chunk]))
        step(0.1 * min(len(kept), a + chunk) / max(1, len(kept)))
    return "".join(sorted(seen))


def _build_shard(
    texts: Sequence[str], group: list[int], table: dict[int, int], width: int, step: Callable[[float], None]
) -> _Shard:
    """Suffix array of SEP t SEP t ... SEP for the texts in ``group`` (prefix doubling in torch)."""
    import torch

    joined = "".join(chr(_SEP) + texts[i].translate(table) for i in group) + chr(_SEP)
    n = len(joined)
    if n >= 2**31:
        raise ValueError(f"a shard of {n:,} characters is too large: give a smaller shard_chars")
    wide = width > 0xFF
    if width >= 0xD800:
        raise ValueError(f"{width - 1:,} distinct characters: the novelty index maps at most 55,294")
    raw = bytearray(joined.encode("utf-16-le" if wide else "latin-1"))
    codes = torch.frombuffer(raw, dtype=torch.int16 if wide else torch.uint8)  # (n,), 1 or 2 bytes a char
    if wide:
        codes = codes.to(torch.int32) & 0xFFFF
    longest = max(len(texts[i]) for i in group)
    limit = longest + 2  # suffixes need ordering on SEP + the longest text + SEP: no longer pattern is ever searched
    base = width
    k = max(1, int(63 / math.log2(max(2, base))))  # characters packed into one int64 key
    step(0.05)

    # Round 0: sort on the first one or two characters, a range of first characters at a
    # time (~CHUNK_SLOTS suffixes), so no temporary spans the whole shard. The counts of
    # each two-character prefix give the bucket table the checks narrow their searches with.
    paired = width <= _MAX_PAIR_WIDTH
    padded = torch.cat([codes, codes.new_zeros(k)])  # (n + k,): codes past the end read as SEP
    codes = padded[:n]  # (n,) view: the encoded copy can go
    del raw
    sa_array = array("i", [0]) * n  # the kept suffix array; torch sorts straight into its buffer
    sa = torch.frombuffer(sa_array, dtype=torch.int32)  # (n,): sorted on the first h characters
    first = torch.ones(n, dtype=torch.bool)  # (n,): the slot starts a group (suffixes equal on the sorted prefix)
    per_char = torch.bincount(codes.to(torch.int64) if wide else codes, minlength=width).tolist()  # (width,)
    prefix_counts = torch.zeros(width * width if paired else width, dtype=torch.int64)
    slot = 0
    for c_lo, c_hi in _code_ranges(per_char, CHUNK_SLOTS):
        pos = torch.nonzero((codes >= c_lo) & (codes < c_hi)).squeeze(1)  # (c,) int64, ascending
        lead = padded.index_select(0, pos).to(torch.int32)  # (c,)
        if paired:
            lead.mul_(width).add_(padded.index_select(0, pos + 1))
        lead, order = torch.sort(lead)
        c = pos.numel()
        sa[slot : slot + c] = pos.index_select(0, order).to(torch.int32)
        torch.ne(lead[1:], lead[:-1], out=first[slot + 1 : slot + c])
        prefix_counts += torch.bincount(lead, minlength=prefix_counts.numel())
        slot += c
        del pos, lead, order
    buckets = torch.cat([prefix_counts.new_zeros(1), torch.cumsum(prefix_counts, 0)])  # (prefixes + 1,)
    del prefix_counts
    rank = torch.empty(n, dtype=torch.int32)  # (n,): rank of suffix p = the SA slot where its group starts
    step(0.2)

    # Round 1: within chunks of whole groups, sort on the first k characters packed in an int64.
    # Chunks bound the temporaries (~50 bytes an element of a chunk) whatever the shard's size.
    for lo, hi in _chunks(first, n):  # whole round-0 buckets: the k-character keys begin with their characters
        pos = sa[lo:hi].to(torch.int64)  # (c,)
        key = padded.index_select(0, pos).to(torch.int64)  # (c,)
        for j in range(1, k):
            key.mul_(base).add_(padded.index_select(0, pos + j))
        _refine(sa, rank, first, torch.arange(lo, hi), pos, key)
    del padded
    step(0.3)

    # Doubling rounds on the suffixes still tied, by (rank of the first h characters, rank of
    # the next h). Ranks are updated chunk by chunk as in Larsson & Sadakane's qsufsort: a
    # later chunk may read a rank already refined by an earlier one, which only orders on
    # more characters, never wrongly.
    h = k
    while h < limit:
        any_tied = False
        for lo, hi in _chunks(first, n):
            last = torch.ones(hi - lo, dtype=torch.bool)  # (c,): the slot ends a group
            last[:-1] = first[lo + 1 : hi]
            slots = torch.nonzero(~(first[lo:hi] & last)).squeeze(1).add_(lo)  # (m,) int64, ascending
            del last
            if slots.numel() == 0:
                continue
            any_tied = True
            pos = sa.index_select(0, slots).to(torch.int64)  # (m,)
            after = pos + h  # (m,)
            inside = after < n
            second = torch.zeros_like(after)  # (m,): past the end ranks lowest
            second[inside] = rank.index_select(0, after[inside]).to(torch.int64) + 1
            key = rank.index_select(0, pos).to(torch.int64).mul_(n + 1).add_(second)  # (m,)
            del after, inside, second
            _refine(sa, rank, first, slots, pos, key)
        if not any_tied:
            break
        h *= 2
        step(0.3 + 0.6 * min(1.0, h / limit))
    del rank, first

    lengths = torch.tensor([len(texts[i]) + 1 for i in group], dtype=torch.int64)  # (T,)
    starts = torch.cumsum(lengths, 0) - lengths + 1  # (T,): first character of each text
    del sa
    shard = _Shard(joined, sa_array, _to_array(starts), array("i", group), _to_array(buckets),
                   width if paired else 0, limit)
    step(1.0)
    return shard


def _code_ranges(per_char: list[int], size: int) -> list[tuple[int, int]]:
    """Consecutive [lo, hi) ranges of first-character codes holding about ``size`` suffixes each."""
    ranges, lo, total = [], 0, 0
    for c, count in enumerate(per_char):
        if total and total + count > size:
            ranges.append((lo, c))
            lo, total = c, 0
        total += count
    if total:
        ranges.append((lo, len(per_char)))
    return ranges


def _chunks(first, n: int):  # type: ignore[no-untyped-def]
    """(lo, hi) slot ranges of about CHUNK_SLOTS that cut only at group starts (``first`` True)."""
    import torch

    size = CHUNK_SLOTS
    lo = 0
    while lo < n:
        hi = min(n, lo + size)
        while hi < n and not bool(first[hi]):
            ahead = first[hi : hi + size]  # (w,)
            found = torch.nonzero(ahead)
            hi = hi + int(found[0]) if found.numel() else min(n, hi + size)
        yield lo, hi
        lo = hi


def _refine(sa, rank, first, slots, pos, key) -> None:  # type: ignore[no-untyped-def]
    """Sort the suffixes ``pos`` (at SA ``slots``, ascending, whole groups) by ``key``; update the SA, ranks, groups.

    The keys of different groups differ in their leading part (their rank, or their
    first characters), so sorting the slots of whole groups only reorders within each.
    """
    import torch

    sorted_key, order = torch.sort(key)  # (m,), (m,)
    pos = pos.index_select(0, order)
    del order
    sa.index_copy_(0, slots, pos.to(torch.int32))
    new_first = torch.ones_like(sorted_key, dtype=torch.bool)  # (m,)
    torch.ne(sorted_key[1:], sorted_key[:-1], out=new_first[1:])
    del sorted_key
    group = torch.cumsum(new_first, 0).sub_(1)  # (m,): group number of each element
    starts = slots.index_select(0, torch.nonzero(new_first).squeeze(1))  # (groups,)
    rank.scatter_(0, pos, starts.index_select(0, group).to(torch.int32))
    first.index_copy_(0, slots, new_first)


def _to_array(t) -> array:  # type: ignore[no-untyped-def]
    """A 1-D integer tensor copied into a compact int32 ``array`` (no numpy: torch writes into its buffer)."""
    import torch

    out = array("i", [0]) * t.numel()
    if t.numel():
        torch.frombuffer(out, dtype=torch.int32).copy_(t)
    return out


def _release_freed_memory() -> None:
    """Hand the build's freed temporaries back to the system (glibc keeps them otherwise).

    The build's tensors are a few to tens of MB each; glibc serves such blocks from its
    heap once its adaptive mmap threshold has risen, and keeps the freed heap, so without
    this the process would stay ~50 bytes a character larger than the index. No-op
    where glibc's malloc_trim is missing.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
