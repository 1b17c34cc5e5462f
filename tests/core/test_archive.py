"""Twitter/X archives as people download them (issue 11 section 4): the zip, or the unpacked folder.

Every archive here is built by the test (no real archive is in the repo): the current layout
(``data/tweets.js`` + ``data/tweets-partN.js``, ``window.YTD.tweets.partN``), the older one
(``data/tweet.js``, ``window.YTD.tweet.part0``), and broken or hostile zips, each of which must be
refused in one line.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.data import archive
from core.data.archive import ArchiveLimits, read_archive, tweet_parts
from core.cli.main import main
from core.data.corpus import CorpusError, FilterConfig, LoadReport, load_corpus

MINE = [f"my own tweet number {i}" for i in range(24)]


_IDS = itertools.count(1000)  # every tweet its own id, as in a real archive (a tweet is read once by id)


def part(n: int, texts: list[str], key: str = "tweets") -> str:
    """One tweets part as Twitter/X writes it (pretty-printed, records under a "tweet" key)."""
    records = [{"tweet": {"id_str": str(next(_IDS)), "retweeted": False, "full_text": t, "lang": "en"}} for t in texts]
    return f"window.YTD.{key}.part{n} = " + json.dumps(records, indent=2)


def build_zip(path: Path, members: dict[str, str | bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return path


def new_layout() -> dict[str, str | bytes]:
    """Parts written out of order, with part10 (lexically before part2) and files that are not tweets."""
    return {
        "Your archive.html": "<html></html>",
        "data/manifest.js": "window.__THAR_CONFIG = {}",
        "data/tweets-part10.js": part(10, ["part ten"]),
        "data/tweets.js": part(0, ["part zero", "RT @someone: their words, not mine"] + MINE[:8]),
        "data/tweets-part2.js": part(2, ["part two"] + MINE[8:16]),
        "data/tweets-part1.js": part(1, ["part one", "RT @other: also theirs"] + MINE[16:]),
        "data/deleted-tweets.js": part(0, ["deleted, not read"], "deleted_tweets"),
        "data/note-tweet.js": "window.YTD.note_tweet.part0 = []",
        "data/tweets_media/123-abc.jpg": b"\xff\xd8\xff" + bytes(200),
    }


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "1000"}  # the load report on one line, not wrapped by Rich
    return subprocess.run([sys.executable, "-m", "core.cli.main", *args], capture_output=True, text=True, timeout=300, env=env)


def assert_one_line(stderr: str, *fragments: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def refused(path: Path, *fragments: str, limits: ArchiveLimits | None = None) -> str:
    """read_archive's CorpusError: one line that names the file, with each fragment in it."""
    with pytest.raises(CorpusError) as info:
        read_archive(path, limits=limits)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def patch_both_headers(path: Path, local_offset: int, central_offset: int, fmt: str, value: int) -> None:
    """Rewrite one field of the only member's local header and its central-directory entry."""
    raw = bytearray(path.read_bytes())
    assert raw[:4] == b"PK\x03\x04"
    central = raw.index(b"PK\x01\x02")
    struct.pack_into(fmt, raw, local_offset, value)
    struct.pack_into(fmt, raw, central + central_offset, value)
    path.write_bytes(bytes(raw))


# ---------------------------------------------------------------- reading


def test_parts_are_ordered_numerically_and_only_tweets_parts_are_taken() -> None:
    names = ["data/tweets-part10.js", "data/tweets-part9.js", "data/tweets.js", "data/tweets-part1.js",
             "data/deleted-tweets.js", "data/twitter-circle-tweet.js", "data/tweet-headers.js", "data/note-tweet.js",
             "copy/of/data/tweets.js"]
    assert tweet_parts(names) == ["data/tweets.js", "data/tweets-part1.js", "data/tweets-part9.js", "data/tweets-part10.js"]
    assert tweet_parts(["twitter-2024-01-01-abc/data/tweet.js"]) == ["twitter-2024-01-01-abc/data/tweet.js"]
    assert tweet_parts(["data/account.js", "data/"]) == []


