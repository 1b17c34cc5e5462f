"""Reliability, round 2 (issue 12), core and CLI half: a closed terminal, two runs in one folder, an
unwritable --out, requests too big for memory, absurd numbers, CR line endings, files that are not
files, and resuming onto text the model has never seen.

Each test checks a class of failure: every numeric option, every stored number, every kind of
non-regular file, both front ends (``tweetgen train`` and the app's training child).
"""

from __future__ import annotations

import errno
import json
import math
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from corehelpers import TINY_CLI, one_error_line, tiny_corpus_file, train_tiny, REPO, TINY_TWEETS

from core.store import checkpoints, runlock
from core.train import limits as safety

from core.store import registry
from core.cli.flags import EXIT_USAGE
from core.train.process import TrainJob, prepare_job
from core.store.checkpoints import CheckpointError, load_checkpoint
from core.store.registry import list_checkpoints
from core.cli.main import EVAL_POSITIONS, build_parser, format_eta, main
from core.data.corpus import load_corpus
from core.data.vocab import CharVocab

TINY = TINY_CLI
_train, _one_line = train_tiny, one_error_line


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return tiny_corpus_file(tmp_path)


# ---------------------------------------------------------------- 2: SIGHUP


@pytest.mark.slow
def test_sighup_with_the_terminal_gone_saves_the_current_step_and_exits_0(tmp_path: Path, corpus: Path) -> None:
    """A closed terminal: stdout and stderr are a pty whose other end is closed (writes fail with EIO), then SIGHUP.

    The run must still write a 'stop' checkpoint past the last periodic one and exit 0.
    """
    out = tmp_path / "run"
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "core.cli.main", "train", str(corpus), "--out", str(out), "--max-steps", "1000000",
           "--hidden", "8", "--embed", "8", "--batch-size", "4", "--ckpt-every", "10", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, close_fds=True)
    os.close(slave)

    def drain() -> None:  # keep the progress display flowing until the "terminal" closes
        while True:
            try:
                if not os.read(master, 65536):
                    return
            except OSError:
                return

    threading.Thread(target=drain, daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("step-*.pt")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(out.glob("step-*.pt")), "no periodic checkpoint within 120 s"
        os.close(master)  # the terminal window is closed
        proc.send_signal(signal.SIGHUP)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0
    infos = list_checkpoints(out)
    last = max(infos, key=lambda i: i.step)
    assert last.tags == ["stop"], [(i.step, i.tags) for i in infos]
    assert load_checkpoint(last.path).step == last.step
    assert not (out / runlock.LOCK_NAME).exists(), "the lock is released on a clean stop"


# ---------------------------------------------------------------- 3: one run per folder


_HOLDER = """
import sys
from core.store import runlock
lock = runlock.acquire(sys.argv[1], fresh=True)
print("locked", flush=True)
sys.stdin.read()
"""


def _hold_lock_in_another_process(run: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_training_process_is_refused_naming_the_owner_and_a_dead_owner_does_not_block(
        tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    holder = _hold_lock_in_another_process(run)
    try:
        # the CLI
        assert _train(corpus, run) == 1
        line = _one_line(capsys)
        assert f"{run}: in use by another training run, pid {holder.pid} " in line and "--out" in line, line
        # the app's training child builds its trainer with the same check
        with pytest.raises(runlock.RunDirError, match=f"pid {holder.pid} "):
            prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
        assert not list(run.glob("*.pt")), "the refused runs wrote nothing"
    finally:
        holder.kill()  # like kill -9: the lock file stays behind, the kernel lock does not
        holder.wait()
    assert (run / runlock.LOCK_NAME).exists()
    assert _train(corpus, run) == 0, "a lock left by a dead process must not block"
    assert not (run / runlock.LOCK_NAME).exists()


def test_the_lock_is_held_for_the_run_and_released_after(tmp_path: Path, corpus: Path) -> None:
    """Within one process too: a second acquire fails while the first is held (flock is per open file)."""
    run = tmp_path / "run"
    prepared = prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
    with pytest.raises(runlock.RunDirError, match=f"pid {os.getpid()} "):
        runlock.acquire(run, fresh=False)
    prepared.release()
    runlock.acquire(run, fresh=False).release()


def test_a_fresh_run_in_a_folder_with_checkpoints_is_refused_unless_resumed(
        tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    first = ["train", str(corpus), "--home", str(home), "--run", "mine", "--max-steps", "2", *TINY]
    assert main(first) == 0
    capsys.readouterr()
    run = registry.runs_dir(home) / "mine"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for argv in (first, ["train", str(corpus), "--out", str(run), "--max-steps", "4", *TINY]):
        assert main(argv) == 1
        line = _one_line(capsys)
        assert f"{run}: already holds 1 checkpoint(s)" in line and f"--resume {run}" in line, line
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before, "nothing of the first run was touched"
    with pytest.raises(runlock.RunDirError, match="already holds"):  # the app's child, asked for a fresh run there
        prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
    assert main(["train", str(corpus), "--resume", str(run), "--max-steps", "2", "--quiet"]) == 0  # 2 more
    assert [i.step for i in list_checkpoints(run)] == [2, 4]


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".", "", "  ", "/abs", "a\\b", "x/../../y"])
def test_run_names_that_are_paths_are_refused(name: str, corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["train", str(corpus), "--home", str(tmp_path / "home"), "--run", name, "--max-steps", "2", *TINY])
    assert exc.value.code == EXIT_USAGE
    assert "argument --run" in _one_line(capsys)
    assert not (tmp_path / "home").exists() and not (tmp_path / "escape").exists()


# ---------------------------------------------------------------- 4: unwritable --out, found before the first step


def _no_training_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.train.trainer import Trainer

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("a training step ran before the output folder was checked")

    monkeypatch.setattr(Trainer, "train_step", refuse)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_an_unwritable_out_is_reported_before_the_first_step(code: int, tmp_path: Path, corpus: Path,
                                                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Simulated with the errno the kernel gives (tests may run as root, where chmod does not stop writes)."""
    run = tmp_path / "run"
    real_open = open

    def fake_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode and Path(path).parent == run:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "open", fake_open, raising=False)
    _no_training_steps(monkeypatch)
    assert _train(corpus, run) == 1
    line = _one_line(capsys)
    assert line.startswith(f"tweetgen train: error: {run}: cannot write checkpoints here ({os.strerror(code)})"), line
    assert "--out" in line
    with pytest.raises(CheckpointError, match="cannot write checkpoints here"):  # the app's child
        prepare_job(TrainJob(corpus, run, train={"max_steps": 2}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))


def test_an_out_below_a_file_is_reported_before_the_first_step(tmp_path: Path, corpus: Path,
                                                               monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _no_training_steps(monkeypatch)
    assert _train(corpus, corpus / "run") == 1
    line = _one_line(capsys)
    assert f"{corpus / 'run'}: cannot write checkpoints here" in line and "a file is in the way" in line, line


# ---------------------------------------------------------------- 6: memory


GB = 10**9


@pytest.fixture
def four_gb(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine has 4 GB available, whatever this one has."""
    monkeypatch.setattr(safety, "available_memory", lambda device="cpu": 4 * GB)


@pytest.fixture
def trained(tmp_path: Path, corpus: Path) -> Path:
    run = tmp_path / "trained"
    assert _train(corpus, run) == 0
    return run


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
    import core.train.trainer

    sizes: list[int] = []
    real = core.train.trainer.make_batch

    def spy(seqs: Any, *a: Any, **k: Any) -> Any:
        sizes.append(len(seqs) * max(map(len, seqs)))
        return real(seqs, *a, **k)

    monkeypatch.setattr(core.train.trainer, "make_batch", spy)
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


# ---------------------------------------------------------------- 7: absurd numbers


def _numeric_options() -> list[tuple[str, str, str]]:
    """(command, option, kind) for every option of every command that takes a number."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    found = []
    for command, p in sub.choices.items():
        for action in p._actions:
            kind = getattr(action.type, "__name__", "")
            if action.option_strings and kind in ("int", "float"):
                found.append((command, action.option_strings[-1], kind))
    return found


NUMERIC = _numeric_options()
POSITIONALS = {"train": ["data.txt"], "sample": ["x.pt"], "eval": ["x.pt", "data.txt"]}


def test_the_numeric_option_list_is_complete() -> None:
    names = {(c, o) for c, o, _ in NUMERIC}
    expected = {("train", o) for o in ("--max-steps", "--epochs", "--minutes", "--hidden", "--embed", "--layers", "--seed",
                                       "--batch-size", "--lr", "--threads", "--keep-last", "--val-every", "--max-len")}
    expected |= {("sample", o) for o in ("--num", "--max-len", "--seed", "--temperature", "--top-k")}
    assert expected <= names, expected - names


@pytest.mark.parametrize("command,option,kind", NUMERIC, ids=[f"{c} {o}" for c, o, _ in NUMERIC])
def test_every_numeric_option_refuses_absurd_values_in_one_line(command: str, option: str, kind: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("1e30", "1" + "0" * 30, "1e300", "-1" + "0" * 30, "inf", "nan"):
        with pytest.raises(SystemExit) as exc:
            main([command, *POSITIONALS[command], f"{option}={value}"])
        assert exc.value.code == EXIT_USAGE, (option, value)
        line = _one_line(capsys)
        assert f"argument {option}" in line or option.lstrip("-") in line, line


@pytest.mark.parametrize("seconds,shown", [
    (0, "00:00:00"), (59.9, "00:00:59"), (86399, "23:59:59"), (86400, "1d 00:00:00"), (97445, "1d 03:04:05"),
    (400 * 86400 + 1, "400d 00:00:01"), (1e12, ">10000d"), (1e300, ">10000d"),
    (None, "-"), (math.inf, "-"), (math.nan, "-"), (-5, "-"),
])
def test_eta_past_a_day_shows_days_and_never_overflows(seconds: float | None, shown: str) -> None:
    assert format_eta(seconds) == shown


def _edited_checkpoint(src: Path, dst: Path, where: str, value: Any) -> Path:
    payload = torch.load(src, weights_only=True)
    target = payload
    *parents, key = where.split(".")
    for part in parents:
        target = target[part]
    target[key] = value
    torch.save(payload, dst)
    return dst


ABSURD_STORED = [
    ("train_state.elapsed", math.inf), ("train_state.elapsed", math.nan), ("train_state.elapsed", 1e300),
    ("train_state.elapsed", -5.0), ("train_state.step", 10**30), ("train_state.epoch", 10**20),
    ("train_state.batch_in_epoch", 10**400), ("train_state.best_val", math.inf), ("train_state.best_val", math.nan),
    ("train_state.train_config.max_steps", 10**30), ("train_state.train_config.minutes", 1e300),
    ("train_state.train_config.lr", math.nan), ("train_state.train_config.epochs", math.inf),
    ("train_state.filter_config.max_len", 10**30), ("metrics.val_bpc", math.inf), ("metrics.train_loss", 1e300),
    ("metrics.history", [[1.0, 1e300, math.nan]]), ("created", math.inf), ("created", 1e300), ("created", math.nan),
]


@pytest.mark.parametrize("where,value", ABSURD_STORED, ids=[f"{w}={v!r}"[:40] for w, v in ABSURD_STORED])
def test_absurd_numbers_stored_in_a_checkpoint_are_refused_in_one_line(where: str, value: Any, trained: Path, tmp_path: Path,
                                                                       corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _edited_checkpoint(trained / "step-00000002.pt", tmp_path / "edited.pt", where, value)
    field = where.split(".history")[0]
    for argv in (["train", str(corpus), "--resume", str(bad), "--out", str(tmp_path / "resumed"), "--quiet"],
                 ["info", str(bad)], ["sample", str(bad)]):
        assert main(argv) == 1, argv
        line = _one_line(capsys)
        assert str(bad) in line and field in line, line
    assert not (tmp_path / "resumed").exists()


@pytest.mark.parametrize("field,value", [("step", 10**30), ("step", -3), ("created", 1e300), ("created", math.nan),
                                         ("created", math.inf), ("step", "many")])
def test_absurd_numbers_in_a_sidecar_fall_back_to_the_checkpoint(field: str, value: Any, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sidecar = trained / "step-00000002.json"
    meta = json.loads(sidecar.read_text())
    meta[field] = value
    sidecar.write_text(json.dumps(meta))  # written after the .pt, so it is taken as current
    [info] = list_checkpoints(trained)
    assert info.step == 2 and 0 < info.created < time.time() + 60
    assert main(["list", str(trained)]) == 0 and "step-00000002.pt" in capsys.readouterr().out


def test_large_but_sane_stored_numbers_still_load(trained: Path, tmp_path: Path) -> None:
    """The bounds are not so tight that a long run's checkpoint is refused: years of training, a 2**63 seed."""
    path = _edited_checkpoint(trained / "step-00000002.pt", tmp_path / "a.pt", "train_state.elapsed", 3e8)
    path = _edited_checkpoint(path, path, "train_state.train_config.seed", 2**63 - 1)
    assert load_checkpoint(_edited_checkpoint(path, path, "train_state.step", 10**12)).step == 10**12


# ---------------------------------------------------------------- 8: line endings


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("suffix", [".txt", ".text", ".dat"])
def test_every_line_ending_gives_one_item_per_line(newline: str, suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"corpus{suffix}"
    path.write_bytes(newline.join(TINY_TWEETS[:5]).encode() + newline.encode())
    texts, report = load_corpus(path)
    assert texts == TINY_TWEETS[:5] and report.read == 5


def test_mixed_line_endings_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"one\rtwo\r\nthree\nfour")
    assert load_corpus(path)[0] == ["one", "two", "three", "four"]


# ---------------------------------------------------------------- 9: files that are not regular files


_NON_REGULAR = """
import json, os, socket, sys
from core.cli.main import main
from core.data.corpus import CorpusError, load_corpus
tmp = sys.argv[1]
os.mkfifo(os.path.join(tmp, "fifo"))
sock = socket.socket(socket.AF_UNIX); sock.bind(os.path.join(tmp, "sock"))
results = []
for data in (os.path.join(tmp, "fifo"), "/dev/zero", os.path.join(tmp, "sock")):
    results.append(["train", data, main(["train", data, "--out", os.path.join(tmp, "run"), "--quiet"])])
    results.append(["eval", data, main(["eval", sys.argv[2], data])])
    try:
        load_corpus(data)  # what the app's --data and its training child call
        results.append(["load_corpus", data, 0])
    except CorpusError as exc:
        results.append(["load_corpus", data, str(exc)])
results.append(["sample", "fifo", main(["sample", os.path.join(tmp, "fifo")])])
results.append(["sample", "/dev/zero", main(["sample", "/dev/zero"])])
print(json.dumps(results))
"""


@pytest.mark.slow
def test_fifos_devices_and_sockets_are_refused_in_one_line_without_hanging(trained: Path, tmp_path: Path) -> None:
    """In a child with a time limit: before the fix the FIFO blocked forever and /dev/zero ate memory."""
    import resource

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (12 * GB, 12 * GB))

    proc = subprocess.run([sys.executable, "-c", _NON_REGULAR, str(tmp_path), str(trained)], capture_output=True, text=True,
                          timeout=120, cwd=REPO, preexec_fn=limit_memory)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.splitlines()[-1])
    errors = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr
    assert len(errors) == 8 and all("not a regular file" in e for e in errors), errors
    for command, data, outcome in results:
        if command == "load_corpus":
            assert isinstance(outcome, str) and outcome.startswith(f"{data}: not a regular file"), outcome
        else:
            assert outcome == 1, (command, data)
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- 10: resume onto a different corpus


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


# ---------------------------------------------------------------- 12: disk full while writing the sidecar


def test_disk_full_on_the_sidecar_names_the_checkpoint_and_keeps_it(tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    real = checkpoints.atomic_write

    def full_on_json(path: Path, write: Any) -> None:
        if Path(path).suffix == ".json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real(path, write)

    monkeypatch.setattr(checkpoints, "atomic_write", full_on_json)
    assert main(["train", str(corpus), "--out", str(run), "--max-steps", "4", "--ckpt-every", "2", *TINY]) == 1
    line = _one_line(capsys)
    pt = run / "step-00000002.pt"
    assert line.startswith(f"tweetgen train: error: {pt}: cannot write checkpoint (No space left on device)"), line
    assert ".json" not in line
    assert load_checkpoint(pt).step == 2 and [i.step for i in list_checkpoints(run)] == [2]

