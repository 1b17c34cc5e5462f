"""Which corpus a run trained on (core.store.provenance): recorded by absolute path and fingerprint, so
`--check-novelty` names a changed or moved corpus in one line and still reads old checkpoints (issue 20).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from corehelpers import TINY_CLI, TINY_TWEETS, one_error_line, train_tiny

from core.cli.main import main
from core.store.checkpoints import load_checkpoint

TINY = TINY_CLI
_train, _one_line = train_tiny, one_error_line


# ---------------------------------------------------------------- --check-novelty knows the corpus it trained on


@pytest.fixture
def novelty_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """A run trained from its own folder on ``tweets.txt`` given by a relative path."""
    here = tmp_path / "here"
    here.mkdir()
    (here / "tweets.txt").write_text("\n".join(TINY_TWEETS * 2) + "\n", encoding="utf-8")
    monkeypatch.chdir(here)
    assert main(["train", "tweets.txt", "--out", str(tmp_path / "run"), "--max-steps", "2", *TINY]) == 0
    capsys.readouterr()
    return here / "tweets.txt", tmp_path / "run" / "step-00000002.pt"


def _novelty(ckpt: Path) -> list[str]:
    return ["sample", str(ckpt), "-n", "1", "--seed", "1", "--check-novelty"]


def test_the_corpus_is_recorded_by_absolute_path_and_fingerprint(novelty_run: tuple[Path, Path], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    corpus, ckpt = novelty_run
    ts = load_checkpoint(ckpt).train_state
    assert ts["data_path"] == str(corpus) and ts["data_paths"] == [str(corpus)]
    assert ts["data_files"][0]["size"] == corpus.stat().st_size and len(ts["data_files"][0]["sha256"]) == 32
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # run from another folder: the recorded file is still found
    assert main(_novelty(ckpt)) == 0
    assert "of 1 texts copy" in capsys.readouterr().err
    (elsewhere / "tweets.txt").write_text("something else entirely\n")  # a different file of that name here
    assert main(_novelty(ckpt)) == 0  # is not used: the recorded path is absolute
    assert "of 1 texts copy" in capsys.readouterr().err


@pytest.mark.parametrize("change", ["replaced", "same-size", "appended"])
def test_a_changed_corpus_is_named_in_one_line(change: str, novelty_run: tuple[Path, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    corpus, ckpt = novelty_run
    data = corpus.read_bytes()
    if change == "replaced":
        corpus.write_text("an entirely different corpus\nof two lines\n")
    elif change == "same-size":
        corpus.write_bytes(data.replace(b"the", b"THE"))
    else:
        corpus.write_bytes(data + b"one more tweet\n")
    assert main(_novelty(ckpt)) == 1
    line = _one_line(capsys)
    assert f"{corpus} is not the corpus this checkpoint trained on" in line, line
    assert f"--check-novelty {corpus}" in line
    if change == "same-size":
        assert "same size, different content" in line
    else:
        assert f"{len(data):,} bytes when trained on" in line
    assert main([*_novelty(ckpt), str(corpus)]) == 0, "given explicitly, it is used"


def test_a_moved_corpus_is_named_in_one_line_and_found_beside_the_checkpoint(
        novelty_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    corpus, ckpt = novelty_run
    beside = ckpt.parent / corpus.name
    corpus.rename(beside.with_suffix(".moved"))
    assert main(_novelty(ckpt)) == 1
    line = _one_line(capsys)
    assert f"its training corpus {corpus} is not there any more (moved or deleted)" in line and "--check-novelty DATA" in line
    beside.with_suffix(".moved").rename(beside)  # beside the checkpoint, the same bytes: used
    assert main(_novelty(ckpt)) == 0
    capsys.readouterr()
    beside.write_text("not the same\n")
    assert main(_novelty(ckpt)) == 1
    assert "is not there any more" in _one_line(capsys)


def test_old_checkpoints_with_relative_paths_and_no_fingerprint_still_work(
        novelty_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    corpus, ckpt = novelty_run
    payload = torch.load(ckpt, weights_only=True)
    for key in ("data_files",):
        payload["train_state"].pop(key)
    payload["train_state"]["data_path"] = "tweets.txt"
    payload["train_state"]["data_paths"] = ["tweets.txt"]
    old = tmp_path / "old" / "step-00000002.pt"
    old.parent.mkdir()
    torch.save(payload, old)
    assert main(_novelty(old)) == 0  # relative to the folder it trained in (the cwd here)
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(_novelty(old)) == 1
    assert "tweets.txt is not there any more" in _one_line(capsys)
    (old.parent / "tweets.txt").write_bytes(corpus.read_bytes())  # beside the checkpoint, as the demo ships
    assert main(_novelty(old)) == 0