def test_zip_new_layout_reads_every_part_in_order_and_drops_retweets_by_default(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "twitter-2024-05-01-abc.zip", new_layout())
    texts, report = load_corpus(path)
    assert texts[:2] == ["part zero", *MINE[:1]]
    assert [t for t in texts if t.startswith("part ")] == ["part zero", "part one", "part two", "part ten"]
    assert not any(t.startswith("RT @") for t in texts) and "deleted, not read" not in texts
    assert set(MINE) <= set(texts) and len(texts) == len(MINE) + 4
    assert report.format == "twitter archive" and report.dropped["retweet"] == 2
    summary = report.summary()
    assert "dropped 2 retweets (someone else's words; --keep-retweets to keep them)" in summary
    assert "read 4 tweets parts (data/tweets.js, ..., data/tweets-part10.js)" in summary


def test_keep_retweets_keeps_them(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "a.zip", new_layout())
    texts, report = load_corpus(path, FilterConfig(drop_retweets=False))
    assert "RT @someone: their words, not mine" in texts and len(texts) == len(MINE) + 6
    assert report.dropped["retweet"] == 0 and "someone else's words" not in report.summary()


def test_other_files_keep_retweets_as_before(tmp_path: Path) -> None:
    path = tmp_path / "tweets.txt"
    path.write_text("RT @a: quoted\nmine\n", encoding="utf-8")
    texts, report = load_corpus(path)
    assert texts == ["RT @a: quoted", "mine"] and "someone else's words" not in report.summary()


def test_a_lone_tweets_js_follows_the_archive_default(tmp_path: Path) -> None:
    """``archive/data/tweets.js`` and ``archive/`` give the same corpus."""
    path = tmp_path / "tweets.js"
    path.write_text(part(0, ["mine", "RT @a: theirs"]), encoding="utf-8")
    texts, report = load_corpus(path)
    assert texts == ["mine"] and "dropped 1 retweet (someone else's words" in report.summary()


def test_old_layout_tweet_js(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "old.zip", {"data/tweet.js": part(0, ["from 2019", "RT @a: b"], key="tweet"),
                                            "data/account.js": "window.YTD.account.part0 = []"})
    texts, _ = load_corpus(path)
    assert texts == ["from 2019"]


def test_zip_of_the_unpacked_folder_and_a_zip_without_the_zip_suffix(tmp_path: Path) -> None:
    members = {f"twitter-2024-05-01-abc/{k}": v for k, v in new_layout().items()}
    texts, _ = load_corpus(build_zip(tmp_path / "rezipped.zip", members))
    assert len(texts) == len(MINE) + 4
    renamed = tmp_path / "archive-download"
    renamed.write_bytes((tmp_path / "rezipped.zip").read_bytes())
    texts, report = load_corpus(renamed)
    assert len(texts) == len(MINE) + 4 and report.format == "twitter archive"


def test_unpacked_folder(tmp_path: Path) -> None:
    root = tmp_path / "twitter-2024-05-01-abc"
    for name, body in new_layout().items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    texts, report = load_corpus(root)
    assert [t for t in texts if t.startswith("part ")] == ["part zero", "part one", "part two", "part ten"]
    assert report.dropped["retweet"] == 2 and report.format == "twitter archive"
    texts_data, _ = load_corpus(root / "data")  # the data/ folder itself
    assert texts_data == texts


def test_empty_part_is_fine(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "a.zip", {"data/tweets.js": part(0, ["only one"]), "data/tweets-part1.js": "window.YTD.tweets.part1 = [ ]"})
    assert load_corpus(path)[0] == ["only one"]


# ---------------------------------------------------------------- refusals, one line each


def test_directory_that_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    refused(tmp_path, "is a directory", "data/tweets.js")


