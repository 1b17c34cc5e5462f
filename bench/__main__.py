"""``python -m bench [--quick] [--json PATH]``: run every section, print a table, write JSON."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ui_lag import TARGET_P99_MS  # the app's lag target, defined where it is measured

from bench.common import RESULTS_DIR, corpus_path, load_scaling, machine, run_worker

FULL = {"budget_s": 120.0, "open_ended": True, "val_limit": 0, "peak_s": 1.5, "block_s": 8.0, "rounds": 3, "first_reps": 30, "stream_chars": 20000, "batch_reps": 5,
        "startup_reps": 3, "lag_s": 30.0, "scales": (1, 10, 100),
        "open_minutes": 30.0, "budgets": (2.0, 10.0), "marks": (2.0, 10.0),
        "novelty_scales": (1, 50), "novelty_reps": 5, "novelty_per_kind": 40,
        "corpus_scales": (1, 10, 100), "corpus_target_scale": 100, "corpus_unique_scale": 100, "corpus_train_scale": 1000,
        "archives_tweets": 5000, "archives_huge_mb": 300,
        "small_sizes": (1000, 2000), "small_minutes": 10.0,
        "scripts_tweets": 20000, "scripts_train_s": 30.0, "scripts_sample_chars": 2000,
        "scripts_block_s": 10.0, "scripts_rounds": 4,
        "neurons_train_minutes": 10.0, "neurons_texts": 2000, "neurons_twin_texts": 500}
QUICK = {"budget_s": 2.0, "open_ended": False, "val_limit": 200, "peak_s": 0.3, "block_s": 0.5, "rounds": 1, "first_reps": 3, "stream_chars": 500, "batch_reps": 1,
         "startup_reps": 1, "lag_s": 5.0, "scales": (1, 2, 4),
         "open_minutes": 0.1, "budgets": (0.05,), "marks": (0.05,),
         "novelty_scales": (1,), "novelty_reps": 1, "novelty_per_kind": 4,
         "corpus_scales": (1, 2), "corpus_target_scale": 100, "corpus_unique_scale": 1, "corpus_train_scale": 2,
         "archives_tweets": 300, "archives_huge_mb": 6,
         "small_sizes": (1000,), "small_minutes": 0.05,
         "scripts_tweets": 300, "scripts_train_s": 1.0, "scripts_sample_chars": 200,
         "scripts_block_s": 0.5, "scripts_rounds": 1,
         "neurons_train_minutes": 0.0, "neurons_texts": 40, "neurons_twin_texts": 20}


SECTIONS = ("quality", "throughput", "sampling", "app", "memory", "horizons", "novelty", "corpus", "archives", "small", "scripts", "bf16", "sizes", "neurons")


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- sections


def section_quality(p: dict[str, Any], corpus: Path, tmp: Path) -> dict[str, Any]:
    """1. Held-out bits/char after the same wall-time budget: default vs the notebook's recipe."""
    out: dict[str, Any] = {"budget_s": p["budget_s"], "corpus": str(corpus), "split": "seeded 90/10 (seed 0)",
                           "threads": 2, "bpc": "masked: padding excluded, <eos> included; whole held-out split"}
    runs = [("default", {"which": "default"}), ("reference", {"which": "reference"})]
    if p["open_ended"]:
        runs.insert(1, ("default_open_ended", {"which": "default", "open_ended": True}))
    for name, extra in runs:
        _log(f"quality: training {name} for {p['budget_s']:.0f}s")
        load = os.getloadavg()[0]
        out[name] = run_worker("train", {**extra, "budget_s": p["budget_s"], "corpus": str(corpus), "run_dir": str(tmp / name),
                                         "val_limit": p["val_limit"]})
        out[name]["load_avg_before"] = load
    d, r = out["default"].get("val_bpc"), out["reference"].get("val_bpc")
    if d and r:
        out["ratio"] = d / r
        out["target_ratio"] = 0.85
        out["met"] = out["ratio"] <= 0.85
    return out


def section_throughput(p: dict[str, Any], corpus: Path) -> dict[str, Any]:
    """2. Real chars/s, default vs reference, in alternating blocks; FLOP/s as a share of measured peak."""
    _log("throughput: alternating default/reference blocks and the matmul peak")
    out = run_worker("throughput", {"corpus": str(corpus), "block_s": p["block_s"], "rounds": p["rounds"], "peak_s": p["peak_s"]})
    if "default" in out:
        out["target_fraction_of_peak"] = 0.5
        out["met"] = out["default"]["fraction_of_peak"] >= 0.5
    return out


