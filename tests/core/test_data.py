"""Corpus readers, filters, split and length bucketing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.data.corpus import CorpusError, FilterConfig, LoadReport, clean_items, load_corpus, split_texts

from core.data.batching import BucketBatcher, make_batch
from core.data.vocab import PAD_ID, CharVocab

LINE_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
).map(lambda s: " ".join(s.split())).filter(lambda s: s and not s.startswith(("http", "www")) and "&" not in s)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_text_one_item_per_line(tmp_path: Path) -> None:
    texts, report = load_corpus(write(tmp_path / "t.txt", "hello there\n\nsecond  one\r\nthird\n"))
    assert texts == ["hello there", "second one", "third"]
    assert report.format == "text" and report.dropped["empty"] == 1  # the blank line, not the final newline


def test_csv_with_text_column_and_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id_str", "text", "created_at"])
        w.writerow(["1", "fish &amp; chips", "x"])
        w.writerow(["2", "two\nlines", "y"])
    texts, report = load_corpus(path)
    assert texts == ["fish & chips", "two lines"]
    assert report.format == "csv"


def test_csv_without_header_uses_first_column(tmp_path: Path) -> None:
    texts, _ = load_corpus(write(tmp_path / "b.csv", "good morning!,1\nsee you at 5,2\n"))
    assert texts == ["good morning!", "see you at 5"]


def test_csv_header_without_text_column_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"no 'text' column \(columns: id, date\)"):
        load_corpus(write(tmp_path / "c.csv", "id,date\n1,2020\n"))


def test_tweets_js_archive(tmp_path: Path) -> None:
    body = [{"tweet": {"full_text": "from the archive", "id": "1"}}, {"tweet": {"full_text": "RT @x: copied"}}]
    path = write(tmp_path / "tweets.js", "window.YTD.tweets.part0 = " + json.dumps(body))
    texts, report = load_corpus(path, FilterConfig(drop_retweets=True))
    assert texts == ["from the archive"] and report.dropped["retweet"] == 1


def test_json_and_jsonl(tmp_path: Path) -> None:
    assert load_corpus(write(tmp_path / "a.json", json.dumps([{"text": "one"}, {"text": "two"}])))[0] == ["one", "two"]
    assert load_corpus(write(tmp_path / "a.jsonl", '{"text": "x1"}\n\n{"text": "x2"}\n'))[0] == ["x1", "x2"]


def test_filters_and_report(tmp_path: Path) -> None:
    lines = ["ok tweet", "https://t.co/abc", "ok tweet", "x" * 281, "see https://t.co/abc now"]
    texts, report = load_corpus(write(tmp_path / "f.txt", "\n".join(lines)), FilterConfig(strip_urls=True))
    assert texts == ["ok tweet", "see now"]
    assert dict(report.dropped) == {"url_only": 1, "duplicate": 1, "too_long": 1}
    assert "2 of 5 items kept" in report.summary()
    longer, _ = load_corpus(tmp_path / "f.txt", FilterConfig(max_len=300, dedupe=False))
    assert len(longer) == 4  # only the URL-only line is still dropped


def test_no_usable_tweets_names_the_reasons(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"no usable tweets.*too_long 2.*--max-len 560"):
        load_corpus(write(tmp_path / "long.txt", "a" * 400 + "\n" + "b" * 300))


def test_the_default_limit_keeps_280_character_tweets_and_drops_longer_ones() -> None:
    """Twitter's limit since 2017: a 280-character tweet is kept whole by default, a 281 one dropped."""
    texts, report = load_corpus_items(["a" * 280, "b" * 281, "short"])
    assert texts == ["a" * 280, "short"] and report.dropped["too_long"] == 1


def test_the_report_says_how_to_keep_long_texts_when_many_are_dropped() -> None:
    """Over 5% of the usable texts dropped as too long: the report names the share and the --max-len that keeps them."""
    few = ["a tweet %d" % i for i in range(40)]
    _, report = load_corpus_items(few + ["x" * 300])  # 1 of 41: 2.4%, no note
    assert not any("--max-len" in n for n in map(str, report.notes))
    _, report = load_corpus_items(few + ["x" * 300, "y" * 333, "z" * 290])  # 3 of 43: 7%
    note = [n for n in map(str, report.notes) if "--max-len" in n]
    assert note == ["3 texts (7%) are longer than 280 characters and were dropped; try --max-len 340 to keep them"]
    # retweets, empty and URL-only items are not part of the share
    _, report = load_corpus_items(few + ["x" * 300] + ["RT @a: b"] * 30, FilterConfig(drop_retweets=True))
    assert not any("--max-len" in n for n in map(str, report.notes))


def load_corpus_items(items: list[str], cfg: FilterConfig | None = None) -> tuple[list[str], LoadReport]:
    report = LoadReport(path="items")
    return clean_items(items, cfg or FilterConfig(), report), report


def test_split_is_seeded_and_disjoint() -> None:
    texts = [f"t{i}" for i in range(100)]
    a = split_texts(texts, 0.1, seed=3)
    assert a == split_texts(texts, 0.1, seed=3)
    assert a != split_texts(texts, 0.1, seed=4)
    train, val = a
    assert len(val) == 10 and not set(train) & set(val) and sorted(train + val) == sorted(texts)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE_TEXT, min_size=1, max_size=20, unique=True))
def test_text_reader_preserves_arbitrary_unicode_lines(tmp_path: Path, lines: list[str]) -> None:
    path = write(tmp_path / "u.txt", "\n".join(lines))
    texts, _ = load_corpus(path, FilterConfig(max_len=1000))
    assert texts == lines


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE_TEXT, min_size=1, max_size=20, unique=True))
def test_csv_reader_preserves_arbitrary_unicode_fields(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "u.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text"])
        w.writerows([[line] for line in lines])
    assert load_corpus(path, FilterConfig(max_len=1000))[0] == lines


def test_bucketing_groups_lengths_and_masks_padding() -> None:
    vocab = CharVocab.build(["abcdefghij"])
    texts = ["a" * n for n in range(1, 41)]
    encoded = [vocab.encode(t) for t in texts]
    batcher = BucketBatcher(encoded, batch_size=8, seed=0)
    batches = list(batcher.epoch(0))
    assert len(batches) == 5 and sum(b.inputs.shape[0] for b in batches) == 40
    for b in batches:
        lengths = b.mask.sum(dim=1)
        assert int(lengths.max() - lengths.min()) <= 7  # similar lengths share a batch
        assert torch.equal(b.mask, b.targets != PAD_ID)
        assert b.n_chars == int(lengths.sum())
    assert batcher.epoch_order(0) == batcher.epoch_order(0)
    assert batcher.epoch_order(0) != batcher.epoch_order(1)  # reshuffled every epoch


def test_make_batch_shifts_targets() -> None:
    batch = make_batch([[1, 5, 6, 2], [1, 7, 2]])
    assert batch.inputs.tolist() == [[1, 5, 6], [1, 7, 2]]  # the <eos> input predicts <pad>, which is masked
    assert batch.targets.tolist() == [[5, 6, 2], [7, 2, 0]]
    assert batch.n_chars == 5


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_byte_order_mark_loads(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "u16.txt"
    path.write_bytes("café at 7\nsecond tweet ☕\n".encode(encoding))
    texts, report = load_corpus(path)
    assert texts == ["café at 7", "second tweet ☕"] and report.encoding == encoding
