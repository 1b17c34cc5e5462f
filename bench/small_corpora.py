"""Section ``small`` of ``make bench`` (issue 16): small corpora, today's defaults against the rule.

Real personal archives keep 700-2,000 tweets. This section samples ``n`` tweets (seeded)
from the dev corpus (default filters), and trains two candidates on them **side by side**,
one torch thread each, so both see the same load: ``today`` (the settings every run had
before issue 16: hidden 256, embed 64, no dropout, no weight decay, batch 32) and ``rule``
(no settings given: what :func:`core.defaults.corpus_settings` picks for the corpus's size).
Both are open-ended runs set up exactly as the app's (``core.train.setup.prepare_run`` with
``until_stopped``); at each mark (2, 5, 10 minutes of training wall time) the averaged
model is scored on the whole validation split, and the guard's events are recorded.

``python -m bench.small_corpora --n 1000 --minutes 10 --a today --b rule`` runs one pair
by hand; other candidate names (``CANDIDATES``) were used to screen the rule with short runs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import DEMO_TXT, RESULTS_DIR, corpus_path, fmt_or_dash, met_word, run_worker, setup_torch

TODAY = {"model": {"hidden_size": 256, "embed_dim": 64, "dropout": 0.0}, "train": {"batch_size": 32, "weight_decay": 0.0}}
# name -> settings given to prepare_run ({"model": ..., "train": ...}); "rule" gives none
CANDIDATES: dict[str, dict[str, dict[str, Any]]] = {
    "today": TODAY,
    "rule": {"model": {}, "train": {}},
    "d3": {"model": {**TODAY["model"], "dropout": 0.3}, "train": TODAY["train"]},
    "d5": {"model": {**TODAY["model"], "dropout": 0.5}, "train": TODAY["train"]},
    "d3wd": {"model": {**TODAY["model"], "dropout": 0.3}, "train": {**TODAY["train"], "weight_decay": 0.1}},
    "h128d3": {"model": {**TODAY["model"], "hidden_size": 128, "dropout": 0.3}, "train": TODAY["train"]},
    "d5b16": {"model": {**TODAY["model"], "dropout": 0.5}, "train": {**TODAY["train"], "batch_size": 16}},
    "d5wd": {"model": {**TODAY["model"], "dropout": 0.5}, "train": {**TODAY["train"], "weight_decay": 0.1}},
    "h512d5": {"model": {**TODAY["model"], "hidden_size": 512, "dropout": 0.5}, "train": TODAY["train"]},
}
MARKS = (2.0, 5.0, 10.0)
TARGET_GAIN = 0.1  # bits/char better than today at the last mark


def sample_corpus(n: int, dest: Path, seed: int = 0, source: Path | None = None) -> Path:
    """``n`` tweets of ``source`` (default: the bench corpus; default filters), sampled with ``seed``, one a line in ``dest``."""
    from core.data.corpus import load_corpus

    texts, _ = load_corpus(source or corpus_path())
    picked = random.Random(seed).sample(texts, min(n, len(texts)))
    dest.write_text("".join(t.replace("\n", " ") + "\n" for t in picked), encoding="utf-8")
    return dest


def task_small(args: dict[str, Any]) -> dict[str, Any]:
    """One open-ended run (in a fresh interpreter): validation bits/char at each mark, and the guard's events."""
    threads = int(args.get("threads", 1))
    setup_torch(threads)
    from core.events import EvalEvent, GuardEvent, StepEvent
    from core.train.setup import RunRequest, prepare_run
    from core.train.evaluate import evaluate_bpc

    given = CANDIDATES[args["candidate"]]
    run = prepare_run(RunRequest(data=Path(args["corpus"]), run_dir=Path(args["run_dir"]), until_stopped=True,
                                 train={**given["train"], "threads": threads, **({"guard_patience": 10**9} if args.get("no_guard") else {})},
                                 model=given["model"]))
    trainer = run.trainer
    marks = sorted(float(m) for m in args["marks"])
    out: dict[str, Any] = {"candidate": args["candidate"], "n_train": len(trainer.train_ids), "n_val": len(trainer.val_ids),
                           "model": trainer.model.config.to_dict(), "batch_size": trainer.config.batch_size,
                           "weight_decay": trainer.config.weight_decay, "marks": {}, "evals": [], "guard": []}
    try:
        for event in trainer.run():
            if isinstance(event, EvalEvent):
                out["evals"].append([event.step, round(trainer.progress.elapsed, 1), event.val_bpc, event.train_bpc])
            elif isinstance(event, GuardEvent):
                out["guard"].append({"step": event.step, "action": event.action, "message": event.message})
            elif isinstance(event, StepEvent) and marks and event.elapsed >= marks[0] * 60:
                val = evaluate_bpc(trainer.averaged_model(), trainer.val_ids) + trainer.val_length_bpc
                p = trainer.progress
                out["marks"][f"{marks[0]:g}"] = {"step": p.step, "val_bpc": val, "best_val_bpc": min(val, p.best_val),
                                                 "train_bpc": (p.last_loss or float("nan")) / 0.6931471805599453}
                marks.pop(0)
                if not marks:
                    trainer.stop()
    finally:
        run.lock.release()
    out["steps"] = trainer.progress.step
    return out


