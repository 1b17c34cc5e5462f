"""What one record of each Twitter/X export generation says, and long posts matched to their cut copies.

Three generations of records reach :mod:`core.data.archive`:

* modern ``data/tweets.js`` (2020 on) and 2019-2020 ``data/tweet.js``: ``{"tweet": {...}}``, or the bare
  ``{...}`` of the oldest ``tweet.js``; the text is ``full_text`` (or ``text``), the time ``created_at``
  (``"Mon May 01 12:00:00 +0000 2023"``);
* Grailbird (2012-2018) ``data/js/tweets/YYYY_MM.js``: bare objects with ``text``, ``created_at``
  (``"2013-01-31 23:59:59 +0000"``) and, for a retweet, a ``retweeted_status`` object;
* Grailbird ``tweets.csv``: a row with ``tweet_id``, ``timestamp``, ``text`` and ``retweeted_status_id``.

A retweet is recognised by the data: a ``retweeted_status`` object or a non-empty
``retweeted_status_id`` marks the item as :class:`RetweetText`, and the cleaner also drops any text
starting ``RT @`` (all that modern exports keep of a retweet). So every generation of one account gives
the same corpus.

**Long posts** (over 280 characters, "note tweets") are kept whole in ``data/note-tweet.js``
(``{"noteTweet": {"noteTweetId", "createdAt": "2023-05-01T12:00:00.000Z", "core": {"text"}}}``) and
appear in ``tweets.js`` cut: a prefix of the text, then "…" and a t.co link. Nothing links the two by
id, so :class:`LongPosts` matches them on two things at once:

1. the same creation second (``created_at`` of the tweet, ``createdAt`` of the note without its
   milliseconds), and
2. the cut text, without its trailing links and "…" (or "..."), is a non-empty prefix of the note's
   text, both normalised alike: HTML entities unescaped, every URL replaced by one placeholder (the cut
   copy holds t.co links where the note may hold the links as written), runs of whitespace made one space.

A note matches at most one tweet. A matched tweet becomes the note's whole text (a :class:`LongPostText`);
a note that no tweet matched is still one of the owner's posts and is read as one too. The cleaner keeps a
long post whole when the length limit allows it and otherwise drops it, counted as ``long_post``: never the
cut copy.
"""

from __future__ import annotations

import calendar
import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from core.data.report import CorpusError  # the one error type of corpus reading


class RetweetText(str):
    """An item the record marks as a retweet (``retweeted_status``, ``retweeted_status_id``), whatever its text."""


class LongPostText(str):
    """The whole text of a long post (a note tweet): kept when the length limit allows, else dropped as ``long_post``."""


@dataclass(frozen=True)
class Tweet:
    """One tweet of an archive: its text, and what the record says about it."""

    text: str
    id: str | None = None
    created_at: object = None  # as the record has it (parsed only when there are long posts to match: it costs)
    retweet: bool = False

    @property
    def created(self) -> int | None:
        """Seconds since the epoch, UTC."""
        return parse_time(self.created_at)

    def item(self) -> str:
        """The text as the cleaner takes it: marked when the data says it is a retweet."""
        return RetweetText(self.text) if self.retweet else self.text


@dataclass(frozen=True)
class Note:
    """One long post of ``data/note-tweet.js``."""

    text: str
    id: str | None
    created: int | None


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
# "Mon May 01 12:00:00 +0000 2023" (tweets.js), "2013-01-31 23:59:59 +0000" (Grailbird), "2023-05-01T12:00:00.000Z" (notes)
_TWITTER_TIME = re.compile(r"\w{3} (\w{3}) (\d{1,2}) (\d\d):(\d\d):(\d\d) ([+-]\d{4}) (\d{4})")
_ISO_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?")


