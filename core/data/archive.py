"""Twitter/X archives as people download them: the ``.zip`` Twitter/X sends, or that zip unpacked.

Every export generation loads (the tests build one of each, zip and folder):

====================  ===========================================================================
2020 on               ``data/tweets.js`` (``window.YTD.tweets.part0 = [...]``), ``data/tweets-part1.js`` ...
                      for large accounts, and long posts whole in ``data/note-tweet.js``
2019-2020             ``data/tweet.js`` (``window.YTD.tweet.part0``), records with or without a ``"tweet"`` wrapper
2012-2018 (Grailbird) ``tweets.csv`` at the root and/or ``data/js/tweets/YYYY_MM.js``
                      (``Grailbird.data.tweets_2013_01 = [...]``)
====================  ===========================================================================

Every file of those is read, each kind from one folder (the shallowest ``data`` folder that holds
it, so a zip of the unpacked folder works and a stray copy elsewhere is not read twice): tweets parts
in part order (part10 after part9; ``tweets*`` before an older ``tweet*`` beside it), then the monthly
files, then ``tweets.csv``. A tweet is read once **by its id**: a folder holding both ``tweet.js`` and
``tweets.js``, or an archive with both ``tweets.csv`` and the monthly files, gives each tweet once, and
the load report counts it once. Retweets are recognised by the data in every generation (see
:mod:`core.data.archive_records`), and long posts are matched to their cut copies there too. Everything
else in the archive (media, likes, messages, deleted tweets) is never opened.

A zip is untrusted input, so it is read in memory only (nothing is extracted, and member names
are matched, never used as paths), and the bytes decompressed are bounded (:class:`ArchiveLimits`):
each member against its own compressed size, all the files read together against a fixed limit and
against the zip's size, first on the sizes the zip declares, before anything is decompressed, and
again on the bytes actually produced, since headers can lie. Parts are decoded and parsed a chunk at a
time (:func:`core.data.decoding.text_chunks`, :mod:`core.data.jsonstream`), so memory follows the largest tweet,
not the largest part, and a binary part is refused from its first 64 KiB. Every refusal is one
:class:`~core.data.report.CorpusError` line naming the file.
"""

from __future__ import annotations

import csv
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from core.data.archive_records import LongPosts, LongPostText, Note, Tweet, grailbird_rows, note_of, tweet_of
from core.data.decoding import CSV_LINE_END, split_lines, text_chunks
from core.data.readers import iter_json_records, open_regular_file
from core.data.report import CorpusError, LoadReport

ARCHIVE_FORMAT = "twitter archive"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
# data/tweets.js, data/tweets-part1.js ...; data/tweet.js, data/tweet-part1.js in older archives.
# deleted-tweets.js, note-tweet.js, twitter-circle-tweet.js, tweet-headers.js do not match.
_PART = re.compile(r"tweets?(?:-part(\d{1,6}))?\.js", re.IGNORECASE)
_NOTE = re.compile(r"note-tweet(?:-part(\d{1,6}))?\.js", re.IGNORECASE)
_MONTH = re.compile(r"\d{4}_\d{2}\.js", re.IGNORECASE)  # Grailbird's data/js/tweets/2013_01.js
_CSV = "tweets.csv"
EXPECTED = ("data/tweets.js (and data/tweets-part1.js ... for large accounts), the older data/tweet.js, "
            "or before 2019 tweets.csv and data/js/tweets/YYYY_MM.js")
