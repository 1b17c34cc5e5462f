"""Bytes -> text, one set of rules for every file: byte-order marks honoured, UTF-8 preferred, UTF-16 without a
mark recognised, Latin-1/Windows-1252 as a fallback, binary refused, NULs removed.

A file is read in chunks, never held whole (:func:`text_chunks`), and split into lines as they arrive
(:func:`split_lines`). The one error is :class:`core.data.report.CorpusError`, a line naming the file.
"""

from __future__ import annotations

import codecs
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from core.data.report import CorpusError, LoadReport

_BINARY_SAMPLE = 65536  # bytes looked at to refuse binary data and to spot UTF-16 without a mark
_CHUNK = 1 << 20  # bytes read (and decoded) at a time: memory while reading is a few chunks, not the file
_PROGRESS_EVERY_S = 0.1
CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
# Line ends as csv reads them (io.StringIO(newline="")): \n, \r\n or a lone \r, kept on the line.
CSV_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")
# Line ends as str.splitlines() knows them (what JSONL lines were split by).
_ALL_LINE_ENDS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
SPLITLINES_END = re.compile(rf"(?<=[{_ALL_LINE_ENDS}])(?!(?<=\r)\n)")

Progress = Callable[[int, int], None]
"""``progress(bytes_read, total_bytes)``: called while a large file is read, at most ~10 times a second."""


BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's: FF FE 00 00 starts with FF FE
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def refuse_binary(sample: bytes, name: str) -> None:
    """A :class:`CorpusError` when over 5% of ``sample`` are control bytes (tab, newlines, form feed and ESC allowed)."""
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 27, 12)) + sample.count(127)
    if control > 0.05 * len(sample):
        raise CorpusError(
            f"{name}: looks like a binary file ({100 * control / len(sample):.0f}% control bytes), not text; "
            "give a CSV, tweets.js, JSON/JSONL or one-tweet-per-line text file"
        )


def bomless_utf16(sample: bytes) -> str | None:
    """UTF-16 without a byte-order mark: mostly-ASCII text has a NUL in every other byte."""
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.4 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.4 and odd_nul < 0.05:
        return "utf-16-be"
    return None


# ---------------------------------------------------------------- decoding a file in chunks
#
# A file is decoded twice, a chunk at a time, never held whole: a first pass settles the
# encoding exactly as decoding the whole file at once would (``bytes.decode``) (a decoding error at
# byte 2e9 changes how byte 0 is read) and gathers what the readers must know up front
# (is there any text, how does it start, is the first line tab-separated); the second
# pass feeds the readers. The first pass is plain decoding, a few percent of the second's
# parsing and cleaning, and the second mostly reads from the page cache.


