"""Issue 11 §3: corpora stream in bounded memory, and encoded ids are packed.

The streaming reader must give what reading the whole file gave (the other corpus tests
guard every documented behaviour); these tests add chunk boundaries everywhere, large
generated files, the progress callback, the packed ids against the list-based batcher,
and memory that grows with unique texts rather than with items read.
"""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest
import torch

import corehelpers as whole
import core.data.decoding as decoding
from core.data.batching import BucketBatcher, PackedIds, encode_all, make_batch
from core.data.corpus import CorpusError, FilterConfig, LoadReport, clean_items, load_corpus
from core.data.readers import detect_format
from core.data.vocab import CharVocab

# ---------------------------------------------------------------- the whole-file reference


def _whole_file(path: Path) -> tuple[list[str], LoadReport] | str:
    """load_corpus as it was before streaming: decode the whole file, then the whole-text readers."""
    report = LoadReport(path=str(path))
    name = str(path)
    try:
        text = whole.decode_bytes(path.read_bytes(), name, report)
        if not text.strip():
            raise CorpusError(f"{name}: file is empty; give one tweet per line, a CSV with a 'text' column, a tweets.js or JSON/JSONL")
        fmt = detect_format(path, text)
        if fmt.endswith("?"):
            try:
                items = whole.read_json(text, name) if fmt == "json?" else whole.read_jsonl(text, name)
                fmt = fmt[:-1]
            except CorpusError:
                items, fmt = whole.read_lines(text), "text"
        else:
            items = {"csv": lambda: whole.read_csv(text, name), "tweets-js": lambda: whole.read_tweets_js(text, name),
                     "json": lambda: whole.read_json(text, name), "jsonl": lambda: whole.read_jsonl(text, name),
                     "text": lambda: whole.read_lines(text)}[fmt]()
        report.format = fmt
        texts = clean_items(items, FilterConfig(), report)
        if not texts:
            return "no usable tweets"
        return texts, report
    except CorpusError as exc:
        return str(exc)


def _streamed(path: Path) -> tuple[list[str], LoadReport] | str:
    try:
        return load_corpus(path)
    except CorpusError as exc:
        return "no usable tweets" if "no usable tweets" in str(exc) else str(exc)


FRAGMENTS = [b"\r", b"\n", b"\r\n", b"\x00", b'"', b",", b"\t", b" ", b"hello", b"RT @x hi", b"caf\xc3\xa9", b"\xe2\x82\xac",
             b"\xff", b"\x81", b"\x93", b"text", b"text,id\n", b'{"text": "a"}', b"[", b"]", b"{", b"}", b"\x0b", b"\x1c",
             b"\xc2\x85", b"\xe2\x80\xa8", b"&amp;", b"http://x.y", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"a\x00b\x00",
             b"window.YTD.tweets.part0 = ", b'[{"tweet": {"full_text": "z"}}]', b"x" * 50, b"\r\r\n\n"]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_streaming_equals_whole_file_reading_at_every_chunk_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      chunk: int) -> None:
    """Random hostile files (BOMs, NULs, CR/LF mixes, invalid UTF-8, quotes, JSON bits) in tiny chunks:
    the same texts, counts, format, encoding and notes, or the same error, as decoding the whole file."""
    monkeypatch.setattr(decoding, "_CHUNK", chunk)
    rng = random.Random(chunk)
    for i in range(150):
        raw = b"".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 60)))
        if rng.random() < 0.2:
            enc = rng.choice(["utf-16", "utf-16-le", "utf-32", "utf-8-sig", "cp1252"])
            raw = raw.decode("utf-8", "replace").encode(enc, "replace")
            if rng.random() < 0.3 and raw:
                raw = raw[:-1]  # a truncated code unit
        path = tmp_path / f"f{i}{rng.choice(['.csv', '.txt', '.jsonl', '.json', '.js', '.dat', '.tsv'])}"
        path.write_bytes(raw)
        want, got = _whole_file(path), _streamed(path)
        if isinstance(want, str) or isinstance(got, str):
            assert got == want, raw
        else:
            (wt, wr), (gt, gr) = want, got
            assert (gt, gr.format, gr.encoding, gr.read, gr.kept, gr.dropped, gr.notes) == (
                wt, wr.format, wr.encoding, wr.read, wr.kept, wr.dropped, wr.notes), raw


