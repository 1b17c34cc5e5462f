"""Section ``archives`` of ``make bench`` (issue 16 §2-3, issue 20 §1.8): every export generation, and huge parts.

1. One synthetic account (made-up words, seeded; no real tweets) from 2012 to 2024: own tweets
   (140 characters at most before November 2017, up to 280 after), retweets, link-only tweets, and
   from 2023 long posts (kept whole in ``note-tweet.js``, cut in ``tweets.js``). Each generation's
   archive holds what its export date held, as Twitter/X wrote it: Grailbird (2018: ``tweets.csv`` and
   ``data/js/tweets/YYYY_MM.js``), ``data/tweet.js`` (2019), ``data/tweets.js`` + ``note-tweet.js``
   (2024). Each is loaded with the default settings; the table gives the kept share and every drop reason.
2. Peak RSS loading a ``tweets.js`` padded with whitespace (``huge_mb`` MB: a few tweets, the rest
   spaces), alone and as an unpacked archive's part, and the time to refuse a part of NUL bytes, each in
   a fresh interpreter (``python -m bench.archives CHILD_ARGS_JSON OUT_JSON``); every file is deleted after.
   ``$TWEETGEN_BENCH_CORE`` (a folder holding another ``core/``) runs the children against that code: how
   the "before" figures in bench/RESULTS.md were taken from the base commit.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.common import child_main, REPO, fmt_or_dash

WORDS = ("made", "up", "words", "for", "a", "bench", "account", "about", "trains", "tea", "rain", "the", "garden", "code",
         "weekend", "city", "river", "music", "book", "coffee", "today", "again", "really", "never", "always", "great", "slow")
LIMIT_CHANGED = datetime(2017, 11, 7, tzinfo=timezone.utc)
NOTES_FROM = datetime(2023, 2, 1, tzinfo=timezone.utc)
EXPORTS = {"grailbird (2018)": datetime(2018, 6, 1, tzinfo=timezone.utc), "tweet.js (2019)": datetime(2019, 9, 1, tzinfo=timezone.utc),
           "tweets.js + note-tweet.js (2024)": datetime(2024, 6, 1, tzinfo=timezone.utc)}


def _sentence(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while len(" ".join(words)) < length:
        words.append(rng.choice(WORDS))
    return " ".join(words)[:length].rstrip() or "words"


def account(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` made-up posts, oldest first, each with id, time, text and what kind it is."""
    rng = random.Random(seed)
    start, end = datetime(2012, 1, 1, tzinfo=timezone.utc), datetime(2024, 5, 1, tzinfo=timezone.utc)
    posts = []
    for i in range(n):
        when = start + (end - start) * (i / n) + timedelta(seconds=rng.randint(0, 3600))
        when = when.replace(microsecond=0)
        kind = rng.choices(["own", "retweet", "link"], [80, 16, 4])[0]
        if kind == "own" and when >= NOTES_FROM and rng.random() < 0.08:
            kind = "long"
        if kind == "retweet":
            text = f"RT @someone_{rng.randint(1, 50)}: " + _sentence(rng, rng.randint(40, 120))
        elif kind == "link":
            text = f"https://t.co/{rng.randint(10**9, 10**10)}"
        elif kind == "long":
            text = _sentence(rng, rng.randint(300, 1500)) + f" #{i}"
        else:
            cap = 140 if when < LIMIT_CHANGED else 280
            text = _sentence(rng, min(cap - 8, int(rng.triangular(10, cap, 60 if cap == 140 else 100)))) + f" #{i}"
        posts.append({"id": str(10**17 + i), "when": when, "kind": kind, "text": text, "rt": str(10**16 + i) if kind == "retweet" else ""})
    return posts


def _cut(text: str) -> str:
    return text[:270].rstrip() + "\u2026 https://t.co/cutcopy"


def _modern(p: dict[str, Any], wrapped: bool = True) -> dict[str, Any]:
    text = _cut(p["text"]) if p["kind"] == "long" else p["text"]
    tweet = {"id_str": p["id"], "created_at": p["when"].strftime("%a %b %d %H:%M:%S +0000 %Y"), "full_text": text, "lang": "en"}
    return {"tweet": tweet} if wrapped else tweet