class _Undecodable(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


@dataclass(frozen=True)
class Encoding:
    """How to decode a file, chosen by :func:`sniff` for its whole bytes."""

    codec: str  # for codecs.getincrementaldecoder
    label: str  # what LoadReport.encoding says
    errors: str = "strict"
    skip: int = 0  # bytes before the text (a UTF-8 byte-order mark; UTF-16/32 decoders consume theirs)
    notes: tuple[str, ...] = ()


@dataclass
class TextFacts:
    """What the first pass learns about the decoded text (NULs already removed)."""

    nuls: int = 0
    head: str = ""  # the text after its leading whitespace, at least 200 characters of it when there are
    first_line_done: bool = False  # the first "\n" has been seen
    first_line_tab: bool = False
    first_line_comma: bool = False

    def feed(self, text: str) -> None:
        if len(self.head) < 200:
            self.head = ((self.head + text) if self.head else text.lstrip())[:200]
        if not self.first_line_done:
            line, newline, _ = text.partition("\n")
            self.first_line_tab = self.first_line_tab or "\t" in line
            self.first_line_comma = self.first_line_comma or "," in line
            self.first_line_done = bool(newline)

    @property
    def blank(self) -> bool:
        return not self.head

    @property
    def tab_separated(self) -> bool:
        """read_csv's rule: a first line with tabs and no commas is tab-separated."""
        return self.first_line_tab and not self.first_line_comma


def _read_chunk(fh: BinaryIO, name: str, size: int | None = None) -> bytes:
    try:
        return fh.read(size or _CHUNK)
    except OSError as exc:
        raise CorpusError(f"{name}: cannot read ({exc.strerror}); check permissions") from None


def _without_nuls(text: str) -> tuple[str, int]:
    if "\x00" not in text:
        return text, 0
    return text.replace("\x00", ""), text.count("\x00")


def _scan(fh: BinaryIO, enc: Encoding, name: str) -> TextFacts:
    """Decode the whole file with ``enc`` (discarding the text); raises :class:`_Undecodable` with the
    byte offset ``bytes.decode`` would report for the whole file."""
    fh.seek(enc.skip)
    decoder = codecs.getincrementaldecoder(enc.codec)(enc.errors)
    facts = TextFacts()
    fed = 0
    while True:
        raw = _read_chunk(fh, name)
        pending = len(decoder.getstate()[0])  # bytes of an incomplete character carried from the last chunk
        try:
            text = decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            raise _Undecodable(fed - pending + exc.start) from None
        fed += len(raw)
        text, nuls = _without_nuls(text)
        facts.nuls += nuls
        facts.feed(text)
        if not raw:
            return facts


def _file_contains(fh: BinaryIO, needles: Sequence[bytes], name: str) -> bool:
    fh.seek(0)
    while raw := _read_chunk(fh, name):
        if any(n in raw for n in needles):
            return True
    return False


def sniff(fh: BinaryIO, name: str) -> tuple[Encoding, TextFacts] | None:
    """How to decode the whole file, decided a chunk at a time; None for an empty file.

    The rules, in order: a byte-order mark decides (invalid text after it is an error); UTF-16 without a
    mark (a NUL in every other byte) if it decodes; binary data (over 5% control bytes in the first
    64 KiB) is refused; UTF-8 if the whole file decodes; else Windows-1252, or Latin-1 when the file
    holds a byte Windows-1252 leaves undefined (reported as "latin-1" either way)."""
    sample = _read_chunk(fh, name, _BINARY_SAMPLE)
    for bom, enc in BOMS:
        if sample.startswith(bom):
            # utf-8-sig: skip the mark and decode UTF-8, so error offsets count from after it, as bytes.decode's do
            e = Encoding("utf-8", enc, skip=len(bom)) if enc == "utf-8-sig" else Encoding(enc, enc)
            try:
                return e, _scan(fh, e, name)
            except _Undecodable as exc:
                raise CorpusError(f"{name}: has a {enc} byte-order mark but invalid {enc} at byte {exc.offset}; re-save it as UTF-8") from None
    if not sample:
        return None
    utf16 = bomless_utf16(sample)
    if utf16 is not None:
        try:
            return Encoding(utf16, utf16), _scan(fh, Encoding(utf16, utf16), name)
        except _Undecodable:
            pass
    refuse_binary(sample, name)
    try:
        return Encoding("utf-8", "utf-8"), _scan(fh, Encoding("utf-8", "utf-8"), name)
    except _Undecodable:
        pass
    note = ("not valid UTF-8: decoded as Latin-1/Windows-1252",)
    if _file_contains(fh, CP1252_UNDEFINED, name):
        e = Encoding("latin-1", "latin-1", notes=note)
    else:
        e = Encoding("cp1252", "latin-1", errors="replace", notes=note)
    return e, _scan(fh, e, name)


def decoded_chunks(fh: BinaryIO, enc: Encoding, name: str, progress: Progress | None = None) -> Iterator[str]:
    """The file's text (NULs removed) a chunk at a time; ``progress(bytes read, file size)`` on the way."""
    fh.seek(enc.skip)
    decoder = codecs.getincrementaldecoder(enc.codec)(enc.errors)
    total = _size_of(fh)
    done, last = enc.skip, time.monotonic()
    if progress is not None:
        progress(done, total)
    while True:
        raw = _read_chunk(fh, name)
        try:
            text = decoder.decode(raw, final=not raw)
        except UnicodeDecodeError:  # it decoded a moment ago: something is writing to it
            raise CorpusError(f"{name}: changed while being read; load it again once it is complete") from None
        text, _ = _without_nuls(text)
        if text:
            yield text
        if not raw:
            break
        done += len(raw)
        now = time.monotonic()
        if progress is not None and now - last >= _PROGRESS_EVERY_S:
            progress(done, total)
            last = now
    if progress is not None:
        progress(done, max(total, done))


def _size_of(fh: BinaryIO) -> int:
    """The bytes a stream holds: a file's size, or the ``size`` a stream that is not a file says it has."""
    size = getattr(fh, "size", None)
    return size if isinstance(size, int) else os.fstat(fh.fileno()).st_size


def text_chunks(fh: BinaryIO, name: str, report: LoadReport | None = None) -> Iterator[str]:
    """A stream's text a chunk at a time, decoded by :func:`sniff`'s rules as if it were decoded whole.

    Binary data is refused from the first 64 KiB, before anything else is read. ``fh`` needs ``read``
    and ``seek`` (it is read twice: once to settle the encoding, then for the text), and a file
    descriptor or a ``size``. ``report`` gets the encoding and the notes (NULs removed, Latin-1)."""
    sniffed = sniff(fh, name)
    if sniffed is None:
        return
    enc, facts = sniffed
    note_encoding(report, enc, facts)
    yield from decoded_chunks(fh, enc, name)


def note_encoding(report: LoadReport | None, enc: Encoding, facts: TextFacts) -> None:
    """What the sniff found, in the load report: the encoding, its notes, the NULs removed."""
    if report is not None:
        report.encoding = enc.label
        report.notes.extend(enc.notes)
        if facts.nuls:
            report.notes.append(f"removed {facts.nuls:,} NUL characters")


def split_lines(chunks: Iterable[str], ends: re.Pattern[str]) -> Iterator[str]:
    """Lines, each with its line end, from text arriving in chunks (``ends`` matches just after one).

    A line that spans chunks is collected in a list (joined once), and a chunk ending in
    "\r" keeps that line open: the next chunk may start with the "\n" of a "\r\n".
    """
    pending: list[str] = []
    for chunk in chunks:
        if not chunk:
            continue
        if pending and pending[-1].endswith("\r") and not chunk.startswith("\n"):
            yield "".join(pending)
            pending = []
        parts = ends.split(chunk)
        tail = parts.pop()  # after the chunk's last line end: the start of the next line
        if chunk.endswith("\r"):
            tail = parts.pop()  # the "" after it went above; this line may still gain a "\n"
        if parts:
            pending.append(parts[0])
            yield "".join(pending)
            yield from parts[1:]
            pending = []
        if tail:
            pending.append(tail)
    if pending:
        yield "".join(pending)
