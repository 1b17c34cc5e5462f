"""Shared helpers: corpus choice, the seeded split, subprocess workers, RSS, machine facts."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEV_CSV = REPO.parent / "shared" / "data" / "trump_tweets_dev.csv"
DEMO_TXT = REPO / "assets" / "demo_tweets.txt"
RESULTS_DIR = REPO / "bench" / "results"
THREADS = 2  # the bench machine has 2 cores; every training/sampling measurement pins torch to 2 threads
SPLIT_SEED = 0
VAL_FRACTION = 0.1


def corpus_path() -> Path:
    """``$TWEETGEN_BENCH_CORPUS``, else the dev corpus when it is there, else the app's demo corpus."""
    forced = os.environ.get("TWEETGEN_BENCH_CORPUS")
    if forced:
        return Path(forced)
    if DEV_CSV.exists():
        return DEV_CSV
    if DEMO_TXT.exists():
        return DEMO_TXT
    raise FileNotFoundError(f"neither {DEV_CSV} nor {DEMO_TXT} exists; the bench needs a corpus")


def load_split(path: Path) -> tuple[list[str], list[str]]:
    """The corpus with the app's default filters, split 90/10 with a fixed seed."""
    from core.data.corpus import load_corpus, split_texts

    texts, _ = load_corpus(path)
    return split_texts(texts, VAL_FRACTION, seed=SPLIT_SEED)


def setup_torch(threads: int = THREADS) -> None:
    import warnings

    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

    torch.set_num_threads(threads)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def run_worker(task: str, args: dict[str, Any], timeout: float = 900.0, threads: int = THREADS) -> dict[str, Any]:
    """Run ``bench.worker`` TASK in a fresh interpreter; returns its JSON result.

    A failing worker returns ``{"error": "..."}`` rather than stopping the whole bench.
    """
    with tempfile.TemporaryDirectory(prefix="tweetgen-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "bench.worker", task, json.dumps(args), str(out)]
        args = {**args, "threads": threads}
        env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS=str(threads))
        env.setdefault("TWEETGEN_HOME", str(Path(tmp) / "home"))
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"{task}: timed out after {timeout:.0f}s"}
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            return {"error": f"{task}: exit {proc.returncode}: " + " | ".join(tail)}
        result = json.loads(out.read_text())
        result.setdefault("worker_wall_s", time.perf_counter() - start)
        return result


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "threads": THREADS,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["memory_gb"] = round(int(mem[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except Exception:  # noqa: BLE001 - facts only
        pass
    info["load_avg_start"] = os.getloadavg()
    return info


def fmt_or_dash(x: Any, spec: str) -> str:
    """A figure for a results table; ``-`` when it was not measured."""
    return "-" if x is None else format(x, spec)


def met_word(ok: Any) -> str:
    """A target's verdict for a results table: met, NOT met, or ``-`` when not measured."""
    return "-" if ok is None else ("met" if ok else "NOT met")


def load_scaling(loads: list[dict[str, Any]]) -> dict[str, Any]:
    """How load time grows with corpus size over ``loads`` (each with ``scale``, ``bytes`` and, when it
    ran, ``load_s``): the growth exponent from the smallest to the largest (1 = linear), seconds a MB."""
    ok = [r for r in loads if "load_s" in r]
    if len(ok) < 2:
        return {}
    a, b = ok[0], ok[-1]
    ratio = b["load_s"] / a["load_s"]
    exponent = math.log(ratio) / math.log(b["scale"] / a["scale"])
    return {"time_ratio": ratio, "scaling_exponent": exponent, "s_per_mb": [r["load_s"] / (r["bytes"] / 2**20) for r in ok],
            "linear_met": exponent < 1.25}


def child_main(child: Any) -> None:
    """``python -m bench.X ARGS_JSON OUT``: run ``child(args)`` in this fresh process and write its result to OUT.

    ``$TWEETGEN_BENCH_CORE`` goes ahead of the checkout on sys.path (``-m`` puts the working folder
    first), so a bench can measure another version of core."""
    core_root = os.environ.get("TWEETGEN_BENCH_CORE")
    if core_root:
        sys.path.insert(0, core_root)
    args, out = json.loads(sys.argv[1]), Path(sys.argv[2])
    out.write_text(json.dumps(child(args)))
