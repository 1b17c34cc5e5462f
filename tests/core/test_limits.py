"""What a machine and a model can take (core.train.limits): requests too big for memory are refused in one line
before allocating, and a resume onto text the model has never seen is refused unless insisted (issue 12).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from corehelpers import TINY_CLI, one_error_line, train_tiny

from core.cli.main import EVAL_POSITIONS, main
from core.data.vocab import CharVocab
from core.store import runlock
from core.store.registry import list_checkpoints
from core.train import limits as safety
from core.train.process import TrainJob, prepare_job

TINY = TINY_CLI
_train, _one_line = train_tiny, one_error_line


# ---------------------------------------------------------------- memory


GB = 10**9


@pytest.fixture
def four_gb(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine has 4 GB available, whatever this one has."""
    monkeypatch.setattr(safety, "available_memory", lambda device="cpu": 4 * GB)


@pytest.mark.parametrize("argv", [
    ["--hidden", "100000"],
    ["--embed", "1000000"],
    ["--hidden", "20000", "--layers", "4"],
    ["--batch-size", "1000000", "--hidden", "1024"],
], ids=lambda a: " ".join(a))
def test_training_too_big_for_memory_is_refused_in_one_line_before_allocating(
        argv: list[str], tmp_path: Path, corpus: Path, four_gb: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import core.model.gru

    def no_model(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the model was allocated before the memory check")

    monkeypatch.setattr(core.model.gru, "new_model", no_model)
    code = main(["train", str(corpus), "--out", str(tmp_path / "run"), "--max-steps", "2", "--quiet", *argv])
    line = _one_line(capsys)
    assert code == 1 and "training this model needs about" in line and "4.0 GB is available" in line, line
    assert not (tmp_path / "run").exists()


def test_a_huge_model_is_refused_on_this_machine_too(tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No patching: --hidden 100000 needs about 480 GB, more than any machine running this test has."""
    assert main(["train", str(corpus), "--out", str(tmp_path / "run"), "--hidden", "100000", "--quiet"]) == 1
    assert "needs about" in _one_line(capsys)


def test_sampling_and_eval_too_big_for_memory_are_refused(trained: Path, tmp_path: Path, four_gb: None,
                                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(trained), "-n", "100000", "--max-len", "100000"]) == 1
    assert "sampling 100,000 texts of up to 100,000 characters needs about" in _one_line(capsys)
    assert main(["sample", str(trained), "-n", "2", "--max-len", "300", "--seed", "1"]) == 0, "a request that fits runs"
    capsys.readouterr()
    huge = tmp_path / "huge.txt"
    huge.write_text("ab " * 700_000 + "\n", encoding="utf-8")  # one 2.1-million-character text
    monkeypatch.setattr(safety, "available_memory", lambda device="cpu": 50 * 10**6)
    assert main(["eval", str(trained), str(huge), "--max-len", "3000000"]) == 1
    line = _one_line(capsys)
    assert "evaluating texts of up to 2,099,999 characters needs about" in line and "--max-len" in line, line


@pytest.mark.parametrize("argv,said,not_said", [
    (["--stream", "-n", "1"], "sampling a text of up to", ("--stream", "-n)", "1 texts")),
    (["--json", "-n", "3"], "sampling a text of up to", ("--stream", "-n)", "texts")),
    (["-n", "1"], "sampling a text of up to", ("--stream", "-n)", "1 texts")),
    (["-n", "5"], "sampling 5 texts of up to", ()),
], ids=lambda a: " ".join(a) if isinstance(a, list) else None)
def test_sampling_too_big_for_memory_suggests_only_what_would_help(argv: list[str], said: str, not_said: tuple[str, ...],
                                                                   trained: Path, four_gb: None,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--stream -n 1 --max-len 1e12 was told to "use --stream", which it did, about "1 texts"."""
    assert main(["sample", str(trained), "--max-len", str(10**12), *argv]) == 1
    line = _one_line(capsys)
    assert said in line and "needs about" in line and "--max-len" in line, line
    for words in not_said:
        assert words not in line, line
    if "--stream" not in argv and "--json" not in argv and argv[-1] != "1":
        assert "--stream" in line and "(-n)" in line, line


def test_eval_batches_stay_bounded_when_texts_are_long(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import core.train.evaluate

    sizes: list[int] = []
    real = core.train.evaluate.make_batch

    def spy(seqs: Any, *a: Any, **k: Any) -> Any:
        sizes.append(len(seqs) * max(map(len, seqs)))
        return real(seqs, *a, **k)

    monkeypatch.setattr(core.train.evaluate, "make_batch", spy)  # `tweetgen eval` scores through core.train.evaluate
    long_texts = tmp_path / "long.txt"
    long_texts.write_text("\n".join(f"{i} " + "the cat sat " * 180 for i in range(300)) + "\n", encoding="utf-8")
    assert main(["eval", str(trained), str(long_texts), "--max-len", "5000"]) == 0
    assert "bits/char over" in capsys.readouterr().out
    assert sizes and max(sizes) <= EVAL_POSITIONS, max(sizes)


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried to allocate 8 GB"),
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    MemoryError(),
], ids=["cpu-allocator", "cuda", "python"])
def test_the_allocators_own_error_is_one_line_and_checkpoints_stay(error: BaseException, tmp_path: Path, corpus: Path,
                                                                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from core.train.trainer import Trainer

    run = tmp_path / "run"
    real = Trainer.train_step
    calls = [0]

    def step(self: Trainer, batch: Any) -> Any:
        calls[0] += 1
        if calls[0] == 4:
            raise error
        return real(self, batch)

    monkeypatch.setattr(Trainer, "train_step", step)
    assert main(["train", str(corpus), "--out", str(run), "--max-steps", "10", "--ckpt-every", "2", *TINY]) == 1
    line = _one_line(capsys)
    assert line.startswith("tweetgen train: error: out of memory"), line
    assert [i.step for i in list_checkpoints(run)] == [2]
    runlock.acquire(run, fresh=False).release()  # raises if the failed run still held the lock


def test_other_runtime_errors_are_not_disguised_as_out_of_memory(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import core.model.sampler

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("a bug, not memory")

    monkeypatch.setattr(core.model.sampler, "sample_batch", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["sample", str(trained)])


# ---------------------------------------------------------------- resume onto a different corpus


def test_resume_onto_unknown_text_is_refused_unless_insisted(trained: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.txt"
    other.write_text("\n".join(f"ЖЖЖ ЯЯЯ {i} ДДД шшш" for i in range(60)) + "\n", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in trained.iterdir()}
    assert main(["train", str(other), "--resume", str(trained), "--max-steps", "4", "--quiet"]) == 1
    line = _one_line(capsys)
    assert f"{other}: " in line and "% of its characters" in line and "unknown to the vocabulary" in line, line
    assert "--allow-unknown" in line
    assert {p.name: p.read_bytes() for p in trained.iterdir()} == before
    job = TrainJob(other, trained, resume_from=trained, train={"max_steps": 2}, threads=1)
    with pytest.raises(safety.LimitError, match="unknown to the vocabulary"):  # the app's child
        prepare_job(job)
    assert main(["train", str(other), "--resume", str(trained), "--max-steps", "4", "--quiet", "--allow-unknown"]) == 0
    assert "unknown to the vocabulary" in capsys.readouterr().err


def test_a_few_unknown_characters_are_reported_not_refused(trained: Path, tmp_path: Path, corpus: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    mostly = tmp_path / "mostly.txt"
    mostly.write_text(corpus.read_text(encoding="utf-8") + "the cat ate the 🍕\n", encoding="utf-8")
    assert main(["train", str(mostly), "--resume", str(trained), "--max-steps", "4", "--quiet"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "unknown to the vocabulary" in line]
    assert len(notes) == 1 and "(1 of " in notes[0], notes


@pytest.mark.parametrize("share,refused", [(0.0, False), (0.04, False), (0.05, False), (0.06, True), (0.97, True)])
def test_the_unknown_threshold(share: float, refused: bool) -> None:
    vocab = CharVocab.build(["abc"])
    n = 1000
    texts = ["x" * round(share * n) + "a" * (n - round(share * n))]
    if refused:
        with pytest.raises(safety.LimitError):
            safety.check_unknown(vocab, texts, "d.txt", "c.pt", allow=False, insist="add --allow-unknown")
        assert safety.check_unknown(vocab, texts, "d.txt", "c.pt", allow=True, insist="") is not None
    else:
        note = safety.check_unknown(vocab, texts, "d.txt", "c.pt", allow=False, insist="")
        assert (note is None) == (share == 0)
