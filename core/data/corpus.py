"""Corpus reading: parsing, decoding, filtering, de-duplication and the train/validation split.

Batching the encoded texts lives in :mod:`core.data.batching`.

Readers understand four shapes of input, picked by content first and extension second:
a Twitter archive export (``tweets.js``; a whole zip or folder is read by :mod:`core.data.archive`),
JSON / JSONL with a ``text`` field, CSV with a ``text`` column (or the first column when
there is no header), and plain text with one item per line. Every failure is a :class:`CorpusError` whose message is one line that
names the file and says what to do.
"""

from __future__ import annotations

import codecs
import csv
import html
import json
import os
import random
import re
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from core import defaults
from core.errors import Hint, TweetgenError, Words, cli_words, hint, prefixed, render
from core.data.archive_records import LongPostText, RetweetText, grailbird_rows, is_grailbird_header, tweet_of
from core.data.jsonstream import JsonStream, StreamDecodeError, iter_top_level

FORMATS = ("auto", "csv", "tweets-js", "json", "jsonl", "text")
ARCHIVE_FORMATS = ("twitter archive", "tweets-js", "grailbird csv")  # Twitter/X's own exports: retweets dropped by default
TEXT_COLUMNS = ("text", "full_text", "tweet", "content")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v]+")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # from JSON "\ud83d" escapes; unprintable, so replaced
_BINARY_SAMPLE = 65536
_CHUNK = 1 << 20  # bytes read (and decoded) at a time: memory while reading is a few chunks, not the file
_PROGRESS_EVERY_S = 0.1
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
# Line ends as csv reads them (io.StringIO(newline="")): \n, \r\n or a lone \r, kept on the line.
_CSV_LINE_END = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")
# Line ends as str.splitlines() knows them (what JSONL lines were split by).
_ALL_LINE_ENDS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_SPLITLINES_END = re.compile(rf"(?<=[{_ALL_LINE_ENDS}])(?!(?<=\r)\n)")

Progress = Callable[[int, int], None]
"""``progress(bytes_read, total_bytes)``: called while a large file is read, at most ~10 times a second."""


class CorpusError(TweetgenError):
    """A corpus problem a user can fix; ``str()`` is a single line naming the file."""


@dataclass
class FilterConfig:
    """The notebook's filters as defaults, all adjustable (the length limit is Twitter's since 2017, not the notebook's 140)."""

    max_len: int = defaults.MAX_TWEET_LEN
    min_len: int = 1
    strip_urls: bool = False
    # None: the source decides. A Twitter/X archive (zip, folder or tweets.js) drops retweets ("RT @..."):
    # they are someone else's words. Other files keep them, as before.
    drop_retweets: bool | None = None
    dedupe: bool = True
    keep_newlines: bool = False

    def __post_init__(self) -> None:
        if self.max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {self.max_len}")
        if self.min_len < 1 or self.min_len > self.max_len:
            raise ValueError(f"min_len must be between 1 and max_len, got {self.min_len}")