def archive_files(generation: str, posts: list[dict[str, Any]]) -> dict[str, str]:
    """The files of ``generation``'s archive, holding the posts made before its export date."""
    held = [p for p in posts if p["when"] < EXPORTS[generation]]
    newest_first = held[::-1]
    if generation.startswith("grailbird"):
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(["tweet_id", "in_reply_to_status_id", "in_reply_to_user_id", "timestamp", "source", "text", "retweeted_status_id",
                    "retweeted_status_user_id", "retweeted_status_timestamp", "expanded_urls"])
        months: dict[str, list[dict[str, Any]]] = {}
        for p in newest_first:
            stamp = p["when"].strftime("%Y-%m-%d %H:%M:%S +0000")
            w.writerow([p["id"], "", "", stamp, "web", p["text"], p["rt"], "1" if p["rt"] else "", stamp if p["rt"] else "", ""])
            record = {"id_str": p["id"], "created_at": stamp, "text": p["text"]}
            if p["rt"]:
                record["retweeted_status"] = {"id_str": p["rt"], "text": p["text"][p["text"].index(":") + 2:]}
            months.setdefault(p["when"].strftime("%Y_%m"), []).append(record)
        files = {"tweets.csv": out.getvalue()}
        files.update({f"data/js/tweets/{ym}.js": f"Grailbird.data.tweets_{ym} = \n" + json.dumps(r, indent=1) for ym, r in months.items()})
        return files
    if generation.startswith("tweet.js"):
        return {"data/tweet.js": "window.YTD.tweet.part0 = " + json.dumps([_modern(p) for p in newest_first], indent=2)}
    notes = [{"noteTweet": {"noteTweetId": "n" + p["id"], "createdAt": p["when"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                            "core": {"text": p["text"], "urls": [], "mentions": [], "hashtags": [], "cashtags": [], "styletags": []}}}
             for p in newest_first if p["kind"] == "long"]
    return {"data/tweets.js": "window.YTD.tweets.part0 = " + json.dumps([_modern(p) for p in newest_first], indent=2),
            "data/note-tweet.js": "window.YTD.note_tweet.part0 = " + json.dumps(notes, indent=2)}


def generations(p: dict[str, Any], tmp: Path, log: Callable[[str], None]) -> dict[str, Any]:
    from core.data.corpus import load_corpus

    posts = account(p["archives_tweets"])
    out: dict[str, Any] = {"tweets": len(posts), "kinds": dict(Counter(x["kind"] for x in posts)), "rows": []}
    for generation in EXPORTS:
        files = archive_files(generation, posts)
        path = tmp / "archive.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, body in files.items():
                zf.writestr(name, body)
        log(f"archives: loading the {generation} archive ({len(files)} files)")
        texts, report = load_corpus(path)
        own = sum(1 for x in posts if x["when"] < EXPORTS[generation] and x["kind"] in ("own", "long"))
        out["rows"].append({"generation": generation, "read": report.read, "kept": report.kept, "own_posts": own,
                            "kept_of_own": report.kept / own if own else None, "dropped": dict(report.dropped)})
        path.unlink()
    return out


def _write_padded(path: Path, megabytes: int) -> None:
    """A tweets.js: three tweets, each after ``megabytes / 3`` MB of spaces."""
    pad = b" " * (1 << 20)
    with open(path, "wb") as fh:
        fh.write(b"window.YTD.tweets.part0 = [")
        for i in range(3):
            for _ in range(megabytes // 3):
                fh.write(pad)
            fh.write(json.dumps({"tweet": {"id_str": str(i), "full_text": f"made-up tweet {i}"}}).encode() + (b"," if i < 2 else b""))
        fh.write(b"]")


def huge_parts(p: dict[str, Any], tmp: Path, log: Callable[[str], None]) -> dict[str, Any]:
    mb = p["archives_huge_mb"]
    out: dict[str, Any] = {"megabytes": mb, "core": os.environ.get("TWEETGEN_BENCH_CORE") or "this checkout"}
    folder = tmp / "huge-archive"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    part = folder / "data" / "tweets.js"
    try:
        _write_padded(part, mb)
        log(f"archives: {part.stat().st_size / 2**20:,.0f} MB whitespace-padded tweets.js, alone and in a folder")
        out["alone"] = _run_child({"path": str(part)})
        out["folder"] = _run_child({"path": str(folder)})
        part.unlink()
        with open(part, "wb") as fh:  # NUL bytes: refused as binary
            zeros = bytes(1 << 20)
            for _ in range(mb):
                fh.write(zeros)
        log(f"archives: {mb} MB of NUL bytes as an archive's part")
        out["nul_folder"] = _run_child({"path": str(folder)})
    finally:
        part.unlink(missing_ok=True)
    return out


def section_archives(p: dict[str, Any], tmp: Path, log: Callable[[str], None]) -> dict[str, Any]:
    return {"generations": generations(p, tmp, log), "huge": huge_parts(p, tmp, log)}


def table_rows(a: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of the bench table for this section."""
    f = fmt_or_dash
    rows: list[tuple[str, str, str, str]] = []
    for r in a.get("generations", {}).get("rows", []):
        drops = ", ".join(f"{k} {v:,}" for k, v in sorted(r["dropped"].items()) if v)
        rows.append(("9 archives", f"{r['generation']}: kept / read, kept of own posts",
                     f"{r['kept']:,} / {r['read']:,}, {f(r['kept_of_own'], '.0%')}", drops))
    h = a.get("huge", {})
    for key, label in (("alone", "tweets.js alone"), ("folder", "tweets.js in a folder"), ("nul_folder", "NUL part in a folder")):
        r = h.get(key)
        if r:
            rows.append(("9 archives", f"{h.get('megabytes')} MB {label}: s / peak RSS MB (before loading)",
                         f"{f(r.get('load_s'), '.1f')} / {f(r.get('peak_rss_mb'), ',.0f')} ({f(r.get('rss_before_mb'), ',.0f')})",
                         (r.get("error") or f"{r.get('kept')} kept")[:60]))
    return rows


# ---------------------------------------------------------------- child (a fresh interpreter per measurement)


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, which (unlike ``ru_maxrss``) does not inherit the parent's peak at fork."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(args: dict[str, Any]) -> dict[str, Any]:
    from core.data.corpus import CorpusError, load_corpus

    out: dict[str, Any] = {"rss_before_mb": _peak_rss_mb()}
    t = time.perf_counter()
    try:
        texts, _ = load_corpus(Path(args["path"]))
        out["kept"] = len(texts)
    except CorpusError as exc:
        out["error"] = str(exc).split(": ", 1)[-1][:120]
    out["load_s"] = time.perf_counter() - t
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _run_child(args: dict[str, Any]) -> dict[str, Any]:
    out = Path(args["path"]).parent / "child.json" if Path(args["path"]).is_file() else Path(args["path"]) / "child.json"
    try:
        proc = subprocess.run([sys.executable, "-m", "bench.archives", json.dumps(args), str(out)], cwd=REPO,
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            return {"error": (proc.stderr.strip().splitlines() or ["child failed"])[-1][:200]}
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


if __name__ == "__main__":
    child_main(child)
