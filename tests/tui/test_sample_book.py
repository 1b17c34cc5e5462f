"""The session's samples (tui/services/sample_book.py), without Textual: kept, checked, exported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.model.novelty import NoveltyIndex
from core.model.sampler import SampleConfig
from core.store import policy
from tui.services import sample_book
from tui.services.sample_book import SampleBook
from tui.widgets.generation_panel import SampleRecord


def finished(sample_id: int, text: str = "a finished tweet") -> SampleRecord:
    record = SampleRecord(sample_id, 0.8, "test", text=text, complete=True, eos_prob=0.5,
                          cfg=SampleConfig(temperature=0.8, seed=sample_id), probs=[0.5] * len(text))
    return record


def test_keeps_the_newest_samples_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample_book, "MAX_SESSION", 3)
    book = SampleBook()
    for i in range(1, 6):
        book.keep(finished(i))
    assert [r.sample_id for r in book.session] == [3, 4, 5]
    assert sorted(book.records) == [3, 4, 5]


def test_a_sample_is_checked_only_where_the_check_means_something() -> None:
    book = SampleBook()
    waiting, elsewhere = finished(1, "the quick brown fox jumps"), finished(2)
    book.check(waiting, applies=True)
    assert waiting.novelty is None and waiting.novelty_note == "indexing…"
    for record in (waiting, elsewhere):
        book.keep(record)
    index = NoveltyIndex.build(["the quick brown fox jumps over the lazy dog"], threshold=10)
    assert book.index_ready(index) == [waiting, elsewhere]  # finished and not checked yet
    book.check(waiting, applies=True)
    assert waiting.novelty is not None and waiting.novelty.copied
    book.check(elsewhere, applies=False)
    assert elsewhere.novelty is None and elsewhere.novelty_note == policy.NOT_TRAINED_ON_IT
    assert book.index_ready(None) == [elsewhere]
    assert book.novelty_note == "no training texts to check against"


def test_export_appends_only_what_is_new(tmp_path: Path) -> None:
    book = SampleBook()
    path = tmp_path / "run" / "samples.jsonl"
    assert not book.exportable and book.export(path) is None
    book.keep(finished(1, "one"))
    streaming = SampleRecord(2, 0.8, "test", text="two")
    book.keep(streaming)
    assert book.exportable
    assert book.export(path) == 1
    assert book.export(path) is None  # nothing new: nothing written twice
    streaming.complete, streaming.cfg = True, SampleConfig(seed=2)
    assert book.export(path) == 1
    assert [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()] == ["one", "two"]


def test_a_failed_export_marks_nothing_exported(tmp_path: Path) -> None:
    book = SampleBook()
    book.keep(finished(1))
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    with pytest.raises(OSError):
        book.export(blocked / "samples.jsonl")  # a file where the folder should be
    assert book.export(tmp_path / "samples.jsonl") == 1


def test_copy_text_labels_columns() -> None:
    one, two = finished(1, "first"), finished(2, "second")
    two.label = "step 20"
    assert SampleBook.copy_text([one]) == "first"
    assert SampleBook.copy_text([one, two]) == "T 0.8: first\nstep 20: second"