@dataclass
class LoadReport:
    """What a load read, kept and dropped, and why."""

    path: str
    format: str = ""
    encoding: str = ""
    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str | Hint] = field(default_factory=list)  # a note saying what to change is a Hint
    longest_long_post: int = 0  # characters of the longest long post dropped as ``long_post``: the --max-len that keeps them

    def summary(self, words: Words | None = None) -> str:
        """One line; the notes' hints in ``words`` (a front end's, :mod:`core.errors`), else tweetgen's."""
        parts = [f"{self.kept:,} of {self.read:,} items kept from {self.path} ({self.format}, {self.encoding})"]
        if self.dropped:
            parts.append("dropped: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.dropped.items())))
        parts.extend(render(note, words or cli_words()) for note in self.notes)
        return "; ".join(parts)


# ---------------------------------------------------------------- decoding


def decode_bytes(raw: bytes, name: str, report: LoadReport | None = None) -> str:
    """Bytes -> str: BOMs honoured, UTF-8 preferred, Latin-1 as a fallback, binary refused.

    For bytes already in memory (archive members); a file is decoded in chunks by the same
    rules (:func:`_sniff`, :func:`_text_chunks`).
    """
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(enc)
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{name}: has a {enc} byte-order mark but invalid {enc} at byte {exc.start}; re-save it as UTF-8") from None
            return _finish_text(text, enc, name, report)
    if not raw:
        return ""
    sample = raw[:_BINARY_SAMPLE]
    utf16 = _bomless_utf16(sample)
    if utf16 is not None:
        try:
            return _finish_text(raw.decode(utf16), utf16, name, report)
        except UnicodeDecodeError:
            pass
    _refuse_binary(sample, name)
    try:
        return _finish_text(raw.decode("utf-8"), "utf-8", name, report)
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace") if _is_cp1252(raw) else raw.decode("latin-1")
        if report is not None:
            report.notes.append("not valid UTF-8: decoded as Latin-1/Windows-1252")
        return _finish_text(text, "latin-1", name, report)


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's: FF FE 00 00 starts with FF FE
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _refuse_binary(sample: bytes, name: str) -> None:
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 27, 12)) + sample.count(127)
    if control > 0.05 * len(sample):
        raise CorpusError(
            f"{name}: looks like a binary file ({100 * control / len(sample):.0f}% control bytes), not text; "
            "give a CSV, tweets.js, JSON/JSONL or one-tweet-per-line text file"
        )


def _bomless_utf16(sample: bytes) -> str | None:
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


def _is_cp1252(raw: bytes) -> bool:
    return not any(b in raw for b in _CP1252_UNDEFINED)


def _finish_text(text: str, enc: str, name: str, report: LoadReport | None) -> str:
    if report is not None:
        report.encoding = enc
    nul = text.count("\x00")
    if nul:
        text = text.replace("\x00", "")
        if report is not None:
            report.notes.append(f"removed {nul:,} NUL characters")
    return text


# ---------------------------------------------------------------- decoding a file in chunks
#
# A file is decoded twice, a chunk at a time, never held whole: a first pass settles the
# encoding exactly as :func:`decode_bytes` would for the whole file (a decoding error at
# byte 2e9 changes how byte 0 is read) and gathers what the readers must know up front
# (is there any text, how does it start, is the first line tab-separated); the second
# pass feeds the readers. The first pass is plain decoding, a few percent of the second's
# parsing and cleaning, and the second mostly reads from the page cache.


