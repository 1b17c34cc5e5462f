"""Bad corpora: every file gives one specific error line or loads correctly, never a traceback.

All bytes are built here. The property-based tests feed the readers arbitrary bytes (and
bytes assembled from parser-confusing fragments) under every file extension: only
:class:`CorpusError` may come out, and its message is one line naming the file.
"""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import pytest
from corehelpers import TINY_TWEETS, decode_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli.main import main
from core.data.corpus import CorpusError, LoadReport, load_corpus, read_items

BIG = 50 * 1024 * 1024

# name -> (file name, bytes, expected): expected is ("error", fragment) or ("ok", texts)
CASES: dict[str, tuple[str, bytes, tuple[str, object]]] = {
    "empty": ("empty.txt", b"", ("error", "file is empty")),
    "whitespace-only": ("blank.txt", b"  \n\r\n\t\n", ("error", "file is empty")),
    "csv-header-only": ("header.csv", b"id,text,created_at\n", ("error", "CSV has a header but no rows")),
    "csv-header-only-one-column": ("header1.csv", b"text\r\n", ("error", "CSV has a header but no rows")),
    "binary": ("data.txt", random.Random(1).randbytes(4096), ("error", "looks like a binary file")),
    "png-renamed": ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, ("error", "looks like a binary file")),
    "invalid-utf8": ("mixed.txt", b"good line\nbad \xff\xfe byte\n", ("ok", ["good line", "bad \u00ff\u00fe byte"])),
    "latin-1": ("latin.txt", "caf\xe9 au lait\nna\xefve\n".encode("latin-1"), ("ok", ["caf\xe9 au lait", "na\xefve"])),
    "windows-1252": ("cp.txt", "\u201csmart quotes\u201d \u2013 dash\n".encode("cp1252"), ("ok", ["\u201csmart quotes\u201d \u2013 dash"])),
    "utf-16-le-bom": ("u16.txt", codecs.BOM_UTF16_LE + "hello tweet\nsecond \u00e9\n".encode("utf-16-le"), ("ok", ["hello tweet", "second \u00e9"])),
    "utf-16-be-bom-csv": ("u16.csv", codecs.BOM_UTF16_BE + "id,text\n1,hi there\n".encode("utf-16-be"), ("ok", ["hi there"])),
    "utf-8-bom-csv": ("bom.csv", codecs.BOM_UTF8 + b"text\nhello\nworld\n", ("ok", ["hello", "world"])),
    "utf-8-bom-then-latin-1": ("liar.txt", codecs.BOM_UTF8 + "caf\xe9\n".encode("latin-1"), ("error", "byte-order mark but invalid")),
    "utf-16-bom-odd-length": ("odd.txt", codecs.BOM_UTF16_LE + b"h\x00i", ("error", "byte-order mark but invalid")),
    "csv-without-text-column": ("stats.csv", b"id,date,likes\n1,2020-01-01,3\n2,2020-01-02,4\n", ("error", "no 'text' column (columns: id, date, likes)")),
    "ragged-rows": ("ragged.csv", b"id,text,date\n1,hello there\n2\n3,third tweet,x,y,z\n,,\n", ("ok", ["hello there", "third tweet"])),
    "crlf-csv": ("crlf.csv", b"id,text\r\n1,hello there\r\n2,\"two\r\nlines\"\r\n", ("ok", ["hello there", "two lines"])),
    "crlf-text": ("crlf.txt", b"hello there\r\nsecond one\r\n", ("ok", ["hello there", "second one"])),
    "cr-only-text": ("mac.txt", b"old mac\rline two\r", ("ok", ["old mac", "line two"])),
    "nul-bytes-sprinkled": ("nul.txt", b"hel\x00lo there\n" + b"a normal tweet line here\n" * 30, ("ok", ["hello there", "a normal tweet line here"])),
    "mostly-nul": ("nuls.txt", b"\x00" * 500 + b"hi\n", ("error", "looks like a binary file")),
    "nothing-passes-filters": ("urls.txt", b"https://t.co/abc\nhttp://example.com/x\nwww.example.com\n", ("error", "url_only 3)")),
    "all-too-long": ("long.txt", b"x" * 600 + b"\n" + b"y" * 400 + b"\n", ("error", "try --max-len 560")),
    "json-deeply-nested": ("deep.json", b"[" * 100_000 + b"]" * 100_000, ("error", "nested too deeply")),
    "json-huge-integer": ("big.json", b"[" + b"7" * 5000 + b"]", ("error", "JSON that cannot be read as tweets")),
    "jsonl-huge-integer": ("big.jsonl", b'{"text": "ok"}\n{"text": ' + b"7" * 5000 + b"}\n", ("error", "line 2: JSON that cannot be read as tweets")),
    "tweets-js-truncated": ("tweets.js", b"window.YTD.tweets.part0 = [{\"tweet\": {\"full_text\": \"hi\"", ("error", "tweets.js holds invalid JSON")),
    "json-lone-surrogate": ("sur.jsonl", b'{"text": "cut emoji \\ud83d"}\n{"text": "\\ud83d\\ude00 ok"}\n', ("ok", ["cut emoji \ufffd", "\U0001f600 ok"])),
    "json-without-text": ("users.json", b'[{"name": "a"}, {"name": "b"}]', ("error", "no record has a 'text'")),
    "directory": ("folder", b"", ("error", "is a directory")),
}