def test_corrupt_zips(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04" + os.urandom(2000))
    refused(garbage, "not a readable zip", "download the archive again")
    text = tmp_path / "text.zip"
    text.write_text("just some text\n")
    refused(text, "not a readable zip")
    whole = build_zip(tmp_path / "whole.zip", new_layout()).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    refused(cut, "not a readable zip")


def test_damaged_member_data(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "a.zip", {"data/tweets.js": part(0, MINE * 20)})
    raw = bytearray(path.read_bytes())
    start = 30 + len("data/tweets.js")
    for i in range(start + 10, start + 60):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    refused(path, "a.zip:data/tweets.js", "cannot be read from the zip")


def test_zip_without_tweets_lists_what_it_expected(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "photos.zip", {"a.jpg": b"\xff\xd8", "data/like.js": "window.YTD.like.part0 = []"})
    refused(path, "no tweets in this zip", "2 files", "data/tweets.js", "data/tweet.js")
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    refused(empty, "no tweets in this zip", "0 files")


def test_invalid_json_in_a_part_names_the_member(tmp_path: Path) -> None:
    layout = new_layout()
    layout["data/tweets-part1.js"] = "window.YTD.tweets.part1 = [ {\"tweet\": {\"full_text\": \"cut"
    path = build_zip(tmp_path / "a.zip", layout)
    refused(path, f"{path}:data/tweets-part1.js", "invalid JSON")


def test_zip_bomb_by_ratio_is_refused_before_decompressing(tmp_path: Path) -> None:
    bomb = build_zip(tmp_path / "bomb.zip", {"data/tweets.js": b"window.YTD.tweets.part0 = [" + b" " * (8 << 20) + b"]"})
    assert bomb.stat().st_size < 100_000
    refused(bomb, "bomb.zip:data/tweets.js", "zip bomb", "without reading")


def test_total_size_limit_from_the_declared_sizes(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "big.zip", new_layout(), method=zipfile.ZIP_STORED)
    refused(path, "over the 1.0 KiB limit", "without reading", limits=ArchiveLimits(max_bytes=1024))
    assert load_corpus(path)[0]  # the default limit (2 GiB) reads it


def test_header_that_understates_the_size_is_caught_while_reading(tmp_path: Path) -> None:
    """A member that says 100 bytes but inflates to megabytes: never more than the declared bytes are produced,
    and the member is refused (its checksum cannot match)."""
    path = build_zip(tmp_path / "liar.zip", {"data/tweets.js": b"window.YTD.tweets.part0 = [" + b" " * (4 << 20) + b"]"})
    patch_both_headers(path, 22, 24, "<I", 100)  # uncompressed size: local header offset 22, central entry offset 24
    refused(path, "liar.zip:data/tweets.js", "cannot be read from the zip")


def test_header_that_overstates_the_size_is_refused_without_reading(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "liar.zip", {"data/tweets.js": part(0, ["hi"])}, method=zipfile.ZIP_STORED)
    patch_both_headers(path, 22, 24, "<I", 0xFFFF_FFF0)
    refused(path, "liar.zip", "refused without reading")  # 4 GiB declared from 80 bytes: the ratio check fires first


def test_bytes_are_counted_while_decompressing_not_only_trusted_from_headers(tmp_path: Path) -> None:
    """The running count stops a member at the budget left, whatever the headers said before."""
    path = build_zip(tmp_path / "a.zip", {"data/tweets.js": part(0, MINE * 200)})
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("data/tweets.js")

        def read_all(budget: int) -> int:
            with archive._member_stream(zf, info, "a.zip:data/tweets.js", budget, ArchiveLimits()) as stream:
                return sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 16), b""))

        with pytest.raises(CorpusError, match="decompresses past"):
            read_all(info.file_size - 1)
        assert read_all(info.file_size) == info.file_size


def test_encrypted_member(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "locked.zip", {"data/tweets.js": part(0, ["secret"])}, method=zipfile.ZIP_STORED)
    patch_both_headers(path, 6, 8, "<H", 0x1)  # general-purpose flag bit 0: encrypted
    refused(path, "locked.zip:data/tweets.js", "encrypted", "without a password")


def test_fifo_named_zip_and_fifo_part_are_refused_at_once(tmp_path: Path) -> None:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    fifo = tmp_path / "pipe.zip"
    os.mkfifo(fifo)
    refused(fifo, "not a regular file")
    data = tmp_path / "archive" / "data"
    data.mkdir(parents=True)
    os.mkfifo(data / "tweets.js")
    with pytest.raises(CorpusError, match="not a regular file"):
        read_archive(tmp_path / "archive")