class _Undecodable(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


@dataclass(frozen=True)
class _Encoding:
    """How to decode a file: what :func:`decode_bytes` would have picked for its whole bytes."""

    codec: str  # for codecs.getincrementaldecoder
    label: str  # what LoadReport.encoding says
    errors: str = "strict"
    skip: int = 0  # bytes before the text (a UTF-8 byte-order mark; UTF-16/32 decoders consume theirs)
    notes: tuple[str, ...] = ()


@dataclass
class _TextFacts:
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


def _scan(fh: BinaryIO, enc: _Encoding, name: str) -> _TextFacts:
    """Decode the whole file with ``enc`` (discarding the text); raises :class:`_Undecodable` with the
    byte offset ``bytes.decode`` would report for the whole file."""
    fh.seek(enc.skip)
    decoder = codecs.getincrementaldecoder(enc.codec)(enc.errors)
    facts = _TextFacts()
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


def _sniff(fh: BinaryIO, name: str) -> tuple[_Encoding, _TextFacts] | None:
    """:func:`decode_bytes`'s choice for the whole file, made a chunk at a time; None for an empty file."""
    sample = _read_chunk(fh, name, _BINARY_SAMPLE)
    for bom, enc in _BOMS:
        if sample.startswith(bom):
            # utf-8-sig: skip the mark and decode UTF-8, so error offsets count from after it, as bytes.decode's do
            e = _Encoding("utf-8", enc, skip=len(bom)) if enc == "utf-8-sig" else _Encoding(enc, enc)
            try:
                return e, _scan(fh, e, name)
            except _Undecodable as exc:
                raise CorpusError(f"{name}: has a {enc} byte-order mark but invalid {enc} at byte {exc.offset}; re-save it as UTF-8") from None
    if not sample:
        return None
    utf16 = _bomless_utf16(sample)
    if utf16 is not None:
        try:
            return _Encoding(utf16, utf16), _scan(fh, _Encoding(utf16, utf16), name)
        except _Undecodable:
            pass
    _refuse_binary(sample, name)
    try:
        return _Encoding("utf-8", "utf-8"), _scan(fh, _Encoding("utf-8", "utf-8"), name)
    except _Undecodable:
        pass
    note = ("not valid UTF-8: decoded as Latin-1/Windows-1252",)
    if _file_contains(fh, _CP1252_UNDEFINED, name):
        e = _Encoding("latin-1", "latin-1", notes=note)
    else:
        e = _Encoding("cp1252", "latin-1", errors="replace", notes=note)
    return e, _scan(fh, e, name)


def _text_chunks(fh: BinaryIO, enc: _Encoding, name: str, progress: Progress | None = None) -> Iterator[str]:
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
    """A stream's text a chunk at a time, decoded as :func:`decode_bytes` would decode all of it.

    Binary data is refused from the first 64 KiB, before anything else is read. ``fh`` needs ``read``
    and ``seek`` (it is read twice: once to settle the encoding, then for the text), and a file
    descriptor or a ``size``. ``report`` gets the encoding and the notes (NULs removed, Latin-1)."""
    sniffed = _sniff(fh, name)
    if sniffed is None:
        return
    enc, facts = sniffed
    if report is not None:
        report.encoding = enc.label
        report.notes.extend(enc.notes)
        if facts.nuls:
            report.notes.append(f"removed {facts.nuls:,} NUL characters")
    yield from _text_chunks(fh, enc, name)


def _split_lines(chunks: Iterable[str], ends: re.Pattern[str]) -> Iterator[str]:
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


# ---------------------------------------------------------------- readers


SUFFIX_FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".js": "tweets-js", ".txt": "text", ".text": "text",
}


def detect_format(path: Path, text: str) -> str:
    """The archive marker wins, then the extension; unknown extensions are sniffed."""
    head = text.lstrip()[:200]
    if head.startswith("window.YTD."):
        return "tweets-js"
    if path.suffix.lower() in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[path.suffix.lower()]
    if head.startswith("["):
        return "json?"
    if head.startswith("{"):
        return "jsonl?"
    return "text"


def _text_of(obj: object) -> str | None:
    """The tweet text in one JSON record: ``text``/``full_text``, also under a ``tweet`` key."""
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, dict):
        return None
    inner = obj.get("tweet")
    if isinstance(inner, dict):
        obj = inner
    for key in ("full_text", "text"):
        value = obj.get(key)
        if isinstance(value, str):
            return value
    return None


def _unusable_json(where: str, exc: BaseException) -> CorpusError:
    """Valid-looking JSON that ``json`` still refuses: nesting too deep, an integer of thousands of digits."""
    if isinstance(exc, RecursionError):
        why = "arrays or objects nested too deeply"
    else:
        why = str(exc).split(";")[0].split(": value has")[0]  # the digit count depends on where a chunk ended
    return CorpusError(f"{where}: JSON that cannot be read as tweets ({why}); give objects with a 'text' string field")


_INVALID_JSON = "not valid JSON at line {line} column {col} ({msg}); fix the file or use JSONL"
_INVALID_TWEETS_JS = "tweets.js holds invalid JSON at line {line} ({msg}); re-export the archive"