_INVALID_PART = "holds invalid JSON at line {line} ({msg}); re-export the archive"
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

    ``max_bytes`` bounds the files read (tweets parts, long posts, Grailbird files) together,
    uncompressed (a real account with a few hundred thousand tweets has a few hundred MB of them).
    ``max_ratio`` bounds each member's uncompressed size over its compressed size: JSON compresses
    about 10-20 times, a zip bomb thousands of times. Members under ``ratio_floor`` bytes are not
    ratio-checked on their own (tiny files compress oddly), so ``max_total_ratio`` bounds all the
    files read together against the size of the whole zip: 2,000 members of 1 MiB each in a 5 MB zip
    (400 times) are refused, while a real archive, whose zip also holds its media, expands a few
    times at most. Under ``total_floor`` bytes in all, the whole-archive ratio is not checked."""

    max_bytes: int = 2 << 30
    max_ratio: int = 200
    ratio_floor: int = 1 << 20
    max_total_ratio: int = 100
    total_floor: int = 16 << 20


DEFAULT_LIMITS = ArchiveLimits()


# ---------------------------------------------------------------- which files


def part_number(name: str) -> int | None:
    """The part number of a tweets file name (``tweets.js`` is part 0), or None if it is not one."""
    match = _PART.fullmatch(PurePosixPath(name).name)
    if match is None:
        return None
    return int(match.group(1) or 0)


def _home(found: list[tuple[str, str]]) -> str:
    """The folder to read from: the shallowest ``data`` folder, else the shallowest folder."""
    folders = {folder for folder, _ in found}
    return min(folders, key=lambda f: (0 if PurePosixPath(f).name.lower() == "data" else 1, len(PurePosixPath(f).parts), f))


def _one_folder(names: Iterable[str], keep: Callable[[str], bool]) -> list[str]:
    found = [(str(PurePosixPath(n).parent), n) for n in names if not n.endswith("/") and keep(n)]
    if not found:
        return []
    home = _home(found)
    return [n for folder, n in found if folder == home]


def tweet_parts(names: Iterable[str]) -> list[str]:
    """The tweets parts among archive member names, in reading order.

    Parts are taken from one folder: the shallowest ``data`` folder that holds any, else the
    shallowest folder that does. So a zip of the unpacked folder (``twitter-2024-01-01/data/tweets.js``)
    works too, and a stray copy elsewhere in the zip is not read twice. Ordered by part number,
    numerically (``tweets-part10.js`` after ``tweets-part9.js``), the newer ``tweets*`` parts before
    an older export's ``tweet*`` parts in the same folder (a tweet in both is read once, by id)."""
    chosen = _one_folder(names, lambda n: part_number(n) is not None)

    def order(n: str) -> tuple[int, int, str]:
        older = 0 if PurePosixPath(n).name.lower().startswith("tweets") else 1
        return older, part_number(n) or 0, n

    return sorted(chosen, key=order)


@dataclass
class Sources:
    """The files of an archive that hold the owner's posts, in reading order."""

    parts: list[str] = field(default_factory=list)  # data/tweets.js, data/tweets-part1.js ..., data/tweet.js
    months: list[str] = field(default_factory=list)  # Grailbird: data/js/tweets/2013_01.js ...
    csv: str | None = None  # Grailbird: tweets.csv at the root
    notes: list[str] = field(default_factory=list)  # long posts: data/note-tweet.js

    def all(self) -> list[str]:
        return self.parts + self.months + ([self.csv] if self.csv else []) + self.notes

    def __bool__(self) -> bool:
        return bool(self.parts or self.months or self.csv or self.notes)


def find_sources(names: Iterable[str]) -> Sources:
    """Which of an archive's member names (POSIX paths) hold tweets, for every export generation."""
    names = [n for n in names if not n.endswith("/")]
    parts = tweet_parts(names)
    note_names = [n for n in names if _NOTE.fullmatch(PurePosixPath(n).name)]
    if parts:  # the long posts beside the tweets they belong to
        beside = [n for n in note_names if str(PurePosixPath(n).parent) == str(PurePosixPath(parts[0]).parent)]
        note_names = beside or note_names
    notes = sorted(_one_folder(note_names, lambda n: True), key=lambda n: (int(_NOTE.fullmatch(PurePosixPath(n).name).group(1) or 0), n))  # type: ignore[union-attr]
    months = sorted(_one_folder(names, lambda n: bool(_MONTH.fullmatch(PurePosixPath(n).name))
                                and tuple(p.lower() for p in PurePosixPath(n).parent.parts[-2:]) == ("js", "tweets")))
    csvs = [n for n in names if PurePosixPath(n).name.lower() == _CSV]
    csv_name = None
    if months:  # the tweets.csv of the same archive: at the root that holds data/js/tweets
        root = PurePosixPath(months[0]).parent.parent.parent
        if root.name.lower() == "data":
            root = root.parent
        csv_name = next((n for n in csvs if PurePosixPath(n).parent == root), None)
    elif csvs:
        csv_name = min(csvs, key=lambda n: (len(PurePosixPath(n).parts), n))
    return Sources(parts, months, csv_name, notes)


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


