"""Section 14 of ``make bench`` (issue 19): the unit finder's time, memory and what it found.

The model: ``$TWEETGEN_BENCH_NEURONS_CKPT`` when set; else, in the full run, the default
10-minute dev model (``tweetgen train CORPUS --minutes 10 --threads 1``, trained here), and in
``--quick`` the demo checkpoint (``assets/demo.pt``). The texts: the checkpoint's own
validation split (:func:`core.neurons.finder.validation_texts`), up to 2,000 (100 quick); when the
checkpoint's corpus cannot be found, the bench corpus's seeded 10%.

The finder runs in a fresh interpreter on 2 torch threads (``python -m bench.neurons``), so
its peak RSS is its own: the figures are the finder's wall time (texts already in memory,
cache bypassed), its peak RSS growth over the RSS just before it (model loaded, texts read),
the cached re-read (``report_for_checkpoint`` a second time) and, per feature, the verdict:
a tracker unit, decodable only by the probe on all units ("spread"), or neither; with the
untrained baseline (the best untrained unit and the untrained probe).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO, child_main, fmt_or_dash, met_word, peak_rss_mb, rss_mb, run_worker, setup_torch

TARGET_S = 5.0


def _checkpoint(p: dict[str, Any], corpus: Path, tmp: Path, log: Any) -> tuple[Path | None, str]:
    forced = os.environ.get("TWEETGEN_BENCH_NEURONS_CKPT")
    if forced:
        return Path(forced), "given ($TWEETGEN_BENCH_NEURONS_CKPT)"
    if p["neurons_train_minutes"] <= 0:
        from core.assets import demo_checkpoint_path

        path = demo_checkpoint_path()
        return (path if path.exists() else None), "the demo checkpoint"
    minutes = p["neurons_train_minutes"]
    log(f"neurons: training the default model for {minutes:g} minutes on 1 thread")
    out = tmp / "neurons-model"
    proc = subprocess.run([sys.executable, "-m", "core.cli.main", "train", str(corpus), "--minutes", str(minutes), "--threads", "1",
                           "--out", str(out), "--quiet"], cwd=REPO, capture_output=True, text=True, timeout=minutes * 60 + 600)
    if proc.returncode != 0:
        return None, f"training failed: {proc.stderr.strip()[-200:]}"
    return Path(proc.stdout.strip().splitlines()[-1]), f"default settings, {minutes:g} minutes, 1 thread"


def section_neurons(p: dict[str, Any], corpus: Path, tmp: Path, log: Any) -> dict[str, Any]:
    ckpt, how = _checkpoint(p, corpus, tmp, log)
    if ckpt is None:
        return {"error": f"no checkpoint: {how}"}
    log(f"neurons: the finder on {ckpt} ({p['neurons_texts']} texts, 2 threads)")
    load = os.getloadavg()[0]
    out = run_worker("neurons", {"checkpoint": str(ckpt), "corpus": str(corpus), "max_texts": p["neurons_texts"],
                                 "twin_texts": p["neurons_twin_texts"]}, timeout=1800)
    out.update({"checkpoint": str(ckpt), "model": how, "load_avg_before": load, "load_avg_after": os.getloadavg()[0],
                "target_s": TARGET_S})
    if "finder_s" in out:
        out["met"] = out["finder_s"] < TARGET_S
    return out


def task_neurons(args: dict[str, Any]) -> dict[str, Any]:
    """In a fresh interpreter: load, read the texts, then time the finder alone."""
    setup_torch(int(args.get("threads", 2)))
    import torch

    from core.store.checkpoints import load_checkpoint
    from core.neurons.finder import (FEATURES, NeuronsError, find_units, report_for_checkpoint, validation_texts, verdict)

    ckpt = load_checkpoint(args["checkpoint"])
    try:
        texts, source = validation_texts(ckpt), "the checkpoint's validation split"
    except NeuronsError:
        from bench.common import load_split

        texts, source = load_split(Path(args["corpus"]))[1], "the bench corpus's seeded 10%"
    model = ckpt.model()
    seed = ckpt.train_state.get("train_config", {}).get("seed", 0)
    import core.neurons.finder as finder

    forward = {"s": 0.0, "chars": 0}
    real_states = finder._states

    def timed_states(m: Any, v: Any, batch: Any) -> Any:  # the GRU's share of the finder's time
        t0 = time.perf_counter()
        out = real_states(m, v, batch)
        forward["s"] += time.perf_counter() - t0
        forward["chars"] += out.shape[0]
        return out

    finder._states = timed_states
    peak_gflops = _matmul_gflops()
    rss_before, peak_before = rss_mb(), peak_rss_mb()
    cpu_start, start = time.process_time(), time.perf_counter()
    report = find_units(model, ckpt.vocab, texts, max_texts=int(args["max_texts"]), seed=seed, step=ckpt.step,
                        twin_texts=int(args["twin_texts"]))
    finder_s, finder_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    peak_after = peak_rss_mb()
    finder._states = real_states
    flops = forward["chars"] * _gru_flops(model)
    with tempfile.TemporaryDirectory() as tmp:  # a copy: the cache beside it must not overwrite a shipped or user's one
        copy = Path(tmp) / Path(args["checkpoint"]).name
        shutil.copyfile(args["checkpoint"], copy)
        report_for_checkpoint(copy, texts)  # writes the cache (a second finder run)
        start = time.perf_counter()
        report_for_checkpoint(copy, texts)
        cached_ms = (time.perf_counter() - start) * 1000
    features = {}
    for f in FEATURES:
        best = report.best(f)
        features[f] = {
            "verdict": verdict(report, f), "count": report.counts.get(f),
            "best": None if best is None else {"unit": best.unit, "score": best.score, "auc_or_r": best.auc_or_r,
                                               "sign": best.sign, "halves": best.halves, "untrained_same_unit": best.untrained},
            "trackers": [u.unit for u in report.trackers(f)],
            "untrained_best": report.untrained_best.get(f), "probe": report.probe.get(f),
            "untrained_probe": report.untrained_probe.get(f),
        }
    return {"finder_s": finder_s, "finder_cpu_s": finder_cpu_s, "forward_s": forward["s"], "forward_chars": forward["chars"],
            "forward_gflops": flops / max(forward["s"], 1e-9) / 1e9, "matmul_peak_gflops_now": peak_gflops,
            "rest_s": finder_s - forward["s"], "threads": torch.get_num_threads(), "texts": report.n_texts, "chars": report.n_chars,
            "texts_from": source, "hidden": report.hidden, "step": report.step, "twin_texts": int(args["twin_texts"]),
            "rss_before_mb": rss_before, "peak_growth_mb": max(0.0, peak_after - max(peak_before, rss_before)),
            "peak_rss_mb": peak_after, "cached_read_ms": cached_ms, "features": features}


def _matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    """This moment's float32 matmul rate (best of ``reps``): what the machine gives the finder right now."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _gru_flops(model: Any) -> int:
    """Forward FLOPs of the GRU layers per character (the decoder is not run by the finder)."""
    c = model.config
    return sum(2 * 3 * c.hidden_size * ((c.embed_dim if k == 0 else c.hidden_size) + c.hidden_size) for k in range(c.num_layers))


