"""Twitter/X archives as people download them: the ``.zip`` Twitter/X sends, or that zip unpacked.

An archive keeps the account's tweets in ``data/tweets.js`` (``window.YTD.tweets.part0 = [...]``)
and, for large accounts, ``data/tweets-part1.js``, ``data/tweets-part2.js`` and so on; older
archives name them ``data/tweet.js`` (``window.YTD.tweet.part0``). Every part is read, in part
order (part10 after part9), and the texts are returned; everything else in the archive (media,
likes, messages) is never opened.

A zip is untrusted input, so it is read in memory only (nothing is extracted, and member names
are matched, never used as paths), and the bytes decompressed are bounded: by the sizes the zip
declares before anything is decompressed, and again by the bytes actually produced, since
headers can lie. Every refusal is one :class:`~core.corpus.CorpusError` line naming the file.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.corpus import CorpusError, LoadReport, decode_bytes, open_regular_file, read_tweets_js

ARCHIVE_FORMAT = "twitter archive"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
# data/tweets.js, data/tweets-part1.js ...; data/tweet.js, data/tweet-part1.js in older archives.
# deleted-tweets.js, note-tweet.js, twitter-circle-tweet.js, tweet-headers.js do not match.
_PART = re.compile(r"tweets?(?:-part(\d{1,6}))?\.js", re.IGNORECASE)
EXPECTED = "data/tweets.js (and data/tweets-part1.js ... for large accounts) or the older data/tweet.js"
_CHUNK = 1 << 20
try:  # Python builds without lzma still read deflated zips, which is what Twitter/X sends
    from lzma import LZMAError as _LZMAError
except ImportError:  # pragma: no cover
    _LZMAError = zlib.error  # type: ignore[misc,assignment]
# what opening a damaged zip or decompressing a damaged member raises (RuntimeError: encrypted; NotImplementedError: Deflate64 and the like)
_DAMAGED = (zipfile.BadZipFile, zlib.error, _LZMAError, EOFError, OSError, ValueError, RuntimeError, NotImplementedError)


@dataclass(frozen=True)
class ArchiveLimits:
    """How much an archive may make tweetgen decompress and hold.

    ``max_bytes`` bounds the tweets parts together, uncompressed (a real account with a few hundred
    thousand tweets has a few hundred MB of them). ``max_ratio`` bounds each member's uncompressed
    size over its compressed size: JSON compresses about 10-20 times, a zip bomb thousands of times.
    Members under ``ratio_floor`` bytes are not ratio-checked (tiny files compress oddly, and are
    harmless)."""

    max_bytes: int = 2 << 30
    max_ratio: int = 200
    ratio_floor: int = 1 << 20


DEFAULT_LIMITS = ArchiveLimits()


def part_number(name: str) -> int | None:
    """The part number of a tweets file name (``tweets.js`` is part 0), or None if it is not one."""
    match = _PART.fullmatch(PurePosixPath(name).name)
    if match is None:
        return None
    return int(match.group(1) or 0)


def tweet_parts(names: Iterable[str]) -> list[str]:
    """The tweets parts among archive member names, in reading order.

    Parts are taken from one folder: the shallowest ``data`` folder that holds any, else the
    shallowest folder that does. So a zip of the unpacked folder (``twitter-2024-01-01/data/tweets.js``)
    works too, and a stray copy elsewhere in the zip is not read twice. Ordered by part number, numerically: ``tweets-part10.js`` after ``tweets-part9.js``."""
    found = [(str(PurePosixPath(n).parent), n) for n in names if not n.endswith("/") and part_number(n) is not None]
    if not found:
        return []
    folders = {folder for folder, _ in found}
    home = min(folders, key=lambda f: (0 if PurePosixPath(f).name.lower() == "data" else 1, len(PurePosixPath(f).parts), f))
    chosen = [n for folder, n in found if folder == home]
    return sorted(chosen, key=lambda n: (part_number(n), n))


def is_zip(path: Path) -> bool:
    """A ``.zip`` name, or a file that starts as a zip does (content first, as for the other formats)."""
    if path.suffix.lower() == ".zip":
        return True
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # never open a FIFO to sniff it: that can block forever
            return False
        with _open_regular(path, str(path)) as fh:
            return fh.read(4) in (ZIP_MAGIC, EMPTY_ZIP_MAGIC)
    except (OSError, CorpusError):
        return False


def folder_parts(folder: Path) -> list[Path]:
    """The tweets parts of an unpacked archive: in ``FOLDER/data/``, or ``FOLDER`` itself is ``data/``."""
    for where in (folder / "data", folder):
        try:
            names = [p.name for p in where.iterdir()] if where.is_dir() else []
        except OSError:
            names = []
        parts = tweet_parts(names)
        if parts:
            return [where / n for n in parts]
    return []


def read_archive(path: str | Path, report: LoadReport | None = None, limits: ArchiveLimits | None = None) -> list[str]:
    """The tweet texts of every tweets part of an archive zip or unpacked archive folder, in part order."""
    path = Path(path)
    limits = limits or DEFAULT_LIMITS
    if path.is_dir():
        texts, parts = _read_folder(path, report, limits)
    else:
        texts, parts = _read_zip(path, report, limits)
    if report is not None:
        report.format = ARCHIVE_FORMAT
        shown = ", ".join(parts) if len(parts) <= 3 else f"{parts[0]}, ..., {parts[-1]}"
        report.notes.append(f"read {len(parts)} tweets part{'s' if len(parts) != 1 else ''} ({shown})")
    return texts


# ---------------------------------------------------------------- zip


def _read_zip(path: Path, report: LoadReport | None, limits: ArchiveLimits) -> tuple[list[str], list[str]]:
    name = str(path)
    with _open_regular(path, name) as fh:
        try:
            zf = zipfile.ZipFile(fh)
        except (*_DAMAGED, zipfile.LargeZipFile, struct.error) as exc:  # NotImplementedError: "zip file version 25.5"
            raise CorpusError(f"{name}: not a readable zip ({_why(exc)}); download the archive again") from None
        with zf:
            infos = {info.filename: info for info in zf.infolist()}
            parts = tweet_parts(infos)
            if not parts:
                raise CorpusError(f"{name}: no tweets in this zip ({len(infos):,} file{'s' if len(infos) != 1 else ''}, none of them {EXPECTED}); "
                                  "give the archive Twitter/X sent you")
            chosen = [infos[p] for p in parts]
            _check_declared(name, chosen, limits)
            texts: list[str] = []
            budget = limits.max_bytes
            for info in chosen:
                where = f"{name}:{info.filename}"
                raw = _read_member(zf, info, where, budget, limits)
                budget -= len(raw)
                texts.extend(read_tweets_js(decode_bytes(raw, where, report), where))
            return texts, parts


def _check_declared(name: str, infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    """Refuse from the zip's own directory, before decompressing anything."""
    total = 0
    for info in infos:
        where = f"{name}:{info.filename}"
        if info.flag_bits & 0x1:
            raise CorpusError(f"{where}: is encrypted (password-protected); zip the archive again without a password")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise CorpusError(
                f"{where}: would expand {info.file_size / max(info.compress_size, 1):,.0f} times "
                f"(over {limits.max_ratio:,}), which only a zip bomb does; refused without reading it"
            )
        total += info.file_size
    if total > limits.max_bytes:
        raise CorpusError(
            f"{name}: its tweets parts hold {_size(total)} uncompressed, over the {_size(limits.max_bytes)} limit; "
            "refused without reading them"
        )


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, budget: int, limits: ArchiveLimits) -> bytes:
    """One member's bytes, counted as they are decompressed: past ``budget``, past what its header declared,
    or past the ratio limit, reading stops and the archive is refused."""
    allowed = min(budget, info.file_size)
    ratio_cap = max(limits.ratio_floor, limits.max_ratio * max(info.compress_size, 1))
    chunks: list[bytes] = []
    got = 0
    try:
        with zf.open(info) as member:
            while True:
                chunk = member.read(_CHUNK)
                if not chunk:
                    break
                got += len(chunk)
                if got > budget:
                    raise CorpusError(f"{where}: decompresses past the {_size(limits.max_bytes)} limit for tweets; refused")
                if got > allowed or got > ratio_cap:
                    raise CorpusError(f"{where}: decompresses to more than its header says ({_size(info.file_size)}), "
                                      "which only a damaged zip or a zip bomb does; refused")
                chunks.append(chunk)
    except CorpusError:
        raise
    except _DAMAGED as exc:
        raise CorpusError(f"{where}: cannot be read from the zip ({_why(exc)}); download the archive again") from None
    except (MemoryError, RecursionError):
        raise CorpusError(f"{where}: too large to read into memory; refused") from None
    return b"".join(chunks)