def section_sampling(p: dict[str, Any], corpus: Path, checkpoint: str | None) -> dict[str, Any]:
    """3. Single stream chars/s, time to first char, a batch of 64 tweets.

    One torch thread, as the app samples (tui.services.generation_stream.setup_torch): a single stream is
    sequential and its kernels are too small to split, so a second thread only adds
    synchronisation (and, on a busy machine, waits for a descheduled thread).
    """
    _log("sampling")
    out = run_worker("sampling", {"corpus": str(corpus), "checkpoint": checkpoint, "first_reps": p["first_reps"],
                                  "stream_chars": p["stream_chars"], "batch_reps": p["batch_reps"]}, threads=1)
    if "single_stream_chars_per_s" in out:
        out["targets"] = {"single_stream_chars_per_s": ">= 5000", "first_char_ms": "< 20", "batch64_s": "< 0.5"}
        out["met"] = {
            "single_stream": out["single_stream_chars_per_s"] >= 5000,
            "first_char": out["first_char_ms_median"] < 20,
            "batch64": out["batch64_s_median"] < 0.5,
        }
    return out


def section_app(p: dict[str, Any], quick: bool) -> dict[str, Any]:
    """4. Start-up to first frame, and event-loop lag while training (bench/ui_lag.py, owned by the TUI)."""
    _log("app: start-up to first frame")
    from bench.startup import measure_startup

    out: dict[str, Any] = {"startup": measure_startup(p["startup_reps"])}
    s = out["startup"].get("first_frame_s_median")
    out["startup"]["target_s"] = 1.0
    out["startup"]["met"] = s is not None and s < 1.0
    _log("app: event-loop lag while training")
    out["lag"] = _ui_lag(p, quick)
    _log("app: the temperature sweep, five columns streaming (issue 10)")
    try:
        from bench import sweep_lag

        out["sweep"] = sweep_lag.measure(quick=quick)
    except Exception as exc:  # noqa: BLE001 - one failing measurement must not lose the others
        out["sweep"] = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    return out


def _ui_lag(p: dict[str, Any], quick: bool) -> dict[str, Any]:
    try:
        from bench import ui_lag  # written by the TUI engineer
    except ImportError as exc:
        return {"status": "not measured", "reason": f"bench/ui_lag.py is not available ({exc})"}
    fn = getattr(ui_lag, "measure", None) or getattr(ui_lag, "measure_lag", None)
    if fn is None:
        return {"status": "not measured", "reason": "bench.ui_lag has no measure()/measure_lag() function"}
    try:
        result = fn(quick=quick)
    except Exception as exc:  # noqa: BLE001 - one failing section must not lose the others
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    result = dict(result)
    p99 = result.get("p99_ms")
    result.setdefault("target_p99_ms", TARGET_P99_MS)
    if p99 is not None:
        result["met"] = p99 < TARGET_P99_MS
    return result