def parse_time(value: object) -> int | None:
    """Seconds since the epoch (UTC, fractions dropped) of an archive's time stamp, or None if it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    value = value.strip()
    m = _TWITTER_TIME.fullmatch(value)
    if m:
        month = _MONTHS.get(m.group(1).lower())
        fields = (m.group(7), month, m.group(2), m.group(3), m.group(4), m.group(5))
        zone = m.group(6)
    else:
        m = _ISO_TIME.fullmatch(value)
        if m is None:
            return None
        fields = (m.group(1), m.group(2), m.group(3), m.group(4), m.group(5), m.group(6))
        zone = m.group(7) or "Z"
    try:
        year, mon, day, hour, minute, second = (int(f) for f in fields)  # type: ignore[arg-type]
        datetime(year, mon, day, hour, minute, second)  # a real date and time, or ValueError
    except (TypeError, ValueError):
        return None
    return calendar.timegm((year, mon, day, hour, minute, second)) - _offset(zone)


def _offset(zone: str) -> int:
    """Seconds east of UTC of "+0200", "-05:00" or "Z"."""
    if zone == "Z":
        return 0
    zone = zone.replace(":", "")
    sign = -1 if zone[0] == "-" else 1
    return sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)


def _id_of(obj: dict[str, object], *keys: str) -> str | None:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def tweet_of(record: object) -> Tweet | None:
    """The tweet in one JSON record of any generation (a bare string is a text alone); None if it has no text."""
    if isinstance(record, str):
        return Tweet(record)
    if not isinstance(record, dict):
        return None
    inner = record.get("tweet")
    if isinstance(inner, dict):
        record = inner
    text = next((v for v in (record.get("full_text"), record.get("text")) if isinstance(v, str)), None)
    if text is None:
        return None
    return Tweet(text, _id_of(record, "id_str", "id"), record.get("created_at"), retweet=isinstance(record.get("retweeted_status"), dict))


def note_of(record: object) -> Note | None:
    """The long post in one record of ``note-tweet.js``; None if it has no text."""
    if not isinstance(record, dict):
        return None
    inner = record.get("noteTweet")
    if isinstance(inner, dict):
        record = inner
    core = record.get("core")
    text = core.get("text") if isinstance(core, dict) else None
    if not isinstance(text, str):
        return None
    return Note(text, _id_of(record, "noteTweetId"), parse_time(record.get("createdAt")))


def is_grailbird_header(cells: Iterable[str]) -> bool:
    """The header row of a Grailbird ``tweets.csv``: it names ``tweet_id``, ``text`` and ``retweeted_status_id``."""
    names = {c.strip().lower() for c in cells}
    return {"tweet_id", "text", "retweeted_status_id"} <= names


def grailbird_rows(rows: Iterator[list[str]], where: str) -> Iterator[Tweet]:
    """The tweets of a Grailbird ``tweets.csv`` (``rows`` from ``csv.reader``, header first)."""
    header = next(rows, None)
    if header is None:
        return
    names = [h.strip().lower() for h in header]
    if "text" not in names:
        raise CorpusError(f"{where}: no 'text' column (columns: {', '.join(header)}); give the tweets.csv Twitter/X sent you")
    col = {n: names.index(n) for n in ("text", "tweet_id", "timestamp", "retweeted_status_id") if n in names}
    for row in rows:
        if col["text"] >= len(row):
            continue  # a short row, skipped as other CSVs' are

        def cell(name: str) -> str:
            i = col.get(name, len(row))
            return row[i].strip() if i < len(row) else ""

        yield Tweet(row[col["text"]], cell("tweet_id") or None, cell("timestamp") or None, retweet=bool(cell("retweeted_status_id")))


# ---------------------------------------------------------------- long posts and their cut copies

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_PLACEHOLDER = "\ufffc"


def match_key(text: str) -> str:
    """A text as compared for matching: entities unescaped, each URL one placeholder, whitespace one space."""
    text = _URL.sub(_PLACEHOLDER, html.unescape(text))
    return _WHITESPACE.sub(" ", text).strip()


def cut_key(text: str) -> str:
    """A cut copy's key: without the trailing links and "…" (or "...") Twitter/X adds where it cut."""
    text = html.unescape(text)
    while True:
        text = text.rstrip()
        if text.endswith("\u2026"):
            text = text[:-1]
            continue
        if text.endswith("..."):
            text = text[:-3]
            continue
        head, _, last = text.rpartition(" ") if " " in text else ("", "", text)
        if last and _URL.fullmatch(last.strip()):
            text = head
            continue
        return match_key(text)


class LongPosts:
    """The notes of an archive by creation second; :meth:`whole_text` finds a tweet's note, each note once."""

    def __init__(self, notes: Iterable[Note]) -> None:
        self.notes = list(notes)
        self._by_second: dict[int, list[int]] = {}
        for i, note in enumerate(self.notes):
            if note.created is not None:
                self._by_second.setdefault(note.created, []).append(i)
        self._keys: dict[int, str] = {}
        self._used: set[int] = set()

    def __len__(self) -> int:
        return len(self.notes)

    @property
    def matched(self) -> int:
        return len(self._used)

    def whole_text(self, tweet: Tweet) -> str | None:
        """The whole text of the long post ``tweet`` is a cut copy of, or None (see the module docstring)."""
        if not self._by_second:
            return None
        created = tweet.created
        if created is None or created not in self._by_second:
            return None
        key = cut_key(tweet.text)
        if not key:
            return None
        for i in self._by_second[created]:
            if i in self._used:
                continue
            if i not in self._keys:
                self._keys[i] = match_key(self.notes[i].text)
            if self._keys[i].startswith(key):
                self._used.add(i)
                return self.notes[i].text
        return None

    def unmatched(self) -> list[Note]:
        """The notes no tweet matched, in file order."""
        return [note for i, note in enumerate(self.notes) if i not in self._used]