def iter_json_records(chunks: Iterable[str], name: str, invalid: str = _INVALID_JSON, *, assignment: bool = False) -> Iterator[object]:
    """The records of a JSON list of tweets, one at a time, from text in chunks (memory: one record).

    A top-level array gives its elements; an object gives the list under ``tweets``, ``data`` or
    ``items``, else itself. With ``assignment``, the text is a ``tweets.js``: JSON after its
    ``window.YTD.tweets.part0 =`` (or ``Grailbird.data.tweets_2013_01 =``). ``invalid`` (with
    {line}, {col}, {msg}) says what bad JSON means here."""
    stream = JsonStream(chunks)
    try:
        if assignment and not stream.skip_past("="):
            raise CorpusError(f"{name}: not a Twitter archive tweets.js (no 'window.YTD... =' assignment)")
        for in_array, value in iter_top_level(stream, semicolons=assignment):
            if in_array:
                yield value
            elif isinstance(value, dict):
                inner = next((value[k] for k in ("tweets", "data", "items") if isinstance(value.get(k), list)), None)
                yield from inner if inner is not None else [value]
            else:
                raise CorpusError(f"{name}: JSON must be a list of objects with a 'text' field")
    except StreamDecodeError as exc:
        raise CorpusError(f"{name}: " + invalid.format(line=exc.lineno, col=exc.colno, msg=exc.msg)) from None
    except (RecursionError, ValueError) as exc:
        raise _unusable_json(name, exc) from None


def _record_items(records: Iterable[object], name: str) -> Iterator[str]:
    """The texts of JSON records (a retweet the data marks as one is a :class:`RetweetText`)."""
    seen = found = 0
    for record in records:
        seen += 1
        tweet = tweet_of(record)
        if tweet is not None:
            found += 1
            yield tweet.item()
    if seen and not found:
        raise CorpusError(f"{name}: no record has a 'text' (or 'full_text') string field; each item needs one")


def read_json(text: str, name: str) -> list[str]:
    return list(_record_items(iter_json_records((text,), name), name))


def read_tweets_js(text: str, name: str) -> list[str]:
    """A Twitter archive's ``data/tweets.js``: ``window.YTD.tweets.part0 = [ ... ]``."""
    return list(_record_items(iter_json_records((text,), name, _INVALID_TWEETS_JS, assignment=True), name))


def read_jsonl(text: str, name: str) -> list[str]:
    return list(_jsonl_items(_split_lines((text,), _SPLITLINES_END), name))


def _jsonl_items(lines: Iterable[str], name: str) -> Iterator[str]:
    """One JSON object a line; ``lines`` are split as ``str.splitlines`` splits (line numbers in errors agree)."""
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{name}: line {lineno} is not valid JSON ({exc.msg}); each line must be one JSON object") from None
        except (RecursionError, ValueError) as exc:
            raise _unusable_json(f"{name}: line {lineno}", exc) from None
        value = _text_of(record)
        if value is None:
            raise CorpusError(f"{name}: line {lineno} has no 'text' string field; each JSON line needs one")
        yield value


def read_csv(text: str, name: str, column: str | None = None) -> list[str]:
    """CSV with a ``text`` column; without a header, the first column is the text."""
    first_line = text.split("\n", 1)[0]
    tab = "\t" in first_line and "," not in first_line
    return list(_csv_items(_split_lines((text,), _CSV_LINE_END), name, column, tab))


