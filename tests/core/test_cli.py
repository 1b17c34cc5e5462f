"""The `tweetgen` command: happy paths and every error path (one line, non-zero exit, no traceback)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from corehelpers import TINY_TWEETS

from core.cli.main import main


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core.cli.main", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A corpus file and a checkpoint trained on it through the real CLI."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "tweets.txt"
    corpus.write_text("\n".join(TINY_TWEETS * 3) + "\n", encoding="utf-8")
    out = root / "run"
    proc = run_cli("train", str(corpus), "--out", str(out), "--max-steps", "12", "--hidden", "16", "--embed", "8",
                   "--batch-size", "4", "--val-every", "6", "--ckpt-every", "6", "--quiet")
    assert proc.returncode == 0, proc.stderr
    ckpt = Path(proc.stdout.strip())
    assert ckpt.exists() and ckpt.parent == out
    return corpus, ckpt


def test_train_writes_checkpoints_and_prints_last(trained: tuple[Path, Path]) -> None:
    _, ckpt = trained
    assert sorted(p.name for p in ckpt.parent.glob("*.pt")) == ["step-00000006.pt", "step-00000012.pt"]


def test_sample_is_reproducible_with_seed(trained: tuple[Path, Path]) -> None:
    _, ckpt = trained
    a = run_cli("sample", str(ckpt), "-n", "3", "--seed", "7", "--max-len", "40")
    b = run_cli("sample", str(ckpt), "-n", "3", "--seed", "7", "--max-len", "40")
    assert a.returncode == 0 and a.stdout == b.stdout and len(a.stdout.splitlines()) == 3
    streamed = run_cli("sample", str(ckpt.parent), "-n", "2", "--stream", "--prime", "the ", "-t", "0")
    lines = streamed.stdout.splitlines()
    assert streamed.returncode == 0 and len(lines) == 2 and all(line.startswith("the ") for line in lines)
    assert lines[0] == lines[1]  # greedy


def test_eval_info_and_list(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    corpus, ckpt = trained
    proc = run_cli("eval", str(ckpt), str(corpus))
    assert proc.returncode == 0 and "bits/char over" in proc.stdout
    bpc = float(proc.stdout.split()[0])
    assert 0 < bpc < 10
    assert main(["info", str(ckpt)]) == 0
    out = capsys.readouterr().out
    rows = _info_rows(out)
    assert rows["step"] == "12", rows  # the step row itself, not "12" in the file name
    assert "hidden_size=16" in out
    # a corpus this small trains without weight decay (issue 16's small-corpus settings); the row says so
    assert rows["optimizer"].startswith("schedulefree, lr 0.006, weight decay 0, constant"), rows  # (the table wraps)
    assert main(["list", str(ckpt.parent)]) == 0
    assert "step-00000006.pt" in capsys.readouterr().out


def _info_rows(out: str) -> dict[str, str]:
    """`tweetgen info`'s table as {key: value}: a row is 'key' then two or more spaces then the value."""
    rows: dict[str, str] = {}
    for line in out.splitlines():
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        if len(parts) == 2:
            rows.setdefault(parts[0], parts[1])
    return rows


def test_resume_continues_the_run(trained: tuple[Path, Path], tmp_path: Path) -> None:
    """The budget rule: --max-steps counts from where the run starts (step 12 + 15 more = 27)."""
    corpus, ckpt = trained
    out = tmp_path / "resumed"
    proc = run_cli("train", str(corpus), "--resume", str(ckpt), "--out", str(out), "--max-steps", "15", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).name == "step-00000027.pt"


@pytest.mark.parametrize(
    ("args", "code", "fragments"),
    [
        (["sample", "missing.pt"], 1, ["missing.pt", "no such checkpoint"]),
        (["train", "missing.csv"], 1, ["missing.csv", "no such file"]),
        (["train", "--lr", "-1", "x.txt"], 2, ["--lr", "must be > 0"]),
        (["train", "--epochs", "two", "x.txt"], 2, ["--epochs", "not an integer"]),
        (["sample", "x.pt", "--top-p", "1.5"], 2, ["--top-p", "<= 1"]),
        (["sample", "x.pt", "-t", "nan"], 2, ["--temperature", "not a finite number"]),
        (["frobnicate"], 2, ["invalid choice"]),
    ],
)
def test_usage_and_missing_file_errors(args: list[str], code: int, fragments: list[str], tmp_path: Path) -> None:
    assert_one_line_error(run_cli(*args, cwd=tmp_path), code, *fragments)


def test_bad_files_give_one_line_errors(trained: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, ckpt = trained
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_one_line_error(run_cli("train", str(empty)), 1, "empty.txt", "empty")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("id,date\n1,2\n")
    assert_one_line_error(run_cli("train", str(bad_csv)), 1, "bad.csv", "no 'text' column", "--column")
    too_long = tmp_path / "long.txt"
    too_long.write_text("y" * 300 + "\n")
    assert_one_line_error(run_cli("train", str(too_long)), 1, "long.txt", "no usable tweets", "--max-len")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(ckpt.read_bytes()[:5000])
    for cmd in (["info", str(corrupt)], ["sample", str(corrupt)], ["eval", str(corrupt), str(corpus)]):
        assert_one_line_error(run_cli(*cmd), 1, "corrupt.pt", "not a tweetgen checkpoint")
    not_json = tmp_path / "bad.jsonl"
    not_json.write_text('{"text": "ok"}\n{broken\n')
    assert_one_line_error(run_cli("train", str(not_json)), 1, "bad.jsonl", "line 2")
    assert_one_line_error(run_cli("sample", str(tmp_path)), 1, "no checkpoints")
    assert_one_line_error(run_cli("train", str(corpus), "--device", "tpu", "--quiet"), 1, "device")


def test_diverging_lr_is_a_clear_error(trained: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, _ = trained
    proc = run_cli("train", str(corpus), "--out", str(tmp_path / "div"), "--lr", "80", "--clip", "1e9",
                   "--lr-schedule", "constant", "--max-steps", "300", "--hidden", "16", "--quiet")
    assert_one_line_error(proc, 1, "diverged", "lower the learning rate")


def test_json_corpus_trains(tmp_path: Path) -> None:
    data = tmp_path / "t.json"
    data.write_text(json.dumps([{"text": t} for t in TINY_TWEETS]))
    proc = run_cli("train", str(data), "--out", str(tmp_path / "j"), "--max-steps", "3", "--hidden", "8", "--quiet")
    assert proc.returncode == 0, proc.stderr