def test_invalid_utf8_late_in_a_file_decodes_the_whole_file_as_latin1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One bad byte after many chunks changes how the first chunk reads, as when the file was decoded whole."""
    monkeypatch.setattr(decoding, "_CHUNK", 4096)
    path = tmp_path / "late.txt"
    path.write_bytes("café\n".encode() * 5000 + b"na\xefve\n")
    texts, report = load_corpus(path)
    assert report.encoding == "latin-1" and texts[0] == "cafÃ©" and texts[-1] == "naïve"


def test_bom_declared_error_offset_counts_as_whole_file_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoding, "_CHUNK", 1000)
    body = b"good line\n" * 500 + b"\xff bad\n"
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16")):
        path = tmp_path / f"bom-{enc}.txt"
        data = bom + (body if enc == "utf-8-sig" else body.decode("latin-1").encode("utf-16-le")[:-3])
        path.write_bytes(data)
        try:
            data.decode(enc)
            raise AssertionError("the sample must be invalid")
        except UnicodeDecodeError as exc:
            expected = f"{path}: has a {enc} byte-order mark but invalid {enc} at byte {exc.start}; re-save it as UTF-8"
        with pytest.raises(CorpusError) as err:
            load_corpus(path)
        assert str(err.value) == expected


# ---------------------------------------------------------------- large files


def test_a_large_generated_text_file_loads_with_the_right_counts(tmp_path: Path) -> None:
    """200k lines: 100k unique, each twice, plus CRLF endings; read 200k, kept 100k."""
    path = tmp_path / "big.txt"
    with path.open("w", newline="") as fh:
        for copy in range(2):
            for i in range(100_000):
                fh.write(f"tweet number {i} says hello\r\n")
    texts, report = load_corpus(path)
    assert report.read == 200_000 and report.kept == 100_000 and report.dropped == {"duplicate": 100_000}
    assert texts[:2] == ["tweet number 0 says hello", "tweet number 1 says hello"] and texts[-1] == "tweet number 99999 says hello"


def test_a_large_csv_with_quoted_newlines_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoding, "_CHUNK", 4093)  # odd, so records straddle chunk ends everywhere
    path = tmp_path / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write("id,text\r\n")
        for i in range(20_000):
            fh.write(f'{i},"line one of {i}\r\nand ☕ two, with ""quotes"""\r\n')
        for i in range(5_000):
            fh.write(f'{i},"line one of {i}\r\nand ☕ two, with ""quotes"""\r\n')  # duplicates
    texts, report = load_corpus(path, FilterConfig(keep_newlines=True, max_len=280))
    assert (report.read, report.kept, report.dropped["duplicate"]) == (25_000, 20_000, 5_000)
    assert texts[7] == 'line one of 7\nand ☕ two, with "quotes"'