def run_pair(n: int, minutes: float, a: str, b: str, tmp: Path, log: Any = print, no_guard: bool = False) -> dict[str, Any]:
    """Candidates ``a`` and ``b`` on the same ``n``-tweet sample, side by side, one thread each."""
    corpus = sample_corpus(n, tmp / f"sample-{n}.txt")
    marks = [m for m in MARKS if m < minutes] + [minutes]
    results: dict[str, Any] = {}
    loads: list[float] = []
    done = threading.Event()

    def one(name: str) -> None:
        results[name] = run_worker("small", {"candidate": name, "corpus": str(corpus), "run_dir": str(tmp / f"{name}-{n}"),
                                             "marks": marks, "no_guard": no_guard}, timeout=minutes * 60 * 3 + 300, threads=1)

    def watch() -> None:
        while not done.wait(10.0):
            loads.append(os.getloadavg()[0])

    log(f"small corpora: {n} tweets, {a} vs {b}, {minutes:g} min side by side")
    workers = [threading.Thread(target=one, args=(name,)) for name in (a, b)]
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    done.set()
    return {"n": n, "minutes": minutes, "a": a, "b": b, "no_guard": no_guard, "runs": results,
            "load_avg_mean": sum(loads) / len(loads) if loads else os.getloadavg()[0],
            "load_avg_range": [min(loads), max(loads)] if loads else None}


def section_small(p: dict[str, Any], tmp: Path, log: Any) -> dict[str, Any]:
    """Today's defaults against the rule, at 1,000 and 2,000 tweets."""
    if corpus_path() == DEMO_TXT:
        return {"status": "not measured", "reason": "no dev corpus (set TWEETGEN_BENCH_CORPUS): the demo is too small to sample"}
    out: dict[str, Any] = {"pairs": []}
    for n in p["small_sizes"]:
        pair = run_pair(n, p["small_minutes"], "today", "rule", tmp, log)
        last = f"{p['small_minutes']:g}"  # the last mark is the run's length
        today = pair["runs"]["today"].get("marks", {}).get(last, {}).get("val_bpc")
        rule = pair["runs"]["rule"].get("marks", {}).get(last, {}).get("val_bpc")
        if today is not None and rule is not None:
            pair["gain"] = today - rule
            pair["met"] = pair["gain"] >= TARGET_GAIN
        out["pairs"].append(pair)
    return out


def table_rows(s: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    for pair in s.get("pairs", []):
        for name in ("today", "rule"):
            r = pair["runs"].get(name, {})
            for mark, m in r.get("marks", {}).items():
                rows.append(("10 small", f"{pair['n']:,} tweets, {name}, val bits/char at {mark} min",
                             fmt_or_dash(m.get("val_bpc"), ".3f"), ""))
        rows.append(("10 small", f"{pair['n']:,} tweets, today - rule at the last mark", fmt_or_dash(pair.get("gain"), ".3f"),
                     f">= {TARGET_GAIN} {met_word(pair.get('met'))}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description="one side-by-side pair of small-corpus runs")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--a", default="today", choices=sorted(CANDIDATES))
    ap.add_argument("--b", default="rule", choices=sorted(CANDIDATES))
    ap.add_argument("--tmp", type=Path, default=None)
    ap.add_argument("--no-guard", action="store_true", help="the guard never responds (screening the settings alone)")
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tweetgen-small-") as tmpdir:
        res = run_pair(args.n, args.minutes, args.a, args.b, args.tmp or Path(tmpdir), no_guard=args.no_guard)
    path = RESULTS_DIR / "small" / f"{args.n}-{args.a}-{args.b}-{args.minutes:g}m-{time.strftime('%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2, default=str))
    for name in (args.a, args.b):
        r = res["runs"].get(name, {})
        marks = " ".join(f"{k}m {v['val_bpc']:.3f} (best {v['best_val_bpc']:.3f}, train {v['train_bpc']:.3f}, step {v['step']})"
                         for k, v in r.get("marks", {}).items())
        print(f"{args.n} {name}: {marks or r.get('error')} guard={[g['action'] for g in r.get('guard', [])]}")
    print(f"load average mean {res['load_avg_mean']:.2f} range {res['load_avg_range']}; {path}")


if __name__ == "__main__":
    main()