# ---------------------------------------------------------------- reading


def read_archive(path: str | Path, report: LoadReport | None = None, limits: ArchiveLimits | None = None) -> list[str]:
    """The owner's tweet texts of an archive zip or unpacked archive folder, in reading order (all in a list)."""
    return list(iter_archive(path, report, limits))


def iter_archive(path: str | Path, report: LoadReport | None = None, limits: ArchiveLimits | None = None) -> Iterator[str]:
    """The owner's tweet texts of an archive zip or unpacked archive folder, one at a time.

    Each tweet comes once (by id). A long post matched to its cut copy comes as its whole text, a
    :class:`~core.data.archive_records.LongPostText` (as does a long post no tweet matched), and a tweet
    the data marks as a retweet as a :class:`~core.data.archive_records.RetweetText`: the cleaner decides."""
    path = Path(path)
    limits = limits or DEFAULT_LIMITS
    if report is not None:
        report.format = ARCHIVE_FORMAT
    with (_Folder(path, limits) if path.is_dir() else _Zip(path, limits)) as archive:
        yield from _tweets(archive, report)


class _Passes:
    """One file of an archive, read in passes (:func:`core.data.decoding.text_chunks` reads it twice: once to
    settle the encoding, then for the text), every pass counted against ``limit`` bytes."""

    def __init__(self, opener: Callable[[], IO[bytes]], where: str, size: int, limit: int,
                 over: Callable[[], CorpusError], damaged: str | None) -> None:
        self.size = size  # what decoding.decoded_chunks reports progress against
        self._opener, self._where, self._limit, self._over, self._damaged = opener, where, limit, over, damaged
        self._fh: IO[bytes] | None = None
        self._got = 0
        self.most = 0  # the bytes of the longest pass: what the file holds

    def seek(self, pos: int) -> None:
        self.close()
        self._fh, self._got = self._call(self._opener), 0
        while pos > 0:
            pos -= len(self.read(min(pos, _CHUNK))) or pos

    def read(self, n: int = -1) -> bytes:
        if self._fh is None:
            self.seek(0)
        data = self._call(lambda: self._fh.read(n))  # type: ignore[union-attr]
        self._got += len(data)
        self.most = max(self.most, self._got)
        if self._got > self._limit:
            raise self._over()
        return data

    def _call(self, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except CorpusError:
            raise
        except _DAMAGED as exc:
            if self._damaged is None:
                raise
            raise CorpusError(f"{self._where}: {self._damaged} ({_why(exc)}); download the archive again") from None
        except (MemoryError, RecursionError):
            raise CorpusError(f"{self._where}: too large to read into memory; refused") from None

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> _Passes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Archive:
    """What :func:`_tweets` needs of a zip or a folder: its member names, and each member as a stream."""

    name: str
    sources: Sources
    left: int  # bytes the files read may still hold

    def where(self, member: str) -> str:
        raise NotImplementedError

    def open(self, member: str) -> _Passes:
        raise NotImplementedError

    def __enter__(self) -> _Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _tweets(archive: _Archive, report: LoadReport | None) -> Iterator[str]:
    """Every generation's files of one archive: tweets once each by id, long posts matched, notes for the report."""
    sources = archive.sources
    long_posts = LongPosts(_notes(archive, sources.notes, report))
    seen: set[str] = set()
    repeated = 0
    files = [_json_tweets(archive, m, report) for m in sources.parts + sources.months]
    if sources.csv:
        files.append(_csv_tweets(archive, sources.csv, report))
    for tweets in files:  # each generator opens its file when its turn comes
        for tweet in tweets:
            if tweet.id is not None:
                if tweet.id in seen:
                    repeated += 1
                    continue
                seen.add(tweet.id)
            whole = long_posts.whole_text(tweet) if len(long_posts) else None
            yield LongPostText(whole) if whole is not None else tweet.item()
    for note in long_posts.unmatched():  # a long post no tweet matched is still the owner's
        yield LongPostText(note.text)
    if report is not None:
        report.notes.extend(_read_notes(sources, long_posts, repeated))


def _read_notes(sources: Sources, long_posts: LongPosts, repeated: int) -> list[str]:
    notes = []
    for names, what in ((sources.parts, "tweets part"), (sources.months, "monthly file")):
        if names:
            shown = ", ".join(names) if len(names) <= 3 else f"{names[0]}, ..., {names[-1]}"
            notes.append(f"read {len(names)} {what}{'s' if len(names) != 1 else ''} ({shown})")
    if sources.csv:
        notes.append(f"read {sources.csv}")
    if sources.notes:
        n = len(long_posts)
        notes.append(f"read {n:,} long post{'s' if n != 1 else ''} whole from {', '.join(sources.notes)}, "
                     f"{long_posts.matched:,} matched to their copies cut short in the tweets (same second, same opening)")
    if repeated:
        notes.append(f"{repeated:,} tweet{'s' if repeated != 1 else ''} found in more than one file (the same tweet id) read once")
    return notes


def _records(archive: _Archive, member: str, report: LoadReport | None) -> Iterator[object]:
    """The JSON records of one ``X = [...]`` file, one at a time; its bytes are taken from the budget once read."""
    where = archive.where(member)
    with archive.open(member) as fh:
        yield from iter_json_records(text_chunks(fh, where, report), where, _INVALID_PART, assignment=True)  # type: ignore[arg-type]
    archive.left -= fh.most


def _json_tweets(archive: _Archive, member: str, report: LoadReport | None) -> Iterator[Tweet]:
    records = 0
    found = 0
    for record in _records(archive, member, report):
        records += 1
        tweet = tweet_of(record)
        if tweet is not None:
            found += 1
            yield tweet
    if records and not found:
        raise CorpusError(f"{archive.where(member)}: no record has a 'text' (or 'full_text') string field; re-export the archive")


def _notes(archive: _Archive, members: list[str], report: LoadReport | None) -> list[Note]:
    notes: list[Note] = []
    ids: set[str] = set()
    for member in members:
        for record in _records(archive, member, report):
            note = note_of(record)
            if note is None or (note.id is not None and note.id in ids):
                continue
            if note.id is not None:
                ids.add(note.id)
            notes.append(note)
    return notes


def _csv_tweets(archive: _Archive, member: str, report: LoadReport | None) -> Iterator[Tweet]:
    """Grailbird's ``tweets.csv``, a row at a time."""
    where = archive.where(member)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)  # a single huge field must not abort the whole read
    rows = None
    try:
        with archive.open(member) as fh:
            rows = csv.reader(split_lines(text_chunks(fh, where, report), CSV_LINE_END))  # type: ignore[arg-type]
            yield from grailbird_rows(rows, where)
        archive.left -= fh.most
    except csv.Error as exc:
        raise CorpusError(f"{where}: unreadable CSV near line {rows.line_num if rows else 0} ({exc}); re-export the archive") from None
    finally:
        csv.field_size_limit(old_limit)