def _open_regular(path: Path, name: str) -> BinaryIO:
    """The zip or a part, opened for reading; a FIFO, device or socket is refused (corpus.open_regular_file)."""
    return open_regular_file(path, name, "archive")


# ---------------------------------------------------------------- unpacked folder


def _read_folder(folder: Path, report: LoadReport | None, limits: ArchiveLimits) -> tuple[list[str], list[str]]:
    name = str(folder)
    files = folder_parts(folder)
    if not files:
        raise CorpusError(f"{name}: is a directory, not an unpacked Twitter/X archive (no {EXPECTED} in it); "
                          "give a corpus file, an archive .zip or its unpacked folder")
    texts: list[str] = []
    budget = limits.max_bytes
    shown: list[str] = []
    for file in files:
        where = str(file)
        raw = _read_file_bounded(file, where, budget, limits)
        budget -= len(raw)
        texts.extend(read_tweets_js(decode_bytes(raw, where, report), where))
        shown.append(str(file.relative_to(folder)))
    return texts, shown


def _read_file_bounded(file: Path, where: str, budget: int, limits: ArchiveLimits) -> bytes:
    """A tweets part of a folder: a regular file, and no more than what is left of the byte limit."""
    with _open_regular(file, where) as fh:
        try:
            raw = fh.read(budget + 1)
        except OSError as exc:
            raise CorpusError(f"{where}: cannot read ({exc.strerror}); check permissions") from None
    if len(raw) > budget:
        raise CorpusError(f"{where}: the tweets parts hold over {_size(limits.max_bytes)}, the limit; refused")
    return raw


# ---------------------------------------------------------------- helpers


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} bytes"
