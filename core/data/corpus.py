"""Loading a corpus: the items of each file or archive, cleaned, filtered and de-duplicated, and the
train/validation split.

Reading is done by smaller modules, each with one job: :mod:`core.data.decoding` (bytes -> text),
:mod:`core.data.readers` (CSV, JSON/JSONL, ``tweets.js``, plain text, picked by content first and
extension second), :mod:`core.data.archive` (a Twitter/X archive, zip or folder). Every failure is a
:class:`CorpusError` whose message is one line that names the file and says what to do. Batching the
encoded texts lives in :mod:`core.data.batching`.
"""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core import defaults
from core.errors import Hint, hint, prefixed
from core.data import archive
from core.data.archive_records import LongPostText, RetweetText
from core.data.decoding import Progress
from core.data.readers import FORMATS, iter_file_items
from core.data.report import CorpusError, LoadReport

__all__ = ["ARCHIVE_FORMATS", "CorpusError", "FilterConfig", "LoadReport", "clean_items", "iter_items", "load_corpora",
           "load_corpus", "read_items", "split_texts"]

ARCHIVE_FORMATS = ("twitter archive", "tweets-js", "grailbird csv")  # Twitter/X's own exports: retweets dropped by default
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v]+")
_NEWLINES = re.compile(r"\r\n|\r|\n")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # from JSON "\ud83d" escapes; unprintable, so replaced


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

    A Twitter/X archive (its zip, or the unpacked folder) is read by :mod:`core.data.archive`,
    any other file by :func:`core.data.readers.iter_file_items`. ``report.format``/``encoding``
    are set before the first item comes.
    """
    path = Path(path)
    name = str(path)
    if fmt not in FORMATS:
        raise CorpusError(f"{name}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise CorpusError(f"{name}: no such file; check the path")
    if path.is_dir() or (fmt in ("auto", "tweets-js") and archive.is_zip(path)):
        yield from archive.iter_archive(path, report)
        return
    yield from iter_file_items(path, fmt, column, report, progress)


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
