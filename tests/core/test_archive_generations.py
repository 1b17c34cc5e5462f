"""Every Twitter/X export generation, long posts whole, and archives in bounded memory (issue 16 §2-3, issue 20 §1.6, §1.8).

One made-up account (every text here is written by this test) is exported the way each generation
wrote it: Grailbird's ``tweets.csv`` and ``data/js/tweets/YYYY_MM.js`` (2012-2018), the 2019-2020
``data/tweet.js`` (with and without the ``"tweet"`` wrapper), and today's ``data/tweets.js`` with
``data/note-tweet.js``, each as a zip and as an unpacked folder. Every one must give the same corpus.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.data import archive
from core.data.archive import ArchiveLimits, read_archive
from core.data.archive_records import LongPosts, Note, Tweet, cut_key, parse_time
from core.data.corpus import CorpusError, FilterConfig, LoadReport, load_corpus

START = datetime(2017, 3, 30, 9, 15, 0, tzinfo=timezone.utc)


def _account() -> list[dict[str, object]]:
    """Own tweets and retweets, a few a month from March to May 2017, newest first (as exports list them)."""
    tweets = []
    for i in range(12):
        when = START + timedelta(days=5 * i, minutes=7 * i)
        if i % 4 == 3:
            tweets.append({"id": str(850_000_000_000_000_000 + i), "when": when, "retweet_of": str(840_000_000_000_000_000 + i),
                           "text": f"RT @another_account: words of somebody else, number {i}"})
        else:
            tweets.append({"id": str(850_000_000_000_000_000 + i), "when": when, "retweet_of": None,
                           "text": f"test tweet {i} of a made-up account &amp; its made-up day"})
    return sorted(tweets, key=lambda t: t["when"], reverse=True)  # type: ignore[arg-type,return-value]


ACCOUNT = _account()
OWN = sorted(t["text"].replace("&amp;", "&") for t in ACCOUNT if not t["retweet_of"])  # type: ignore[union-attr]
RETWEETS = sum(1 for t in ACCOUNT if t["retweet_of"])


def modern_time(when: datetime) -> str:
    return when.strftime("%a %b %d %H:%M:%S +0000 %Y")


def modern_record(t: dict[str, object], wrapped: bool = True) -> dict[str, object]:
    inner = {"id_str": t["id"], "id": t["id"], "created_at": modern_time(t["when"]),  # type: ignore[arg-type]
             "full_text": t["text"], "retweeted": False, "favorite_count": "0", "lang": "en"}
    return {"tweet": inner} if wrapped else inner


def tweets_js(key: str, part: int, records: list[dict[str, object]]) -> str:
    return f"window.YTD.{key}.part{part} = " + json.dumps(records, indent=2)


def grailbird_record(t: dict[str, object]) -> dict[str, object]:
    record: dict[str, object] = {"source": "web", "id_str": t["id"], "text": t["text"], "id": int(t["id"]),  # type: ignore[arg-type]
                                 "created_at": t["when"].strftime("%Y-%m-%d %H:%M:%S +0000"),  # type: ignore[union-attr]
                                 "user": {"name": "Made Up", "screen_name": "made_up"}, "entities": {"urls": []}}
    if t["retweet_of"]:
        record["retweeted_status"] = {"id_str": t["retweet_of"], "text": "words of somebody else", "user": {"screen_name": "another_account"}}
    return record


def grailbird_months(tweets: list[dict[str, object]]) -> dict[str, str]:
    months: dict[str, list[dict[str, object]]] = {}
    for t in tweets:
        months.setdefault(t["when"].strftime("%Y_%m"), []).append(grailbird_record(t))  # type: ignore[union-attr]
    return {f"data/js/tweets/{ym}.js": f"Grailbird.data.tweets_{ym} = \n" + json.dumps(records, indent=1) for ym, records in months.items()}


def grailbird_csv(tweets: list[dict[str, object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["tweet_id", "in_reply_to_status_id", "in_reply_to_user_id", "timestamp", "source", "text",
                     "retweeted_status_id", "retweeted_status_user_id", "retweeted_status_timestamp", "expanded_urls"])
    for t in tweets:
        rt = t["retweet_of"] or ""
        writer.writerow([t["id"], "", "", t["when"].strftime("%Y-%m-%d %H:%M:%S +0000"), "web", t["text"],  # type: ignore[union-attr]
                         rt, "12345" if rt else "", "2017-01-01 00:00:00 +0000" if rt else "", ""])
    return out.getvalue()


GRAILBIRD_EXTRA = {"index.html": "<html>your archive</html>", "data/js/tweet_index.js": "var tweet_index = []",
                   "data/js/user_details.js": "var user_details = {}", "css/application.min.css": "body {}"}


def layout(generation: str, tweets: list[dict[str, object]] = ACCOUNT) -> dict[str, str]:
    """The files of an archive of ``generation`` holding ``tweets``."""
    if generation == "2020-tweets-js":
        return {"data/tweets.js": tweets_js("tweets", 0, [modern_record(t) for t in tweets]),
                "data/note-tweet.js": "window.YTD.note_tweet.part0 = [ ]", "data/account.js": "window.YTD.account.part0 = []"}
    if generation == "2020-tweets-parts":
        half = len(tweets) // 2
        return {"data/tweets.js": tweets_js("tweets", 0, [modern_record(t) for t in tweets[:half]]),
                "data/tweets-part1.js": tweets_js("tweets", 1, [modern_record(t) for t in tweets[half:]])}
    if generation == "2019-tweet-js":
        return {"data/tweet.js": tweets_js("tweet", 0, [modern_record(t) for t in tweets])}
    if generation == "2019-tweet-js-bare":
        return {"data/tweet.js": tweets_js("tweet", 0, [modern_record(t, wrapped=False) for t in tweets])}
    if generation == "grailbird-csv":
        return {"tweets.csv": grailbird_csv(tweets), **GRAILBIRD_EXTRA}
    if generation == "grailbird-js":
        return {**grailbird_months(tweets), **GRAILBIRD_EXTRA}
    if generation == "grailbird-both":
        return {"tweets.csv": grailbird_csv(tweets), **grailbird_months(tweets), **GRAILBIRD_EXTRA}
    raise AssertionError(generation)


GENERATIONS = ("2020-tweets-js", "2020-tweets-parts", "2019-tweet-js", "2019-tweet-js-bare", "grailbird-csv", "grailbird-js", "grailbird-both")


def write(tmp: Path, files: dict[str, str | bytes], form: str, name: str = "archive") -> Path:
    """The archive as a zip or as an unpacked folder."""
    if form == "zip":
        path = tmp / f"{name}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, body in files.items():
                zf.writestr(member, body)
        return path
    root = tmp / name
    for member, body in files.items():
        (root / member).parent.mkdir(parents=True, exist_ok=True)
        (root / member).write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return root


# ---------------------------------------------------------------- every generation, the same corpus


@pytest.mark.parametrize("form", ["zip", "folder"])
@pytest.mark.parametrize("generation", GENERATIONS)
def test_every_generation_gives_the_same_corpus(tmp_path: Path, generation: str, form: str) -> None:
    path = write(tmp_path, layout(generation), form)
    texts, report = load_corpus(path)
    assert sorted(texts) == OWN
    assert report.format == "twitter archive"
    assert report.read == len(ACCOUNT)  # each tweet once, even where tweets.csv and the monthly files both hold it
    assert report.dropped["retweet"] == RETWEETS and report.dropped["duplicate"] == 0
    assert f"dropped {RETWEETS} retweets (someone else's words; --keep-retweets to keep them)" in report.summary()
    kept, _ = load_corpus(path, FilterConfig(drop_retweets=False))
    assert len(kept) == len(ACCOUNT)


def test_grailbird_reads_tweets_csv_and_the_monthly_files_once_each(tmp_path: Path) -> None:
    """Both present: every tweet id once; what is in only one of them still comes (a month the CSV lacks)."""
    files = layout("grailbird-both")
    files["tweets.csv"] = grailbird_csv(ACCOUNT[:-2])  # the two oldest only in the monthly files
    texts, report = load_corpus(write(tmp_path, files, "zip"))
    assert sorted(texts) == OWN and report.read == len(ACCOUNT)
    summary = report.summary()
    assert "read 3 monthly files (data/js/tweets/2017_03.js, data/js/tweets/2017_04.js, data/js/tweets/2017_05.js)" in summary
    assert "read tweets.csv" in summary and f"{len(ACCOUNT) - 2} tweets found in more than one file (the same tweet id) read once" in summary


def test_a_zip_of_the_unpacked_grailbird_folder(tmp_path: Path) -> None:
    files = {f"tweets-2017/{k}": v for k, v in layout("grailbird-both").items()}
    texts, report = load_corpus(write(tmp_path, files, "zip"))
    assert sorted(texts) == OWN and report.read == len(ACCOUNT)


@pytest.mark.parametrize("generation", ["grailbird-csv", "grailbird-js"])
def test_retweets_are_recognised_by_the_data_not_only_by_rt(tmp_path: Path, generation: str) -> None:
    """A Grailbird retweet whose text does not start "RT @": ``retweeted_status`` / ``retweeted_status_id`` say it."""
    tweets = [dict(t, text=f"quoted words of somebody else {i}") if t["retweet_of"] else t for i, t in enumerate(ACCOUNT)]
    path = write(tmp_path, layout(generation, tweets), "zip")
    texts, report = load_corpus(path)
    assert sorted(texts) == OWN and report.dropped["retweet"] == RETWEETS
    kept, _ = load_corpus(path, FilterConfig(drop_retweets=False))
    assert len(kept) == len(ACCOUNT)
    forced, _ = load_corpus(path, FilterConfig(drop_retweets=True))
    assert sorted(forced) == OWN


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_a_tweet_in_both_tweet_js_and_tweets_js_is_read_and_counted_once(tmp_path: Path, form: str) -> None:
    """People commit several exports into one folder: the 2019 tweet.js and a later tweets.js."""
    older, newer = ACCOUNT[4:], ACCOUNT  # the older export lacks the 4 newest tweets
    files = {"data/tweet.js": tweets_js("tweet", 0, [modern_record(t) for t in older]),
             "data/tweets.js": tweets_js("tweets", 0, [modern_record(t) for t in newer])}
    texts, report = load_corpus(write(tmp_path, files, form))
    assert sorted(texts) == OWN
    assert report.read == len(ACCOUNT) and report.dropped["duplicate"] == 0
    assert f"{len(older)} tweets found in more than one file (the same tweet id) read once" in report.summary()
    assert "read 2 tweets parts (data/tweets.js, data/tweet.js)" in report.summary()


# ---------------------------------------------------------------- long posts


LONG = ("This made-up long post goes on well past the old limit of two hundred and eighty characters, "
        "because a test needs a text that Twitter/X would have cut short in tweets.js. It mentions a link "
        "https://example.org/made-up/page and an ampersand & and keeps going, sentence after sentence, "
        "until the cut copy ends in an ellipsis and a t.co link while the whole text stays in note-tweet.js. "
        "The end of the long post is here.")
POSTED = datetime(2023, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def cut_copy(text: str) -> str:
    """The copy tweets.js keeps: the first 270 characters or so, links as t.co, then "…" and a t.co link."""
    shown = text.replace("https://example.org/made-up/page", "https://t.co/AbCdEf123").replace("&", "&amp;")
    return shown[:262].rstrip() + "\u2026 https://t.co/ZyXwVu987"


def note_record(text: str, when: datetime, note_id: str = "1652999999999999999") -> dict[str, object]:
    return {"noteTweet": {"noteTweetId": note_id, "updatedAt": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                          "lifecycle": {"value": "1", "name": "Valid"},
                          "core": {"styletags": [], "urls": [], "text": text, "mentions": [], "cashtags": [], "hashtags": []},
                          "createdAt": when.strftime("%Y-%m-%dT%H:%M:%S.") + "123Z"}}


def modern_with_notes(tweets: list[tuple[str, datetime]], notes: list[tuple[str, datetime]]) -> dict[str, str]:
    own = [t for t in ACCOUNT if not t["retweet_of"]]
    records = [modern_record(t) for t in own]
    records += [modern_record({"id": str(1_652_000_000_000_000_000 + i), "when": when, "text": text}) for i, (text, when) in enumerate(tweets)]
    return {"data/tweets.js": tweets_js("tweets", 0, records),
            "data/note-tweet.js": "window.YTD.note_tweet.part0 = " + json.dumps(
                [note_record(text, when, str(1_653_000_000_000_000_000 + i)) for i, (text, when) in enumerate(notes)], indent=2)}


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_a_long_post_is_trained_whole_when_the_limit_allows(tmp_path: Path, form: str) -> None:
    path = write(tmp_path, modern_with_notes([(cut_copy(LONG), POSTED)], [(LONG, POSTED)]), form)
    texts, report = load_corpus(path, FilterConfig(max_len=1000))
    assert LONG in texts and not any(t.endswith("https://t.co/ZyXwVu987") for t in texts)
    assert sorted(t for t in texts if t != LONG) == OWN
    assert report.read == len(OWN) + 1  # the long post is one tweet, not two
    assert "read 1 long post whole from data/note-tweet.js, 1 matched" in report.summary()


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_a_long_post_over_the_limit_is_dropped_whole_not_trained_cut(tmp_path: Path, form: str) -> None:
    path = write(tmp_path, modern_with_notes([(cut_copy(LONG), POSTED)], [(LONG, POSTED)]), form)
    texts, report = load_corpus(path, FilterConfig(max_len=280))
    assert sorted(texts) == OWN  # neither the whole post nor its cut copy
    assert report.dropped["long_post"] == 1 and report.dropped["too_long"] == 0
    assert (f"dropped 1 long post (over 280 characters whole; the copies cut short in tweets.js are not trained on; "
            f"try --max-len {len(LONG)} to keep them)") in report.summary()
    from tui.settings import APP_WORDS  # the app says its own flag

    assert f"try --max-tweet-len {len(LONG)} to keep them" in report.summary(APP_WORDS)


def test_long_posts_only_give_a_one_line_error_naming_the_option(tmp_path: Path) -> None:
    files = {"data/tweets.js": tweets_js("tweets", 0, [modern_record({"id": "1", "when": POSTED, "text": cut_copy(LONG)})]),
             "data/note-tweet.js": "window.YTD.note_tweet.part0 = " + json.dumps([note_record(LONG, POSTED)])}
    with pytest.raises(CorpusError) as info:
        load_corpus(write(tmp_path, files, "zip"), FilterConfig(max_len=280))
    assert "long_post 1" in str(info.value) and f"try --max-len {len(LONG)}" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("case", ["same second, other text", "same opening, a minute later", "same opening, a second later"])
def test_near_misses_are_not_matched(tmp_path: Path, case: str) -> None:
    """Time and text must both agree; a near miss leaves the tweet as it is and the note as a post of its own."""
    if case == "same second, other text":
        tweet = (cut_copy(LONG.replace("made-up long post", "different long post")), POSTED)
    elif case == "same opening, a minute later":
        tweet = (cut_copy(LONG), POSTED + timedelta(minutes=1))
    else:
        tweet = (cut_copy(LONG), POSTED + timedelta(seconds=1))
    path = write(tmp_path, modern_with_notes([tweet], [(LONG, POSTED)]), "zip")
    texts, report = load_corpus(path, FilterConfig(max_len=1000))
    assert LONG in texts  # the note, unmatched, is still the owner's post
    assert any(t.endswith("\u2026 https://t.co/ZyXwVu987") for t in texts)  # the tweet was not taken for its cut copy
    assert report.read == len(OWN) + 2 and "0 matched" in report.summary()


def test_two_long_posts_in_the_same_second_each_find_their_own(tmp_path: Path) -> None:
    other = LONG.replace("This made-up", "Another made-up")
    path = write(tmp_path, modern_with_notes([(cut_copy(other), POSTED), (cut_copy(LONG), POSTED)], [(LONG, POSTED), (other, POSTED)]), "zip")
    texts, report = load_corpus(path, FilterConfig(max_len=1000))
    assert LONG in texts and other in texts and report.read == len(OWN) + 2 and "2 matched" in report.summary()


def test_matching_rules() -> None:
    when = parse_time("Mon May 01 12:00:00 +0000 2023")
    assert when == parse_time("2023-05-01T12:00:00.999Z") == parse_time("2023-05-01 12:00:00 +0000") == int(POSTED.timestamp())
    assert parse_time("Mon May 01 14:00:00 +0200 2023") == when and parse_time("not a time") is None and parse_time(None) is None
    assert cut_key("words &amp; more\u2026 https://t.co/x") == "words & more"
    assert cut_key("see https://t.co/a and\u2026 https://t.co/b https://t.co/c ") == "see \ufffc and"
    posts = LongPosts([Note("short words & more, then the rest", "1", when)])
    assert posts.whole_text(Tweet("short words &amp; more\u2026 https://t.co/x", "9", when)) == "short words & more, then the rest"
    assert posts.whole_text(Tweet("short words &amp; more\u2026 https://t.co/x", "10", when)) is None  # each note once
    assert LongPosts([Note("abc def", "1", when)]).whole_text(Tweet("https://t.co/only-a-link", "9", when)) is None


def test_an_unmatched_note_counts_as_a_post_of_the_owner(tmp_path: Path) -> None:
    path = write(tmp_path, modern_with_notes([], [(LONG, POSTED)]), "folder")
    texts, report = load_corpus(path, FilterConfig(max_len=1000))
    assert LONG in texts and report.read == len(OWN) + 1


# ---------------------------------------------------------------- the whole-archive budget (issue 20 §1.6)


def small_members_bomb(path: Path, members: int) -> Path:
    """Tweets parts of exactly 1 MiB each: none is ratio-checked alone (the per-member check starts above 1 MiB)."""
    body = b"window.YTD.tweets.part0 = [" + b" " * ((1 << 20) - 28) + b"]"
    assert len(body) == 1 << 20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(members):
            zf.writestr(f"data/tweets-part{i}.js" if i else "data/tweets.js", body)
    return path


def test_many_small_members_are_refused_by_the_whole_archive_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = small_members_bomb(tmp_path / "bomb.zip", 40)  # 40 MiB from about 50 KB: 800 times
    opened: list[str] = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: opened.append(str(name)) or real_open(self, name, *a, **k))
    with pytest.raises(CorpusError) as info:
        read_archive(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "40 tweets files would expand to 40.0 MiB" in message and "zip bomb" in message and "refused without reading them" in message
    assert opened == []  # refused on the declared sizes, before decompressing anything


def test_the_whole_archive_budget_is_counted_while_decompressing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers that pass the declared check (here: the check skipped) are still stopped by the bytes produced."""
    path = small_members_bomb(tmp_path / "bomb.zip", 40)
    monkeypatch.setattr(archive, "_check_declared", lambda *a, **k: None)
    with pytest.raises(CorpusError, match=r"decompress to more than 100 times the zip's .* zip bomb"):
        read_archive(path)


