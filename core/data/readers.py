"""The file formats: CSV (and a Grailbird ``tweets.csv``), JSON lists, JSONL, a ``tweets.js`` and plain text,
each read a tweet at a time from decoded text (:mod:`core.data.decoding`); :func:`iter_file_items` picks one
for a file, by content first and extension second.

A whole Twitter/X archive (zip or folder) is :mod:`core.data.archive`'s; filters, de-duplication and the split
are :mod:`core.data.corpus`'s.
"""

from __future__ import annotations

import csv
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from core.data.archive_records import grailbird_rows, is_grailbird_header, tweet_of
from core.data.decoding import CSV_LINE_END, SPLITLINES_END, Progress, decoded_chunks, note_encoding, sniff, split_lines
from core.data.jsonstream import JsonStream, StreamDecodeError, iter_top_level
from core.data.report import CorpusError, LoadReport
from core.errors import hint

FORMATS = ("auto", "csv", "tweets-js", "json", "jsonl", "text")
TEXT_COLUMNS = ("text", "full_text", "tweet", "content")

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


INVALID_JSON = "not valid JSON at line {line} column {col} ({msg}); fix the file or use JSONL"
INVALID_TWEETS_JS = "tweets.js holds invalid JSON at line {line} ({msg}); re-export the archive"


def iter_json_records(chunks: Iterable[str], name: str, invalid: str = INVALID_JSON, *, assignment: bool = False) -> Iterator[object]:
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


def record_items(records: Iterable[object], name: str) -> Iterator[str]:
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


def jsonl_items(lines: Iterable[str], name: str) -> Iterator[str]:
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


def csv_items(lines: Iterable[str], name: str, column: str | None, tab_separated: bool) -> Iterator[str]:
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


def is_grailbird_csv(head: str) -> bool:
    """Does the text start with the header of a Grailbird (2012-2018 archive) ``tweets.csv``?"""
    try:
        first = next(csv.reader([head.split("\n", 1)[0]]), [])
    except csv.Error:
        return False
    return is_grailbird_header(first)


def grailbird_items(lines: Iterable[str], name: str) -> Iterator[str]:
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


def line_items(lines: Iterable[str]) -> Iterator[str]:
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


def iter_file_items(path: Path, fmt: str = "auto", column: str | None = None, report: LoadReport | None = None,
                    progress: Progress | None = None) -> Iterator[str]:
    """Raw items of one corpus file (not an archive) one at a time, the file read in chunks.

    CSV, JSONL and text stream: memory holds a chunk and a line, never the file. A JSON list or
    ``tweets.js`` is parsed a record at a time. ``report.format``/``encoding`` are set before the
    first item comes.
    """
    name = str(path)
    with open_regular_file(path, name) as fh:
        sniffed = sniff(fh, name)
        if sniffed is None or sniffed[1].blank:
            raise CorpusError(
                f"{name}: file is empty; give one tweet per line, a CSV with a 'text' column, a tweets.js or JSON/JSONL"
            )
        enc, facts = sniffed
        note_encoding(report, enc, facts)

        def whole_text() -> str:
            return "".join(decoded_chunks(fh, enc, name, progress))

        def lines(ends: re.Pattern[str]) -> Iterator[str]:
            return split_lines(decoded_chunks(fh, enc, name, progress), ends)

        if fmt == "auto":
            fmt = detect_format(path, facts.head)
            if fmt == "json?":  # looks like JSON, but an unknown extension: fall back to lines
                text = whole_text()
                try:
                    items, fmt = list(record_items(iter_json_records((text,), name), name)), "json"
                except CorpusError:
                    items, fmt = list(line_items(split_lines((text,), CSV_LINE_END))), "text"
                if report is not None:
                    report.format = fmt
                yield from items
                return
            if fmt == "jsonl?":  # the same for JSON lines: a first pass decides, then the lines stream
                try:
                    for _ in jsonl_items(split_lines(decoded_chunks(fh, enc, name), SPLITLINES_END), name):
                        pass
                    fmt = "jsonl"
                except CorpusError:
                    fmt = "text"
        if fmt == "csv" and column is None and is_grailbird_csv(facts.head):
            fmt = "grailbird csv"  # a pre-2019 archive's tweets.csv given alone: read as the archive reads it
        if report is not None:
            report.format = fmt
        if fmt == "grailbird csv":
            yield from grailbird_items(lines(CSV_LINE_END), name)
        elif fmt == "tweets-js":
            chunks = decoded_chunks(fh, enc, name, progress)
            yield from record_items(iter_json_records(chunks, name, INVALID_TWEETS_JS, assignment=True), name)
        elif fmt == "json":
            yield from record_items(iter_json_records(decoded_chunks(fh, enc, name, progress), name), name)
        elif fmt == "csv":
            yield from csv_items(lines(CSV_LINE_END), name, column, facts.tab_separated)
        elif fmt == "jsonl":
            yield from jsonl_items(lines(SPLITLINES_END), name)
        else:
            yield from line_items(lines(CSV_LINE_END))