# ---------------------------------------------------------------- zip


class _Zip(_Archive):
    def __init__(self, path: Path, limits: ArchiveLimits) -> None:
        self.name = name = str(path)
        self.limits = limits
        self._fh = _open_regular(path, name)
        try:
            self._zf = zipfile.ZipFile(self._fh)
        except (*_DAMAGED, zipfile.LargeZipFile, struct.error) as exc:  # NotImplementedError: "zip file version 25.5"
            self._fh.close()
            raise CorpusError(f"{name}: not a readable zip ({_why(exc)}); download the archive again") from None
        try:
            self.infos = {info.filename: info for info in self._zf.infolist()}
            self.sources = find_sources(self.infos)
            if not self.sources:
                n = len(self.infos)
                raise CorpusError(f"{name}: no tweets in this zip ({n:,} file{'s' if n != 1 else ''}, none of them {EXPECTED}); "
                                  "give the archive Twitter/X sent you")
            zip_size = os.fstat(self._fh.fileno()).st_size
            self.ratio_cap = max(limits.total_floor, limits.max_total_ratio * zip_size)
            self.zip_size = zip_size
            _check_declared(name, [self.infos[m] for m in self.sources.all()], limits, zip_size)
            self.left = min(limits.max_bytes, self.ratio_cap)
        except BaseException:
            self.__exit__()
            raise

    def where(self, member: str) -> str:
        return f"{self.name}:{member}"

    def open(self, member: str) -> _Passes:
        info = self.infos[member]
        return _member_stream(self._zf, info, self.where(member), self.left, self.limits, self.ratio_cap, self.zip_size)

    def __exit__(self, *exc: object) -> None:
        self._zf.close()
        self._fh.close()