def test_a_real_sized_archive_passes_the_whole_archive_budget(tmp_path: Path) -> None:
    """Below the 16 MiB floor any ratio passes (a small text-only archive compresses well)."""
    path = small_members_bomb(tmp_path / "fine.zip", 12)
    assert read_archive(path) == []
    with pytest.raises(CorpusError, match="zip bomb"):
        read_archive(path, limits=ArchiveLimits(total_floor=1 << 20))


# ---------------------------------------------------------------- huge parts in bounded memory (issue 20 §1.8)


def _padded_tweets_js(path: Path, pad: int) -> Path:
    """A tweets.js with ``pad`` bytes of whitespace before and between a few real records."""
    records = [json.dumps(modern_record(t)) for t in ACCOUNT[:3]]
    with open(path, "wb") as fh:
        fh.write(b"window.YTD.tweets.part0 = [")
        for i, record in enumerate(records):
            fh.write(b" " * (pad // 4) + b"\n")
            fh.write(record.encode() + (b"," if i < len(records) - 1 else b""))
        fh.write(b" " * (pad // 4) + b"]")
    return path


@pytest.mark.parametrize("form", ["tweets.js alone", "folder", "zip"])
def test_a_whitespace_padded_part_is_read_in_bounded_memory(tmp_path: Path, form: str) -> None:
    """24 MiB of whitespace: memory follows a chunk and a tweet, not the part (before: the part, decoded, and more)."""
    pad = 24 << 20
    if form == "tweets.js alone":
        path = _padded_tweets_js(tmp_path / "tweets.js", pad)
    else:
        (tmp_path / "a" / "data").mkdir(parents=True)
        part = _padded_tweets_js(tmp_path / "a" / "data" / "tweets.js", pad)
        path = tmp_path / "a"
        if form == "zip":
            path = tmp_path / "a.zip"
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:  # deflated, whitespace is refused as a bomb
                zf.write(part, "data/tweets.js")
    tracemalloc.start()
    try:
        texts, report = load_corpus(path, FilterConfig(drop_retweets=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(texts) == 3 and report.read == 3
    assert peak < 12 << 20, f"peak {peak / 2**20:.1f} MiB for a {pad >> 20} MiB part"


@pytest.mark.parametrize("form", ["folder", "zip"])
def test_a_part_of_nul_bytes_is_refused_from_its_first_chunk(tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "a" / "data"
    data.mkdir(parents=True)
    (data / "tweets.js").write_bytes(bytes(16 << 20))
    path = tmp_path / "a"
    if form == "zip":
        path = tmp_path / "a.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:  # deflated, NULs are refused as a bomb
            zf.write(data / "tweets.js", "data/tweets.js")
    read = [0]  # bytes taken from the part's file or decompressed from its member
    real_open, real_member_read = archive._open_regular, zipfile.ZipExtFile.read

    class Counted:
        def __init__(self, fh: io.BufferedReader) -> None:
            self.fh = fh

        def read(self, n: int = -1) -> bytes:
            chunk = self.fh.read(n)
            read[0] += len(chunk)
            return chunk

        def __getattr__(self, name: str) -> object:
            return getattr(self.fh, name)

        def __enter__(self) -> Counted:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

    def member_read(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        chunk = real_member_read(self, n)
        read[0] += len(chunk)
        return chunk

    if form == "folder":
        monkeypatch.setattr(archive, "_open_regular", lambda p, name: Counted(real_open(p, name)))
    else:
        monkeypatch.setattr(zipfile.ZipExtFile, "read", member_read)
    with pytest.raises(CorpusError, match="looks like a binary file"):
        read_archive(path, LoadReport(path=str(path)))
    assert read[0] <= 1 << 20, f"read {read[0]:,} bytes before refusing"


def test_a_grailbird_tweets_csv_given_alone_is_read_as_the_archive_reads_it(tmp_path: Path) -> None:
    """Like a lone tweets.js: ``archive/tweets.csv`` and ``archive/`` give the same corpus (retweets dropped, by the column)."""
    tweets = [dict(t, text=f"quoted words of somebody else {i}") if t["retweet_of"] else t for i, t in enumerate(ACCOUNT)]
    path = tmp_path / "tweets.csv"
    path.write_text(grailbird_csv(tweets), encoding="utf-8")
    texts, report = load_corpus(path)
    assert sorted(texts) == OWN and report.dropped["retweet"] == RETWEETS and report.format == "grailbird csv"
    assert len(load_corpus(path, FilterConfig(drop_retweets=False))[0]) == len(ACCOUNT)
    other = tmp_path / "other.csv"  # any other CSV keeps its retweets, as before
    other.write_text("text,id\nRT @a: quoted,1\nmine,2\n", encoding="utf-8")
    assert load_corpus(other)[0] == ["RT @a: quoted", "mine"]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32", "cp1252"])
@pytest.mark.parametrize("form", ["zip", "folder"])
def test_parts_in_other_encodings_decode_as_whole_files_do(tmp_path: Path, encoding: str, form: str) -> None:
    """Parts are decoded a chunk at a time, in two passes over the member: the same rules as a file's."""
    record = modern_record({"id": "1", "when": POSTED, "text": "caf\u00e9 \u2013 na\u00efve"})
    text = "window.YTD.tweets.part0 = " + json.dumps([record], ensure_ascii=False)  # the characters themselves, not \u escapes
    path = write(tmp_path, {"data/tweets.js": text.encode(encoding)}, form)
    report = LoadReport(path=str(path))
    assert read_archive(path, report) == ["caf\u00e9 \u2013 na\u00efve"]
    assert report.encoding == {"cp1252": "latin-1"}.get(encoding, encoding)


def test_train_on_a_grailbird_zip_with_a_long_post_report(tmp_path: Path) -> None:
    """``tweetgen train`` end to end: a pre-2019 zip trains, and a modern one's long post is reported with the option."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "1000"}  # the load report on one line, not wrapped by Rich
    common = ["--max-steps", "1", "--hidden", "8", "--embed", "8", "--batch-size", "4", "--val-every", "0"]
    old = write(tmp_path, layout("grailbird-both"), "zip", "tweets-2017")
    proc = subprocess.run([sys.executable, "-m", "core.cli.main", "train", str(old), *common, "--out", str(tmp_path / "r1")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(OWN)} of {len(ACCOUNT)} items kept" in proc.stderr and "twitter archive" in proc.stderr
    new = write(tmp_path, modern_with_notes([(cut_copy(LONG), POSTED)], [(LONG, POSTED)]), "zip", "twitter-2024")
    proc = subprocess.run([sys.executable, "-m", "core.cli.main", "train", str(new), *common, "--max-len", "280", "--out", str(tmp_path / "r2")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "dropped 1 long post (over 280 characters whole" in proc.stderr and f"try --max-len {len(LONG)} to keep them" in proc.stderr