def _csv_items(lines: Iterable[str], name: str, column: str | None, tab_separated: bool) -> Iterator[str]:
    """The text column's cells, row by row. ``lines`` keep their line ends, as csv needs for quoted newlines."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)  # a single huge field must not abort the whole read
    try:
        rows = csv.reader(lines, csv.excel_tab if tab_separated else csv.excel)
        try:
            header = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CorpusError(f"{name}: unreadable CSV ({exc}); check the quoting") from None
        lowered = [h.strip().lower() for h in header]
        if column is not None:
            if column.lower() not in lowered:
                raise CorpusError(f"{name}: no column named {column!r} (columns: {', '.join(header)}); pick one of them")
            col, has_header = lowered.index(column.lower()), True
        else:
            col = next((lowered.index(c) for c in TEXT_COLUMNS if c in lowered), -1)
            has_header = col >= 0
            if not has_header and len(header) > 1 and _looks_like_header(header):
                raise CorpusError(f"{name}: CSV has no 'text' column (columns: {', '.join(header)})",
                                  hint("rename the tweet column to 'text'{column}"))
            col = max(col, 0)
        if not has_header and header:
            yield header[col]
        rows_read = 0
        try:
            for row in rows:
                if col < len(row):
                    rows_read += 1
                    yield row[col]
        except csv.Error as exc:
            raise CorpusError(f"{name}: unreadable CSV near line {rows.line_num} ({exc}); check the quoting") from None
        if has_header and not rows_read:
            raise CorpusError(f"{name}: CSV has a header but no rows; add tweets below the header")
    finally:
        csv.field_size_limit(old_limit)


def _grailbird_csv(head: str) -> bool:
    """Does the text start with the header of a Grailbird (2012-2018 archive) ``tweets.csv``?"""
    try:
        first = next(csv.reader([head.split("\n", 1)[0]]), [])
    except csv.Error:
        return False
    return is_grailbird_header(first)


def _grailbird_items(lines: Iterable[str], name: str) -> Iterator[str]:
    """A Grailbird ``tweets.csv``: the texts, a retweet marked by its ``retweeted_status_id``."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)
    rows = csv.reader(lines)
    try:
        for tweet in grailbird_rows(rows, name):
            yield tweet.item()
    except csv.Error as exc:
        raise CorpusError(f"{name}: unreadable CSV near line {rows.line_num} ({exc}); check the quoting") from None
    finally:
        csv.field_size_limit(old_limit)


def _looks_like_header(cells: Sequence[str]) -> bool:
    return all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ .-]{0,40}", c.strip() or "?") for c in cells)


def read_lines(text: str) -> list[str]:
    """One item per line (LF, CRLF or CR-only endings); the newline that ends the last line does not make an empty item."""
    return list(_line_items(_split_lines((text,), _CSV_LINE_END)))