def test_limit_of_an_unpacked_folder(tmp_path: Path) -> None:
    data = tmp_path / "archive" / "data"
    data.mkdir(parents=True)
    (data / "tweets.js").write_text(part(0, MINE), encoding="utf-8")
    with pytest.raises(CorpusError, match="over 1.0 KiB"):
        read_archive(tmp_path / "archive", limits=ArchiveLimits(max_bytes=1024))


def test_all_retweets_says_how_to_keep_them(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "a.zip", {"data/tweets.js": part(0, ["RT @a: one", "RT @b: two"])})
    with pytest.raises(CorpusError, match="add --keep-retweets"):
        load_corpus(path)


# ---------------------------------------------------------------- the commands


def test_train_on_an_archive_zip_end_to_end(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "twitter-2024-05-01-abc.zip", new_layout())
    out = tmp_path / "run"
    proc = run_cli("train", str(path), "--max-steps", "2", "--hidden", "8", "--embed", "8", "--batch-size", "4",
                   "--val-every", "0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "twitter archive" in proc.stderr and "dropped 2 retweets (someone else's words; --keep-retweets" in proc.stderr
    assert Path(proc.stdout.strip().splitlines()[-1]).exists()
    kept = run_cli("train", str(path), "--max-steps", "1", "--hidden", "8", "--embed", "8", "--val-every", "0",
                   "--keep-retweets", "--out", str(tmp_path / "run2"))
    assert kept.returncode == 0, kept.stderr
    assert f"{len(MINE) + 6} of {len(MINE) + 6} items kept" in kept.stderr


@pytest.mark.parametrize("case", ["corrupt", "no-tweets", "bomb", "not-an-archive-folder"])
def test_cli_refusals_are_one_line(case: str, tmp_path: Path) -> None:
    if case == "corrupt":
        path = tmp_path / "corrupt.zip"
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
        fragment = "not a readable zip"
    elif case == "no-tweets":
        path = build_zip(tmp_path / "none.zip", {"data/like.js": "window.YTD.like.part0 = []"})
        fragment = "no tweets in this zip"
    elif case == "bomb":
        path = build_zip(tmp_path / "bomb.zip", {"data/tweets.js": b" " * (8 << 20)})
        fragment = "zip bomb"
    else:
        path = tmp_path / "folder"
        path.mkdir()
        fragment = "is a directory"
    proc = run_cli("train", str(path), "--max-steps", "1", "--out", str(tmp_path / "run"))
    assert proc.returncode == 1
    line = assert_one_line(proc.stderr, "tweetgen train: error: ", str(path), fragment)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir()), line


def test_cli_total_limit_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(archive, "DEFAULT_LIMITS", ArchiveLimits(max_bytes=2048))
    path = build_zip(tmp_path / "a.zip", new_layout())
    assert main(["train", str(path), "--max-steps", "1", "--out", str(tmp_path / "run")]) == 1
    assert_one_line(capsys.readouterr().err, "over the 2.0 KiB limit")


def test_keep_and_drop_retweets_together_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "x.zip", "--keep-retweets", "--drop-retweets"])
    assert info.value.code == 2
    assert_one_line(capsys.readouterr().err, "not allowed with")


def test_tui_data_accepts_an_archive_and_keep_retweets(tmp_path: Path) -> None:
    """``tweetgen-tui --data ARCHIVE.zip`` goes through the same loader (no Textual needed to check that)."""
    from tui.__main__ import build_parser, settings_from_args

    path = build_zip(tmp_path / "a.zip", new_layout())
    settings = settings_from_args(build_parser().parse_args(["--data", str(path)]))
    texts, report = load_corpus(settings.data_path, settings.corpus_filters())
    assert len(texts) == len(MINE) + 4 and report.dropped["retweet"] == 2
    settings = settings_from_args(build_parser().parse_args(["--data", str(path), "--keep-retweets"]))
    assert settings.filters == {"drop_retweets": False} and len(load_corpus(settings.data_path, settings.corpus_filters())[0]) == len(MINE) + 6
    assert settings.run_name() == "a"


def test_load_report_is_filled_for_an_archive(tmp_path: Path) -> None:
    report = LoadReport(path="x")
    read_archive(build_zip(tmp_path / "a.zip", new_layout()), report)
    assert report.format == "twitter archive" and report.encoding == "utf-8"