def _make(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_corpus_loads_or_gives_one_specific_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each shape of bad input: the expected texts, or a CorpusError naming the file; `tweetgen train` prints it as one line."""
    name, data, (outcome, expected) = CASES[case]
    path = _make(tmp_path, name, data)
    if outcome == "ok":
        texts, report = load_corpus(path)
        assert texts == expected, report.summary()
        assert "\x00" not in "".join(texts)
        return
    with pytest.raises(CorpusError) as err:
        load_corpus(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and str(expected) in message and "\n" not in message, message
    assert main(["train", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"tweetgen train: error: {message}"]
    assert not (tmp_path / "run").exists(), "nothing is written for a corpus that cannot be used"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("one-line.txt", b"x" * BIG, "too_long 1"),
        ("one-field.csv", b'text\n"' + b"y" * BIG + b'"\n', "too_long 1"),
        ("one-line.jsonl", b'{"text": "' + b"z" * BIG + b'"}\n', "too_long 1"),
    ],
    ids=["text", "csv", "jsonl"],
)
def test_a_single_50mb_line_is_one_clear_error_quickly(name: str, data: bytes, fragment: str, tmp_path: Path) -> None:
    """A 50 MB line is dropped as too long (no regex work on it, no CSV field-size abort)."""
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(CorpusError, match=fragment) as err:
        load_corpus(path)
    assert str(err.value).startswith(str(path))


def test_a_50mb_line_among_good_lines_is_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    with path.open("wb") as fh:
        fh.write("\n".join(TINY_TWEETS).encode() + b"\n")
        fh.write(b"q" * (BIG // 5) + b"\n")
    texts, report = load_corpus(path)
    assert texts == TINY_TWEETS and report.dropped["too_long"] == 1


def test_nul_bytes_are_removed_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"text\n" + b"\n".join(t.encode() for t in TINY_TWEETS) + b"\nhas a\x00 nul\n")
    texts, report = load_corpus(path)
    assert texts[-1] == "has a nul" and any("NUL" in note for note in report.notes)


def test_a_model_trained_on_lone_surrogates_can_print_its_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """JSON with half an emoji (a lone UTF-16 surrogate) must not give a model whose samples cannot be printed."""
    path = tmp_path / "cut.jsonl"
    path.write_bytes(b"\n".join(b'{"text": "\\ud83d\\ud83d\\ud83d x%d"}' % i for i in range(10)) + b"\n")
    out = tmp_path / "run"
    assert main(["train", str(path), "--out", str(out), "--max-steps", "30", "--lr", "0.01", "--hidden", "8", "--embed", "8", "--quiet",
                 "--val-every", "0"]) == 0
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "3", "-t", "0.1", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    printed.encode("utf-8")  # no lone surrogates reach the output
    assert "\ufffd" in printed


# ---------------------------------------------------------------- property-based fuzzing

SUFFIXES = (".txt", ".csv", ".tsv", ".json", ".jsonl", ".js", ".dat", "")
FRAGMENTS = [
    b"text", b"full_text", b"id,text\n", b"text\t", b",", b"\t", b'"', b"'", b"\n", b"\r\n", b"\r", b"\x00", b"[", b"]",
    b"{", b"}", b":", b'{"text": "', b'"}', b"window.YTD.tweets.part0 = ", b";", b"\\u00e9", b"\\ud83d", b"&amp;", b"&#0;",
    b"http://t.co/x ", b"RT @a ", b"9" * 40, codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE,
    b"\xff", b"\xe9", b"\xc3", b"\x81", "\u00e9\U0001f600".encode(), b"hello world ",
    b"[" * 1500, b"9" * 4400,  # deeper than the recursion limit; longer than Python's int digit limit
]
_counts = {"decode_bytes": 0, "read_items": 0, "load_corpus": 0}


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _only_corpus_errors(path: Path, call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except CorpusError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message, message


FUZZ = settings(max_examples=700, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_fuzz_decode_bytes(raw: bytes) -> None:
    _counts["decode_bytes"] += 1
    report = LoadReport(path="fuzz")
    try:
        text = decode_bytes(raw, "fuzz", report)
    except CorpusError as exc:
        assert str(exc).startswith("fuzz: ") and "\n" not in str(exc)
        return
    assert isinstance(text, str) and "\x00" not in text


@FUZZ
@given(raw=st.binary(max_size=2048), suffix=st.sampled_from(SUFFIXES))
def test_fuzz_read_items_with_arbitrary_bytes(raw: bytes, suffix: str, fuzz_dir: Path) -> None:
    _counts["read_items"] += 1
    path = fuzz_dir / f"f{suffix}"
    path.write_bytes(raw)
    _only_corpus_errors(path, lambda: read_items(path))


@FUZZ
@given(parts=st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=8), max_size=40), suffix=st.sampled_from(SUFFIXES))
def test_fuzz_load_corpus_with_parser_confusing_bytes(parts: list[bytes], suffix: str, fuzz_dir: Path) -> None:
    _counts["load_corpus"] += 1
    path = fuzz_dir / f"g{suffix}"
    path.write_bytes(b"".join(parts))

    def load() -> None:
        texts, report = load_corpus(path)
        assert texts and report.kept == len(texts)
        for text in texts:
            text.encode("utf-8")  # printable: no lone surrogates, no NULs
            assert "\x00" not in text and text == text.strip()

    _only_corpus_errors(path, load)


def test_fuzz_ran_enough_examples(fuzz_dir: Path) -> None:
    """Runs after the three fuzz tests in this module (file order); records how many cases they ran."""
    if not all(_counts.values()):
        pytest.skip("run together with the fuzz tests to count their examples")
    assert all(n >= 600 for n in _counts.values()), _counts
    (fuzz_dir / "examples.txt").write_text(repr(_counts))
    print(f"\nhypothesis examples: {_counts}")