def section_memory(p: dict[str, Any], corpus: Path, quality: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """5. Peak RSS while training the default, and corpus loading at growing scales."""
    out: dict[str, Any] = {}
    rss = quality.get("default", {}).get("train_peak_rss_mb")
    out["train_peak_rss_mb"] = rss
    out["train_target_mb"] = 1024
    out["train_met"] = None if rss is None else rss < 1024  # None: the quality section did not run
    raw = corpus.read_bytes()
    header, _, body = raw.partition(b"\n") if corpus.suffix.lower() == ".csv" else (b"", b"", raw)
    if not body.endswith(b"\n"):
        body += b"\n"
    loads = []
    for scale in p["scales"]:
        path = tmp / f"corpus-x{scale}{corpus.suffix}"
        with open(path, "wb") as fh:
            if header:
                fh.write(header + b"\n")
            for _ in range(scale):
                fh.write(body)
        _log(f"memory: loading the corpus x{scale} ({path.stat().st_size / 2**20:.0f} MB)")
        r = run_worker("load", {"path": str(path)})
        r["scale"] = scale
        loads.append(r)
        path.unlink()
    out["loads"] = loads
    out.update(load_scaling(loads))
    return out


# ---------------------------------------------------------------- report


def _f(x: Any, spec: str) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return format(x, spec)


def _yn(ok: Any) -> str:
    return "-" if ok is None else ("met" if ok else "NOT met")


def table(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    q = res.get("quality", {})
    d, od, r = q.get("default", {}), q.get("default_open_ended", {}), q.get("reference", {})
    rows += [
        ("1 quality", f"default held-out bits/char after {q.get('budget_s', 0):.0f}s", _f(d.get("val_bpc"), ".3f"), ""),
        ("1 quality", "  same, open-ended (as the app: no budget)", _f(od.get("val_bpc"), ".3f"), ""),
        ("1 quality", "reference (notebook recipe) bits/char", _f(r.get("val_bpc"), ".3f"), ""),
        ("1 quality", "ratio default / reference", _f(q.get("ratio"), ".3f"), f"<= 0.85 {_yn(q.get('met'))}"),
    ]
    t = res.get("throughput", {})
    td, tr = t.get("default", {}), t.get("reference", {})
    rows += [
        ("2 throughput", "default training, real chars/s", _f(td.get("chars_per_s"), ",.0f"), ""),
        ("2 throughput", "reference training, real chars/s", _f(tr.get("chars_per_s"), ",.0f"), ""),
        ("2 throughput", "ratio default / reference (chars/s)", _f(t.get("speed_ratio"), ".2f"), ""),
        ("2 throughput", "default with 1 thread instead of 2, chars/s", _f(t.get("default_1_thread", {}).get("chars_per_s"), ",.0f"), ""),
        ("2 throughput", "float32 matmul peak (2048^2), GFLOP/s", _f(t.get("matmul_peak_gflops"), ".0f"), ""),
        ("2 throughput", "default achieved GFLOP/s (3x fwd matmuls)", _f(td.get("train_gflops"), ".0f"), ""),
        ("2 throughput", "default share of peak", _f(td.get("fraction_of_peak"), ".1%"), f">= 50% {_yn(t.get('met'))}"),
    ]
    s = res.get("sampling", {})
    sm = s.get("met", {})
    rows += [
        ("3 sampling", "single stream chars/s", _f(s.get("single_stream_chars_per_s"), ",.0f"), f">= 5,000 {_yn(sm.get('single_stream'))}"),
        ("3 sampling", "time to first char, ms (median)", _f(s.get("first_char_ms_median"), ".2f"), f"< 20 {_yn(sm.get('first_char'))}"),
        ("3 sampling", "64 tweets x 140 chars, s (median)", _f(s.get("batch64_s_median"), ".3f"), f"< 0.5 {_yn(sm.get('batch64'))}"),
    ]
    a = res.get("app", {})
    st, lag = a.get("startup", {}), a.get("lag", {})
    rows += [
        ("4 app", "start to first frame, s (median)", _f(st.get("first_frame_s_median"), ".3f"), f"< 1.0 {_yn(st.get('met'))}"),
        ("4 app", "event-loop lag p50 while training, ms", _f(lag.get("p50_ms"), ".1f"), lag.get("reason", "")[:40] if "p50_ms" not in lag else ""),
        ("4 app", "event-loop lag p99 while training, ms", _f(lag.get("p99_ms"), ".1f"), f"< {TARGET_P99_MS:.0f} {_yn(lag.get('met'))}"),
    ]
    m = res.get("memory", {})
    rows.append(("5 memory", "peak RSS training the default, MB", _f(m.get("train_peak_rss_mb"), ",.0f"), f"< 1024 {_yn(m.get('train_met'))}"))
    for load in m.get("loads", []):
        rows.append(("5 memory", f"load corpus x{load.get('scale')}: s / peak RSS MB",
                     f"{_f(load.get('load_s'), '.2f')} / {_f(load.get('peak_rss_mb'), ',.0f')}", load.get("error", "")[:40]))
    rows.append(("5 memory", "load time growth exponent (1 = linear)", _f(m.get("scaling_exponent"), ".2f"), f"< 1.25 {_yn(m.get('linear_met'))}"))
    if "horizons" in res:
        from bench.horizons import table_rows

        rows += table_rows(res["horizons"])
    if "novelty" in res:
        from bench.novelty import table_rows as novelty_rows

        rows += novelty_rows(res["novelty"])
    if "corpus_memory" in res:
        from bench.corpus_memory import table_rows as corpus_rows

        rows += corpus_rows(res["corpus_memory"])
    if "archives" in res:
        from bench.archives import table_rows as archive_rows

        rows += archive_rows(res["archives"])
    if "small" in res:
        from bench.small_corpora import table_rows as small_rows

        rows += small_rows(res["small"])
    if "scripts" in res:
        from bench.many_scripts import table_rows as scripts_rows

        rows += scripts_rows(res["scripts"])
    if "bf16" in res:
        from bench.bf16 import table_rows as bf16_rows

        rows += bf16_rows(res["bf16"])
    if "sizes" in res:
        from bench.sizes import table_rows as sizes_rows

        rows += sizes_rows(res["sizes"])
    if "neurons" in res:
        from bench.neurons import table_rows as neurons_rows

        rows += neurons_rows(res["neurons"])
    return rows


def render(rows: list[tuple[str, str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows + [("section", "measure", "value", "target")]) for i in range(4)]
    lines = []
    for i, row in enumerate([("section", "measure", "value", "target")] + rows):
        lines.append("  ".join(c.ljust(w) if j != 2 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a smoke run of every section (under a minute)")
    ap.add_argument("--json", type=Path, help="where to write the results (default bench/results/bench-<time>.json)")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    args = ap.parse_args(argv)
    p = QUICK if args.quick else FULL
    corpus = corpus_path()
    only = set(args.only or SECTIONS)
    started = time.perf_counter()
    res: dict[str, Any] = {"mode": "quick" if args.quick else "full", "machine": machine(), "corpus": str(corpus),
                           "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="tweetgen-bench-") as tmpdir:
        tmp = Path(tmpdir)
        if "quality" in only:
            res["quality"] = section_quality(p, corpus, tmp)
        if "throughput" in only:
            res["throughput"] = section_throughput(p, corpus)
        if "sampling" in only:
            res["sampling"] = section_sampling(p, corpus, res.get("quality", {}).get("default", {}).get("checkpoint"))
        if "app" in only:
            res["app"] = section_app(p, args.quick)
        if "memory" in only:
            res["memory"] = section_memory(p, corpus, res.get("quality", {}), tmp)
        if "horizons" in only:
            from bench.horizons import section_horizons

            res["horizons"] = section_horizons(p, corpus, tmp, _log)
        if "novelty" in only:
            from bench.novelty import section_novelty

            res["novelty"] = section_novelty(p, corpus, _log)
        if "corpus" in only:
            from bench.corpus_memory import section_corpus

            res["corpus_memory"] = section_corpus(p, corpus, tmp, _log)  # not "corpus": that key is the corpus' path
        if "archives" in only:
            from bench.archives import section_archives

            res["archives"] = section_archives(p, tmp, _log)
        if "small" in only:
            from bench.small_corpora import section_small

            res["small"] = section_small(p, tmp, _log)
        if "scripts" in only:
            from bench.many_scripts import section_scripts

            res["scripts"] = section_scripts(p, _log)
        if "bf16" in only:
            from bench.bf16 import section_bf16

            res["bf16"] = section_bf16(args.quick, corpus, _log)
        if "sizes" in only:
            from bench.sizes import section_sizes

            res["sizes"] = section_sizes(args.quick, corpus, _log)
        if "neurons" in only:
            from bench.neurons import section_neurons

            res["neurons"] = section_neurons(p, corpus, tmp, _log)
    res["machine"]["load_avg_end"] = os.getloadavg()
    res["wall_s"] = time.perf_counter() - started
    rows = table(res)
    res["table"] = [list(r) for r in rows]
    text = render(rows)
    print(text)
    print(f"\n{res['mode']} bench on {res['machine'].get('cpu', '?')} ({res['machine']['cpus']} cpus), "
          f"{res['wall_s']:.0f}s wall; load average {res['machine']['load_avg_start'][0]:.2f} -> {res['machine']['load_avg_end'][0]:.2f}")
    path = args.json or RESULTS_DIR / f"bench-{res['mode']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2, default=str))
    print(f"results: {path}")
    errors = [k for k, v in res.items() if isinstance(v, dict) and "error" in v]
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