def _member_stream(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, budget: int, limits: ArchiveLimits,
                   total_cap: int | None = None, zip_size: int = 0) -> _Passes:
    """One member, counted as it is decompressed: past ``budget`` (what is left of the archive's limits),
    past what its header declared, or past the ratio limit, reading stops and the archive is refused."""
    ratio_cap = max(limits.ratio_floor, limits.max_ratio * max(info.compress_size, 1))
    allowed = min(budget, info.file_size, ratio_cap)

    def over() -> CorpusError:
        if got_past_budget():
            if total_cap is not None and total_cap < limits.max_bytes:
                return CorpusError(f"{where}: the archive's tweets decompress to more than {limits.max_total_ratio:,} times "
                                   f"the zip's {_size(zip_size)}, which only a zip bomb does; refused")
            return CorpusError(f"{where}: decompresses past the {_size(limits.max_bytes)} limit for tweets; refused")
        return CorpusError(f"{where}: decompresses to more than its header says ({_size(info.file_size)}), "
                           "which only a damaged zip or a zip bomb does; refused")

    def got_past_budget() -> bool:
        return stream.most > budget

    stream = _Passes(lambda: zf.open(info), where, info.file_size, allowed, over, "cannot be read from the zip")
    return stream


def _check_declared(name: str, infos: list[zipfile.ZipInfo], limits: ArchiveLimits, zip_size: int) -> None:
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
    if total > max(limits.total_floor, limits.max_total_ratio * zip_size):
        raise CorpusError(
            f"{name}: its {len(infos):,} tweets files would expand to {_size(total)} from a {_size(zip_size)} zip "
            f"({total / max(zip_size, 1):,.0f} times, over {limits.max_total_ratio:,}), which only a zip bomb does; "
            "refused without reading them"
        )


def _open_regular(path: Path, name: str) -> BinaryIO:
    """The zip or a part, opened for reading; a FIFO, device or socket is refused (readers.open_regular_file)."""
    return open_regular_file(path, name, "archive")


# ---------------------------------------------------------------- unpacked folder

_FOLDERS = ("", "data", "data/js/tweets", "js/tweets")  # where each generation keeps its files, from the root or data/


class _Folder(_Archive):
    def __init__(self, folder: Path, limits: ArchiveLimits) -> None:
        self.name = str(folder)
        self.folder = folder
        self.limits = limits
        names: list[str] = []
        for sub in _FOLDERS:
            where = folder / sub if sub else folder
            try:
                entries = list(where.iterdir()) if where.is_dir() else []
            except OSError:
                entries = []
            names += [f"{sub}/{e.name}" if sub else e.name for e in entries if not e.is_dir()]
        self.sources = find_sources(names)
        if not self.sources:
            raise CorpusError(f"{self.name}: is a directory, not an unpacked Twitter/X archive (no {EXPECTED} in it); "
                              "give a corpus file, an archive .zip or its unpacked folder")
        self.left = limits.max_bytes

    def where(self, member: str) -> str:
        return str(self.folder / member)

    def open(self, member: str) -> _Passes:
        path, where = self.folder / member, self.where(member)
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            raise CorpusError(f"{where}: cannot read ({exc.strerror}); check permissions") from None
        over = CorpusError(f"{where}: the tweets parts hold over {_size(self.limits.max_bytes)}, the limit; refused")
        if size > self.left:
            raise over
        return _Passes(lambda: _open_regular(path, where), where, size, self.left, lambda: over, None)


def folder_parts(folder: Path) -> list[Path]:
    """The files of an unpacked archive folder that hold the owner's posts, in reading order ([] when it is
    not one): what identifies the corpus of a folder (core.store.provenance fingerprints them)."""
    try:
        archive = _Folder(Path(folder), ArchiveLimits())
    except CorpusError:
        return []
    return [Path(folder) / member for member in archive.sources.all()]


# ---------------------------------------------------------------- helpers


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} bytes"
