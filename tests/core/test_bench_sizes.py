"""bench/sizes.py's pieces that decide its figures: the split by time, and reading a curve at a wall time."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.sizes import at_wall_time, share_at_anchor, time_split


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "created_at", "id_str"])
        for i, (text, when) in enumerate(rows):
            w.writerow([text, when, str(i)])


def test_the_time_split_keeps_the_newest_tenth_apart_whatever_the_file_order(tmp_path: Path) -> None:
    """Rows in shuffled order: the newest 10% by created_at go to newest.csv, the rest to older.csv."""
    days = [f"2016-{m:02d}-{d:02d}T10:00:00Z" for m in range(1, 11) for d in (3, 17)]  # 20 dates, in order
    order = [7, 19, 0, 12, 18, 3, 5, 11, 1, 14, 9, 2, 16, 4, 8, 13, 6, 15, 10, 17]
    src = tmp_path / "tweets.csv"
    _write(src, [(f"tweet {i}", days[i]) for i in order])
    older, newest = time_split(src, tmp_path / "out")
    read = lambda p: [r["text"] for r in csv.DictReader(open(p, newline="", encoding="utf-8"))]  # noqa: E731
    assert sorted(read(newest)) == ["tweet 18", "tweet 19"]
    assert read(older) == [f"tweet {i}" for i in range(18)]  # oldest first
    assert src.parent == tmp_path and not (tmp_path / "older.csv").exists()  # written where asked, nowhere else


def test_the_time_split_names_the_missing_column(tmp_path: Path) -> None:
    src = tmp_path / "plain.csv"
    src.write_text("text,id_str\nhello,1\n", encoding="utf-8")
    with pytest.raises(SystemExit, match=r"plain\.csv: needs the columns text and created_at"):
        time_split(src, tmp_path / "out")


def test_a_curve_is_read_between_its_validations_and_not_beyond() -> None:
    points = [{"step": 0, "dev": 7.0}, {"step": 200, "dev": 3.0}, {"step": 400, "dev": 2.6}]
    assert at_wall_time(points, 300, "dev") == pytest.approx(2.8)
    assert at_wall_time(points, 200, "dev") == pytest.approx(3.0)
    assert at_wall_time(points, 401, "dev") is None  # never extrapolated


def test_the_share_of_peak_follows_the_candidates_ratio() -> None:
    cand = {"ratio": 0.5, "flops_per_char": 1_000_000, "chars_per_step_epoch": 2_000}
    got = share_at_anchor(cand, peak_2_threads=100.0, anchor=10.0)
    assert got["steps_per_s"] == pytest.approx(5.0)
    assert got["train_gflops"] == pytest.approx(30.0)  # 3 x 1e6 x 2e3 x 5 / 1e9
    assert got["share_of_peak"] == pytest.approx(0.30)
