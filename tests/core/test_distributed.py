"""Training on two CPU processes with ``torchrun --standalone`` (gloo), against one process.

The tolerance. Two ranks with batch 16 step on the same global batches as one process
with batch 32 (core.train.distributed): each rank's loss is weighted by the characters of the
whole global batch, so DDP's averaged gradient is the one-process gradient, and only
float32 rounding differs (the loss and gradients are summed in another grouping, over
two processes instead of one). Measured on this machine over these 30 steps (three
epochs, each ending on a one-text batch that leaves rank 1 an empty share): at most
3.4e-7 bits/char on the training curve and 3.0e-7 on validation, a few float32 ulps of
values near 6. The subtlest wrong implementation we tried, each rank averaging its own
share (the per-rank mean instead of the global one, which length bucketing makes nearly
right), was off by 2.1e-4 (train) and 3.9e-4 (val) within 30 steps. ``TOL`` = 2e-5 sits
60 times above the rounding and 10 times below that mistake.

Every run here is a real process (torchrun and ``.venv/bin/tweetgen``), so the file
takes about a minute; the ports are torchrun's own (``--standalone``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core.store.checkpoints import load_checkpoint
from core.cli.main import main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOL = 2e-5  # bits/char; see the module docstring
STEPS = 30
# a tiny model; half the texts held out so validation spans two batches (one per rank); 1 thread as torchrun's ranks
# --dropout 0: each rank draws its own dropout masks, so only a run without dropout matches one process number
# for number (a corpus this small would otherwise get the small-corpus dropout, core.defaults.corpus_settings)
COMMON = ["--hidden", "16", "--embed", "8", "--dropout", "0", "--val-every", "3", "--ckpt-every", "15", "--val-fraction", "0.5",
          "--quiet"]


def _env(area: Path) -> dict[str, str]:
    return {**os.environ, "TWEETGEN_HOME": str(area / "home"), "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def torchrun(area: Path, *args: str, entry: str | None = None, env: dict[str, str] | None = None,
             wait: bool = True) -> subprocess.CompletedProcess[str] | subprocess.Popen[str]:
    cmd = [str(BIN / "torchrun"), "--standalone", "--nproc-per-node", "2", entry or str(BIN / "tweetgen"), *args]
    kwargs = dict(cwd=area / "cwd", env=env or _env(area), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if not wait:
        return subprocess.Popen(cmd, **kwargs)
    return subprocess.run(cmd, timeout=240, **kwargs)


def tweetgen(area: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "tweetgen"), *args], cwd=area / "cwd", env=_env(area), text=True,
                          capture_output=True, timeout=240)


def history(ckpt: Path) -> list[list[float]]:
    return load_checkpoint(ckpt).metrics["history"]


def assert_curves_match(a: list[list[float]], b: list[list[float]]) -> None:
    assert [h[0] for h in a] == [h[0] for h in b]
    for (step, train_a, val_a), (_s, train_b, val_b) in zip(a, b):
        if train_a == train_a:  # NaN before the first step
            assert abs(train_a - train_b) <= TOL, (step, train_a, train_b)
        assert abs(val_a - val_b) <= TOL, (step, val_a, val_b)


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ddp")
    area = root / "area"
    for sub in ("cwd", "home", "data"):
        (area / sub).mkdir(parents=True)
    lines = (REPO / "assets" / "demo_tweets.txt").read_text(encoding="utf-8").splitlines()[:578]  # 289 train texts: 9 global batches of 32 and one of 1, so rank 1 has an empty share once an epoch
    (area / "data" / "tweets.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return area


@pytest.fixture(scope="module")
def runs(area: Path) -> dict[str, Any]:
    """The same 30 steps on 2 processes x 16 texts and on 1 process x 32 texts."""
    data = str(area / "data" / "tweets.txt")
    two = torchrun(area, "train", data, "--out", str(area / "two"), "--batch-size", "16", "--max-steps", str(STEPS),
                   *[a for a in COMMON if a != "--quiet"])
    assert two.returncode == 0, two.stderr[-3000:]
    one = tweetgen(area, "train", data, "--out", str(area / "one"), "--batch-size", "32", "--max-steps", str(STEPS),
                   "--threads", "1", *COMMON)
    assert one.returncode == 0, one.stderr[-3000:]
    return {"two": two, "one": one, "data": data}


def test_shares_of_a_global_batch() -> None:
    from core.data.batching import shard

    rows = list(range(10))
    assert [shard(rows, r, 2) for r in range(2)] == [rows[:5], rows[5:]]
    assert [shard(rows, r, 3) for r in range(3)] == [rows[:4], rows[4:8], rows[8:]]
    assert [shard([7], r, 2) for r in range(2)] == [[7], []]


def test_two_processes_follow_the_one_process_curve(area: Path, runs: dict[str, Any]) -> None:
    two, one = runs["two"], runs["one"]
    said = " ".join(two.stderr.split())  # rich wraps long lines
    assert "289 train / 289 val texts" in said
    end = f"step-{STEPS:08d}.pt"
    assert two.stdout.splitlines() == [str(area / "two" / end)]  # rank 0 alone prints the checkpoint
    assert re.search(r"on cpu, 2 processes: ", said), said[-2000:]
    assert two.stderr.count("finished 30 steps") == 1  # the other rank prints nothing
    a, b = history(area / "one" / end), history(area / "two" / end)
    assert len(a) == STEPS // 3 + 1
    assert_curves_match(a, b)


def test_only_rank_zero_writes_and_files_are_those_of_one_process(area: Path, runs: dict[str, Any]) -> None:
    names = lambda d: sorted(p.name for p in d.iterdir())  # noqa: E731
    assert names(area / "two") == names(area / "one") == [
        "step-00000015.json", "step-00000015.pt", "step-00000030.json", "step-00000030.pt"]
    assert not any((area / "cwd").iterdir()) and not any((area / "home").iterdir())


def test_info_shows_the_world_size(area: Path, runs: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    for run, size in (("two", 2), ("one", 1)):
        assert main(["info", str(area / run / f"step-{STEPS:08d}.pt")]) == 0
        assert re.search(rf"world size\s+{size}\b", capsys.readouterr().out)
    ckpt = load_checkpoint(area / "two" / f"step-{STEPS:08d}.pt")
    assert ckpt.train_state["world_size"] == 2 and ckpt.train_state["train_config"]["batch_size"] == 16
    assert len(ckpt.train_state["rng_states"]) == 2


def test_two_process_checkpoint_resumes_on_one(area: Path, runs: dict[str, Any]) -> None:
    """2 x 16 resumes as 1 x 32 (the global batch is kept) and continues the same curve."""
    proc = tweetgen(area, "train", runs["data"], "--resume", str(area / "two" / "step-00000015.pt"),
                    "--out", str(area / "two-to-one"), "--max-steps", "15", "--threads", "1", "--quiet")
    assert proc.returncode == 0, proc.stderr
    end = area / "two-to-one" / f"step-{STEPS:08d}.pt"
    assert load_checkpoint(end).train_state["world_size"] == 1
    assert load_checkpoint(end).train_state["train_config"]["batch_size"] == 32
    assert_curves_match(history(area / "two" / end.name), history(end))


def test_one_process_checkpoint_resumes_on_two_and_only_rank_zero_writes(area: Path, runs: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    env = {**_env(area), "PROBE_ROOT": str(area), "PROBE_OUT": str(probe)}
    proc = torchrun(area, "train", runs["data"], "--resume", str(area / "one" / "step-00000015.pt"),
                    "--out", str(area / "one-to-two"), "--max-steps", "15", "--quiet",
                    entry=str(Path(__file__).with_name("ddp_probe.py")), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    end = area / "one-to-two" / f"step-{STEPS:08d}.pt"
    ts = load_checkpoint(end).train_state
    assert (ts["world_size"], ts["train_config"]["batch_size"]) == (2, 16)
    assert_curves_match(history(area / "one" / end.name), history(end))
    rank0 = (probe / "rank-0.txt").read_text().splitlines()
    rank1 = (probe / "rank-1.txt").read_text().splitlines()
    assert rank1 == []
    assert any(str(end) in line for line in rank0) and any(".tweetgen.lock" in line for line in rank0)


def _worker_of_rank(parent: int, rank: int) -> int:
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        if f"RANK={rank}".encode() in environ:
            return int(child)
    raise AssertionError(f"no worker of rank {rank} under torchrun {parent}")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds torchrun's workers through /proc")
def test_sigterm_to_one_rank_stops_all_with_a_checkpoint(area: Path, runs: dict[str, Any]) -> None:
    out = area / "stopped"
    proc = torchrun(area, "train", runs["data"], "--out", str(out), "--batch-size", "16", "--until-stopped",
                    "--hidden", "16", "--embed", "8", "--val-every", "5", "--ckpt-every", "5", wait=False)
    assert isinstance(proc, subprocess.Popen)
    try:
        deadline = time.monotonic() + 120
        while not (out / "step-00000005.pt").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1][-3000:] if proc.poll() is not None else "slow"
            time.sleep(0.2)
        os.kill(_worker_of_rank(proc.pid, 1), signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    last = Path(stdout.strip())
    assert last.parent == out and last.exists()
    assert "stop" in json.loads(last.with_suffix(".json").read_text())["tags"]
    assert re.search(r"stopped at step \d+; checkpoint saved", " ".join(stderr.split()))
    assert not (out / ".tweetgen.lock").exists()
    assert load_checkpoint(last).train_state["world_size"] == 2
