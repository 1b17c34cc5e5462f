"""Corpus reading: parsing, decoding, filtering, de-duplication and the train/validation split.

Batching the encoded texts lives in :mod:`core.batching`.

Readers understand four shapes of input, picked by content first and extension second:
a Twitter archive export (``tweets.js``; a whole zip or folder is read by :mod:`core.archive`),
JSON / JSONL with a ``text`` field, CSV with a ``text`` column (or the first column when
there is no header), and plain text with one item per line. Every failure is a :class:`CorpusError` whose message is one line that
names the file and says what to do.
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import os
import random
import re
import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core import defaults

FORMATS = ("auto", "csv", "tweets-js", "json", "jsonl", "text")
ARCHIVE_FORMATS = ("twitter archive", "tweets-js")  # Twitter/X's own exports: retweets dropped by default
TEXT_COLUMNS = ("text", "full_text", "tweet", "content")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v]+")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # from JSON "\ud83d" escapes; unprintable, so replaced
_BINARY_SAMPLE = 65536


class CorpusError(Exception):
    """A corpus problem a user can fix; ``str()`` is a single line naming the file."""


@dataclass
class FilterConfig:
    """The notebook's filters as defaults, all adjustable."""

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
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.kept:,} of {self.read:,} items kept from {self.path} ({self.format}, {self.encoding})"]
        if self.dropped:
            parts.append("dropped: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.dropped.items())))
        parts.extend(self.notes)
        return "; ".join(parts)


# ---------------------------------------------------------------- decoding


def decode_bytes(raw: bytes, name: str, report: LoadReport | None = None) -> str:
    """Bytes -> str: BOMs honoured, UTF-8 preferred, Latin-1 as a fallback, binary refused."""
    for bom, enc in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
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
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 27, 12)) + sample.count(127)
    if control > 0.05 * len(sample):
        raise CorpusError(
            f"{name}: looks like a binary file ({100 * control / len(sample):.0f}% control bytes), not text; "
            "give a CSV, tweets.js, JSON/JSONL or one-tweet-per-line text file"
        )
    try:
        return _finish_text(raw.decode("utf-8"), "utf-8", name, report)
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace") if _is_cp1252(raw) else raw.decode("latin-1")
        if report is not None:
            report.notes.append("not valid UTF-8: decoded as Latin-1/Windows-1252")
        return _finish_text(text, "latin-1", name, report)


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
    return not any(b in raw for b in (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"))


def _finish_text(text: str, enc: str, name: str, report: LoadReport | None) -> str:
    if report is not None:
        report.encoding = enc
    nul = text.count("\x00")
    if nul:
        text = text.replace("\x00", "")
        if report is not None:
            report.notes.append(f"removed {nul:,} NUL characters")
    return text


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


def _json_items(records: object, name: str) -> list[str]:
    if isinstance(records, dict):
        for key in ("tweets", "data", "items"):
            if isinstance(records.get(key), list):
                records = records[key]
                break
        else:
            records = [records]
    if not isinstance(records, list):
        raise CorpusError(f"{name}: JSON must be a list of objects with a 'text' field")
    items = [t for t in map(_text_of, records) if t is not None]
    if records and not items:
        raise CorpusError(f"{name}: no record has a 'text' (or 'full_text') string field; each item needs one")
    return items


def _unusable_json(where: str, exc: BaseException) -> CorpusError:
    """Valid-looking JSON that ``json`` still refuses: nesting too deep, an integer of thousands of digits."""
    if isinstance(exc, RecursionError):
        why = "arrays or objects nested too deeply"
    else:
        why = str(exc).split(";")[0]
    return CorpusError(f"{where}: JSON that cannot be read as tweets ({why}); give objects with a 'text' string field")


def read_json(text: str, name: str) -> list[str]:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{name}: not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); fix the file or use JSONL") from None
    except (RecursionError, ValueError) as exc:
        raise _unusable_json(name, exc) from None
    return _json_items(records, name)


def read_tweets_js(text: str, name: str) -> list[str]:
    """A Twitter archive's ``data/tweets.js``: ``window.YTD.tweets.part0 = [ ... ]``."""
    start = text.find("=")
    if start < 0:
        raise CorpusError(f"{name}: not a Twitter archive tweets.js (no 'window.YTD... =' assignment)")
    body = text[start + 1 :].strip().rstrip(";")
    try:
        records = json.loads(body)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{name}: tweets.js holds invalid JSON at line {exc.lineno} ({exc.msg}); re-export the archive") from None
    except (RecursionError, ValueError) as exc:
        raise _unusable_json(name, exc) from None
    return _json_items(records, name)


def read_jsonl(text: str, name: str) -> list[str]:
    items: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
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
        items.append(value)
    return items


def read_csv(text: str, name: str, column: str | None = None) -> list[str]:
    """CSV with a ``text`` column; without a header, the first column is the text."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)  # a single huge field must not abort the whole read
    try:
        first_line = text.split("\n", 1)[0]
        dialect: type[csv.Dialect] | csv.Dialect = csv.excel
        if "\t" in first_line and "," not in first_line:
            dialect = csv.excel_tab
        rows = csv.reader(io.StringIO(text, newline=""), dialect)
        try:
            header = next(rows)
        except StopIteration:
            return []
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
                raise CorpusError(
                    f"{name}: CSV has no 'text' column (columns: {', '.join(header)}); "
                    "rename the tweet column to 'text' or pass --column NAME"
                )
            col = max(col, 0)
        items: list[str] = [] if has_header else [header[col]] if header else []
        try:
            for row in rows:
                if col < len(row):
                    items.append(row[col])
        except csv.Error as exc:
            raise CorpusError(f"{name}: unreadable CSV near line {rows.line_num} ({exc}); check the quoting") from None
        if has_header and not items:
            raise CorpusError(f"{name}: CSV has a header but no rows; add tweets below the header")
        return items
    finally:
        csv.field_size_limit(old_limit)


def _looks_like_header(cells: Sequence[str]) -> bool:
    return all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ .-]{0,40}", c.strip() or "?") for c in cells)


def read_lines(text: str) -> list[str]:
    """One item per line (LF, CRLF or CR-only endings); the newline that ends the last line does not make an empty item."""
    lines = _NEWLINES.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _read_regular_file(path: Path, name: str) -> bytes:
    """The bytes of a regular file. A FIFO, device or socket is refused: reading one can block forever
    (a pipe nobody writes) or never end (``/dev/zero``). Opened non-blocking and checked on the open
    descriptor, so nothing can be swapped in between the check and the read."""
    refused = f"{name}: not a regular file (a pipe, device or socket); save the corpus to a file and give that"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise CorpusError(refused)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise CorpusError(f"{name}: cannot read ({exc.strerror}); check permissions") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for something else since the check
            raise CorpusError(refused)
        try:
            return fh.read()
        except OSError as exc:
            raise CorpusError(f"{name}: cannot read ({exc.strerror}); check permissions") from None


def read_items(path: str | Path, fmt: str = "auto", column: str | None = None, report: LoadReport | None = None) -> list[str]:
    """Raw items of a corpus file, before cleaning and filtering."""
    path = Path(path)
    name = str(path)
    if fmt not in FORMATS:
        raise CorpusError(f"{name}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise CorpusError(f"{name}: no such file; check the path")
    from core import archive  # a Twitter/X archive: its zip, or the unpacked folder (refused there if it is not one)

    if path.is_dir() or (fmt in ("auto", "tweets-js") and archive.is_zip(path)):
        return archive.read_archive(path, report)
    raw = _read_regular_file(path, name)
    text = decode_bytes(raw, name, report)
    if not text.strip():
        raise CorpusError(
            f"{name}: file is empty; give one tweet per line, a CSV with a 'text' column, a tweets.js or JSON/JSONL"
        )
    if fmt == "auto":
        fmt = detect_format(path, text)
        if fmt.endswith("?"):  # looks like JSON, but an unknown extension: fall back to lines
            try:
                items = read_json(text, name) if fmt == "json?" else read_jsonl(text, name)
                fmt = fmt[:-1]
            except CorpusError:
                items, fmt = read_lines(text), "text"
            if report is not None:
                report.format = fmt
            return items
    if report is not None:
        report.format = fmt
    if fmt == "csv":
        return read_csv(text, name, column)
    if fmt == "tweets-js":
        return read_tweets_js(text, name)
    if fmt == "json":
        return read_json(text, name)
    if fmt == "jsonl":
        return read_jsonl(text, name)
    return read_lines(text)


# ---------------------------------------------------------------- cleaning


def clean_items(items: Sequence[str], cfg: FilterConfig, report: LoadReport) -> list[str]:
    """Unescape, normalise whitespace and apply the filters, counting every drop by reason."""
    kept: list[str] = []
    seen: set[str] = set()
    dropped = report.dropped
    drop_retweets = cfg.drop_retweets if cfg.drop_retweets is not None else report.format in ARCHIVE_FORMATS
    for item in items:
        report.read += 1
        if len(item) > 64 * cfg.max_len:  # far too long: skip the regex work on megabyte lines
            dropped["too_long"] += 1
            continue
        text = html.unescape(item)
        if _LONE_SURROGATE.search(text):
            text = _LONE_SURROGATE.sub("\ufffd", text)
        text = _NEWLINES.sub("\n" if cfg.keep_newlines else " ", text)
        text = _SPACES.sub(" ", text).strip()
        if not text:
            dropped["empty"] += 1
            continue
        if drop_retweets and text.startswith("RT @"):
            dropped["retweet"] += 1
            continue
        without_urls = _SPACES.sub(" ", _URL.sub("", text)).strip()
        if not without_urls:
            dropped["url_only"] += 1
            continue
        if cfg.strip_urls:
            text = without_urls
        if len(text) > cfg.max_len:
            dropped["too_long"] += 1
            continue
        if len(text) < cfg.min_len:
            dropped["too_short"] += 1
            continue
        if cfg.dedupe:
            if text in seen:
                dropped["duplicate"] += 1
                continue
            seen.add(text)
        kept.append(text)
    report.kept = len(kept)
    if cfg.drop_retweets is None and dropped["retweet"]:
        n = dropped["retweet"]
        report.notes.append(f"dropped {n:,} retweet{'s' if n != 1 else ''} (someone else's words; --keep-retweets to keep them)")
    return kept


def load_corpus(
    path: str | Path,
    cfg: FilterConfig | None = None,
    *,
    fmt: str = "auto",
    column: str | None = None,
) -> tuple[list[str], LoadReport]:
    """Read, clean and filter a corpus file; raises :class:`CorpusError` if nothing usable is left."""
    cfg = cfg or FilterConfig()
    report = LoadReport(path=str(path))
    items = read_items(path, fmt, column, report)
    texts = clean_items(items, cfg, report)
    if not texts:
        why = ", ".join(f"{k} {v:,}" for k, v in sorted(report.dropped.items())) or "no items"
        hint = f"; try --max-len {max(280, 2 * cfg.max_len)}" if report.dropped.get("too_long") else ""
        if cfg.drop_retweets is None and report.dropped.get("retweet"):
            hint += "; add --keep-retweets to train on retweets"
        raise CorpusError(f"{path}: no usable tweets: none of {report.read:,} items passed the filters ({why}){hint}")
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
        total.notes.extend(f"{Path(path).name}: {note}" for note in report.notes)
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