def table_rows(n: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of the bench table for this section."""
    f = fmt_or_dash
    if "error" in n:
        return [("14 neurons", "unit finder", "-", n["error"][:40])]
    rows = [
        ("14 neurons", f"finder s, {f(n.get('texts'), ',')} texts, {f(n.get('threads'), 'd')} threads",
         f(n.get("finder_s"), ".2f"), f"< {TARGET_S:g} {met_word(n.get('met'))}"),
        ("14 neurons", "of which the GRU forward, s / its GFLOP/s", f"{f(n.get('forward_s'), '.2f')} / {f(n.get('forward_gflops'), '.1f')}",
         f"matmul peak now {f(n.get('matmul_peak_gflops_now'), '.0f')}"),
        ("14 neurons", "peak RSS growth MB / cached re-read ms", f"{f(n.get('peak_growth_mb'), '.0f')} / {f(n.get('cached_read_ms'), '.0f')}", ""),
    ]
    for feat, r in n.get("features", {}).items():
        best = r.get("best") or {}
        rows.append(("14 neurons", f"{feat}: {r['verdict']} (unit {best.get('unit', '-')})",
                     f"{f(best.get('score'), '.2f')} / probe {f(r.get('probe'), '.2f')}",
                     f"untrained {f(r.get('untrained_best'), '.2f')} / {f(r.get('untrained_probe'), '.2f')}"))
    return rows


if __name__ == "__main__":
    child_main(task_neurons)