def test_progress_is_reported_with_growing_byte_counts_ending_at_the_size(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoding, "_CHUNK", 1 << 14)
    monkeypatch.setattr(decoding, "_PROGRESS_EVERY_S", 0.0)  # every chunk, so the test sees many calls
    path = tmp_path / "p.csv"
    path.write_text("text\n" + "".join(f"tweet {i}\n" for i in range(50_000)))
    calls: list[tuple[int, int]] = []
    texts, _ = load_corpus(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert len(texts) == 50_000 and len(calls) > 10
    assert all(total == size for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == size


def test_progress_is_throttled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the default interval a quick load calls back a handful of times, not once per chunk."""
    monkeypatch.setattr(decoding, "_CHUNK", 1 << 10)
    path = tmp_path / "p.txt"
    path.write_text("".join(f"tweet {i}\n" for i in range(20_000)))
    calls: list[int] = []
    load_corpus(path, progress=lambda done, total: calls.append(done))
    assert calls[-1] == path.stat().st_size and len(calls) < path.stat().st_size // (1 << 10) // 4


# ---------------------------------------------------------------- memory


def _load_peak_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        load_corpus(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_with_unique_texts_not_with_items_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """100k copies of one tweet peak at a small fraction of 100k unique tweets (whole-file reading
    held every item: ~3x the file, the same for both). Chunks of 64 KiB, so a few chunks'
    worth of lines stays well under this 8 MB file (at 1 MiB they would be most of it)."""
    monkeypatch.setattr(decoding, "_CHUNK", 1 << 16)
    n, tweet = 100_000, "a tweet of about a hundred characters, the size of a typical one; number "
    dup, uniq = tmp_path / "dup.txt", tmp_path / "uniq.txt"
    dup.write_text("".join(f"{tweet}0\n" for _ in range(n)))
    uniq.write_text("".join(f"{tweet}{i}\n" for i in range(n)))
    size = uniq.stat().st_size
    dup_peak, uniq_peak = _load_peak_bytes(dup), _load_peak_bytes(uniq)
    assert dup_peak < 0.2 * size, (dup_peak, size)  # a few chunks, not the file
    assert dup_peak < 0.25 * uniq_peak, (dup_peak, uniq_peak)


# ---------------------------------------------------------------- packed ids


def _reference_order(encoded: list[list[int]], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """BucketBatcher.epoch_order as it was on lists of ids (what resumed runs were saved against)."""
    rng = random.Random(seed * 1_000_003 + epoch)
    keys = [(len(s), rng.random(), i) for i, s in enumerate(encoded)]
    keys.sort()
    idx = [k[2] for k in keys]
    batches = [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]
    rng.shuffle(batches)
    return batches


def test_packed_batches_equal_the_list_based_batches() -> None:
    rng = random.Random(3)
    texts = ["".join(rng.choice("ab cdé☕!") for _ in range(rng.randint(0, 40))) for _ in range(700)]
    vocab = CharVocab.build(texts)
    lists = [vocab.encode(t) for t in texts]
    packed = encode_all(texts, vocab)
    assert isinstance(packed, PackedIds) and packed.flat.dtype == torch.int16
    assert len(packed) == len(lists) and [p.tolist() for p in packed] == lists and packed[-1].tolist() == lists[-1]
    assert packed.lengths.tolist() == [len(s) for s in lists]
    for batch_size, seed in ((1, 0), (7, 0), (32, 5)):
        batcher = BucketBatcher(packed, batch_size, seed)
        assert len(batcher) == len(_reference_order(lists, batch_size, seed, 0))
        for epoch in range(3):
            assert batcher.epoch_order(epoch) == _reference_order(lists, batch_size, seed, epoch)
        for got, rows in zip(batcher.epoch(2, start=3), _reference_order(lists, batch_size, seed, 2)[3:]):
            want = make_batch([lists[i] for i in rows])
            for name in ("inputs", "targets", "mask", "remaining"):
                assert torch.equal(getattr(got, name), getattr(want, name)), name
            assert got.n_chars == want.n_chars and got.inputs.dtype == torch.long
    assert BucketBatcher(lists, 7, 1).epoch_order(1) == BucketBatcher(packed, 7, 1).epoch_order(1)  # lists are packed too


def test_packed_ids_slices_and_wide_vocabularies() -> None:
    seqs = [[1, 5, 2], [1, 2], [1, 40_000, 7, 2], [1, 9, 2]]
    packed = PackedIds.from_sequences(seqs)
    assert packed.flat.dtype == torch.int32  # widened for an id past int16
    assert [s.tolist() for s in packed] == seqs and packed[-2].tolist() == seqs[-2]
    assert [s.tolist() for s in packed[1:3]] == seqs[1:3] and [s.tolist() for s in packed[::2]] == seqs[::2]
    assert len(packed[:0]) == 0 and not packed[:0]
    with pytest.raises(IndexError):
        packed[4]
    assert packed.nbytes == 4 * sum(map(len, seqs)) + 8 * (len(seqs) + 1)