def _line_items(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        if line.endswith("\n"):
            line = line[:-2] if line.endswith("\r\n") else line[:-1]
        elif line.endswith("\r"):
            line = line[:-1]
        yield line


def open_regular_file(path: Path, name: str, what: str = "corpus") -> BinaryIO:
    """The file, open for reading. A FIFO, device or socket is refused: reading one can block forever
    (a pipe nobody writes) or never end (``/dev/zero``). Opened non-blocking and checked on the open
    descriptor, so nothing can be swapped in between the check and the read."""
    refused = f"{name}: not a regular file (a pipe, device or socket); save the {what} to a file and give that"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise CorpusError(refused)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise CorpusError(f"{name}: cannot read ({exc.strerror}); check permissions") from None
    fh = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the check
        fh.close()
        raise CorpusError(refused)
    return fh


def read_items(
    path: str | Path,
    fmt: str = "auto",
    column: str | None = None,
    report: LoadReport | None = None,
    progress: Progress | None = None,
) -> list[str]:
    """Raw items of a corpus file, before cleaning and filtering (all of them, in a list: for small
    files and tests; :func:`load_corpus` cleans them one at a time as they are read)."""
    return list(iter_items(path, fmt, column, report, progress))


def iter_items(
    path: str | Path,
    fmt: str = "auto",
    column: str | None = None,
    report: LoadReport | None = None,
    progress: Progress | None = None,
) -> Iterator[str]:
    """Raw items of a corpus file one at a time, the file read in chunks.

    CSV, JSONL and text stream: memory holds a chunk and a line, never the file. A JSON
    array (``.json``, and a ``tweets.js``) is parsed whole (``json`` has no incremental
    parser): its text and records are held while it is read; archive members are bounded
    by :class:`core.data.archive.ArchiveLimits`. ``report.format``/``encoding`` are set before
    the first item comes.
    """
    path = Path(path)
    name = str(path)
    if fmt not in FORMATS:
        raise CorpusError(f"{name}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise CorpusError(f"{name}: no such file; check the path")
    from core.data import archive  # a Twitter/X archive: its zip, or the unpacked folder (refused there if it is not one)

    if path.is_dir() or (fmt in ("auto", "tweets-js") and archive.is_zip(path)):
        yield from archive.iter_archive(path, report)
        return
    with open_regular_file(path, name) as fh:
        sniffed = _sniff(fh, name)
        if sniffed is None or sniffed[1].blank:
            raise CorpusError(
                f"{name}: file is empty; give one tweet per line, a CSV with a 'text' column, a tweets.js or JSON/JSONL"
            )
        enc, facts = sniffed
        if report is not None:
            report.encoding = enc.label
            report.notes.extend(enc.notes)
            if facts.nuls:
                report.notes.append(f"removed {facts.nuls:,} NUL characters")

        def whole_text() -> str:
            return "".join(_text_chunks(fh, enc, name, progress))

        def lines(ends: re.Pattern[str]) -> Iterator[str]:
            return _split_lines(_text_chunks(fh, enc, name, progress), ends)

        if fmt == "auto":
            fmt = detect_format(path, facts.head)
            if fmt == "json?":  # looks like JSON, but an unknown extension: fall back to lines
                text = whole_text()
                try:
                    items, fmt = read_json(text, name), "json"
                except CorpusError:
                    items, fmt = read_lines(text), "text"
                if report is not None:
                    report.format = fmt
                yield from items
                return
            if fmt == "jsonl?":  # the same for JSON lines: a first pass decides, then the lines stream
                try:
                    for _ in _jsonl_items(_split_lines(_text_chunks(fh, enc, name), _SPLITLINES_END), name):
                        pass
                    fmt = "jsonl"
                except CorpusError:
                    fmt = "text"
        if fmt == "csv" and column is None and _grailbird_csv(facts.head):
            fmt = "grailbird csv"  # a pre-2019 archive's tweets.csv given alone: read as the archive reads it
        if report is not None:
            report.format = fmt
        if fmt == "grailbird csv":
            yield from _grailbird_items(lines(_CSV_LINE_END), name)
        elif fmt == "tweets-js":
            chunks = _text_chunks(fh, enc, name, progress)
            yield from _record_items(iter_json_records(chunks, name, _INVALID_TWEETS_JS, assignment=True), name)
        elif fmt == "json":
            yield from _record_items(iter_json_records(_text_chunks(fh, enc, name, progress), name), name)
        elif fmt == "csv":
            yield from _csv_items(lines(_CSV_LINE_END), name, column, facts.tab_separated)
        elif fmt == "jsonl":
            yield from _jsonl_items(lines(_SPLITLINES_END), name)
        else:
            yield from _line_items(lines(_CSV_LINE_END))


# ---------------------------------------------------------------- cleaning


class _Cleaner:
    """Cleans, filters and de-duplicates items one at a time, counting every drop by reason.

    De-duplication keeps a set of the kept texts themselves: the kept list holds every
    unique text anyway, so the set costs one hash-table slot per unique text (~30 bytes),
    less than a set of digests would (a 16-byte digest is a 49-byte object, plus its slot),
    and it has no collisions. Memory grows with the unique texts, not with the items read.
    """

    def __init__(self, cfg: FilterConfig, report: LoadReport) -> None:
        self.cfg = cfg
        self.report = report
        self.kept: list[str] = []
        self.seen: set[str] = set()
        self._drop_retweets: bool | None = None  # decided at the first item: report.format is set by then
        self.longest_dropped = 0  # the longest text dropped as too long, for the report's hint

    def add(self, item: str) -> None:
        cfg, report, dropped = self.cfg, self.report, self.report.dropped
        if self._drop_retweets is None:
            self._drop_retweets = cfg.drop_retweets if cfg.drop_retweets is not None else report.format in ARCHIVE_FORMATS
        report.read += 1
        long_post = isinstance(item, LongPostText)  # a note tweet's whole text: never trained cut, so dropped whole
        if len(item) > 64 * cfg.max_len:  # far too long: skip the regex work on megabyte lines
            self._too_long(item, long_post)
            return
        text = html.unescape(item)
        if _LONE_SURROGATE.search(text):
            text = _LONE_SURROGATE.sub("\ufffd", text)
        text = _NEWLINES.sub("\n" if cfg.keep_newlines else " ", text)
        text = _SPACES.sub(" ", text).strip()
        if not text:
            dropped["empty"] += 1
            return
        if self._drop_retweets and (isinstance(item, RetweetText) or text.startswith("RT @")):
            dropped["retweet"] += 1
            return
        without_urls = _SPACES.sub(" ", _URL.sub("", text)).strip()
        if not without_urls:
            dropped["url_only"] += 1
            return
        if cfg.strip_urls:
            text = without_urls
        if len(text) > cfg.max_len:
            self._too_long(text, long_post)
            return
        if len(text) < cfg.min_len:
            dropped["too_short"] += 1
            return
        if cfg.dedupe:
            if text in self.seen:
                dropped["duplicate"] += 1
                return
            self.seen.add(text)
        self.kept.append(text)

    def _too_long(self, text: str, long_post: bool) -> None:
        if long_post:
            self.report.dropped["long_post"] += 1
            self.report.longest_long_post = max(self.report.longest_long_post, len(text))
        else:
            self.report.dropped["too_long"] += 1
            self.longest_dropped = max(self.longest_dropped, len(text))

    def finish(self) -> list[str]:
        report, dropped = self.report, self.report.dropped
        report.kept = len(self.kept)
        if self.cfg.drop_retweets is None and dropped["retweet"]:
            n = dropped["retweet"]
            report.notes.append(hint(f"dropped {n:,} retweet{'s' if n != 1 else ''} (someone else's words; {{keep_retweets}} to keep them)"))
        too_long = dropped["too_long"]
        usable = report.read - dropped["retweet"] - dropped["empty"] - dropped["url_only"]
        if too_long and too_long > TOO_LONG_SHARE * usable:
            report.notes.append(hint(f"{too_long:,} texts ({too_long / usable:.0%}) are longer than {self.cfg.max_len} characters "
                                     "and were dropped; try {max_tweet_len} to keep them",
                                     max_tweet_len=keep_all_len(self.longest_dropped)))
        if dropped["long_post"]:
            report.notes.append(long_post_note(dropped["long_post"], self.cfg.max_len, report.longest_long_post))
        self.seen = set()
        return self.kept


TOO_LONG_SHARE = 0.05  # above this share of usable texts dropped as too long, the report says how to keep them


def keep_all_len(longest: int) -> int:
    """A length limit (max_tweet_len) that keeps a text of ``longest`` characters: rounded up to a multiple of 10."""
    return -(-longest // 10) * 10


def long_post_note(n: int, max_len: int, longest: int) -> Hint:
    """The load report's line on long posts dropped whole, with the setting that keeps them."""
    return hint(f"dropped {n:,} long post{'s' if n != 1 else ''} (over {max_len:,} characters whole; the copies cut short "
                "in tweets.js are not trained on; try {max_tweet_len} to keep them)", max_tweet_len=longest)


def clean_items(items: Iterable[str], cfg: FilterConfig, report: LoadReport) -> list[str]:
    """Unescape, normalise whitespace and apply the filters, counting every drop by reason."""
    cleaner = _Cleaner(cfg, report)
    for item in items:
        cleaner.add(item)
    return cleaner.finish()


def load_corpus(
    path: str | Path,
    cfg: FilterConfig | None = None,
    *,
    fmt: str = "auto",
    column: str | None = None,
    progress: Progress | None = None,
) -> tuple[list[str], LoadReport]:
    """Read, clean and filter a corpus file; raises :class:`CorpusError` if nothing usable is left.

    Items are cleaned as they are read (:func:`iter_items`), so memory holds the kept,
    unique texts and a chunk of the file, not every item. ``progress(bytes read, file size)``
    is called at most ~10 times a second while a file is read, last with the whole size.
    """
    cfg = cfg or FilterConfig()
    report = LoadReport(path=str(path))
    texts = clean_items(iter_items(path, fmt, column, report, progress), cfg, report)
    if not texts:
        why = ", ".join(f"{k} {v:,}" for k, v in sorted(report.dropped.items())) or "no items"
        hints: list[Hint] = []
        if report.dropped.get("too_long"):
            hints.append(hint("try {max_tweet_len}", max_tweet_len=keep_all_len(max(280, 2 * cfg.max_len))))
        if report.dropped.get("long_post"):
            hints.append(long_post_note(report.dropped["long_post"], cfg.max_len, report.longest_long_post))
        if cfg.drop_retweets is None and report.dropped.get("retweet"):
            hints.append(hint("add {keep_retweets} to train on retweets"))
        raise CorpusError(f"{path}: no usable tweets: none of {report.read:,} items passed the filters ({why})",
                          tuple(hints) or None)
    return texts, report


def split_texts(texts: Sequence[str], val_fraction: float = 0.1, seed: int = 0) -> tuple[list[str], list[str]]:
    """Seeded train/validation split. With fewer than 2 texts, all of them train."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_val = int(round(len(texts) * val_fraction))
    if val_fraction > 0 and len(texts) >= 2:
        n_val = max(1, n_val)
    n_val = min(n_val, len(texts) - 1) if texts else 0
    val = [texts[i] for i in order[:n_val]]
    train = [texts[i] for i in order[n_val:]]
    return train, val


def load_corpora(
    paths: Sequence[str | Path],
    cfg: FilterConfig | None = None,
    *,
    fmt: str = "auto",
    column: str | None = None,
) -> tuple[list[str], LoadReport]:
    """:func:`load_corpus` over several files (``tweetgen train A.csv B.zip``), as one corpus.

    Each file is read and filtered on its own (a file with nothing usable is refused in
    one line naming it), then texts repeated across files are dropped (counted as
    ``duplicate``) unless the filters keep duplicates. The report adds the counts up.
    """
    cfg = cfg or FilterConfig()
    if not paths:
        raise CorpusError("no corpus given; name at least one file")
    if len(paths) == 1:
        return load_corpus(paths[0], cfg, fmt=fmt, column=column)
    texts: list[str] = []
    seen: set[str] = set()
    total = LoadReport(path=f"{len(paths)} files")
    formats: list[str] = []
    encodings: list[str] = []
    for path in paths:
        part, report = load_corpus(path, cfg, fmt=fmt, column=column)
        total.read += report.read
        total.dropped.update(report.dropped)
        total.longest_long_post = max(total.longest_long_post, report.longest_long_post)
        total.notes.extend(prefixed(f"{Path(path).name}: ", note) for note in report.notes)
        formats.append(report.format)
        encodings.append(report.encoding)
        for text in part:
            if cfg.dedupe and text in seen:
                total.dropped["duplicate"] += 1
                continue
            seen.add(text)
            texts.append(text)
    total.kept = len(texts)
    total.format = ", ".join(dict.fromkeys(formats))
    total.encoding = ", ".join(dict.fromkeys(encodings))
    return texts, total
