"""Section 6 of ``make bench`` (issue 8): quality over time, and tweet lengths.

Two training processes run side by side, one torch thread each (as the app trains on a
2-core machine, so both see the same kind of core):

- *open-ended*: the app's own set-up (``core.train.process.prepare_job`` with no budget),
  stopped after ``open_minutes``; its validations give the curve over time, and the
  averaged weights are kept at each mark (2 and 10 minutes) for the length figures;
- *budgeted*: ``tweetgen train``'s defaults with ``--minutes M`` for each M in
  ``budgets``, one after the other.

Every model then writes 200 texts at T=1.0 and at T=0.8 (``--max-len 300``, so an
over-long text is seen, not cut): mean length against the corpus mean, and the share
that end on their own within the corpus limit. The 10-minute budgeted model is also
asked for chosen lengths (40, 100, 140): the share that end within 10% of the length.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import fmt_or_dash, load_split, met_word, peak_rss_mb, run_worker, setup_torch

SAMPLES = 200
CHOSEN_LENGTHS = (40, 100, 140)
BUCKETS = [(1, 20), (21, 40), (41, 60), (61, 80), (81, 100), (101, 120), (121, 140), (141, 300)]


def histogram(lengths: list[int]) -> list[float]:
    """Shares of ``lengths`` in each of BUCKETS."""
    n = max(1, len(lengths))
    return [sum(lo <= x <= hi for x in lengths) / n for lo, hi in BUCKETS]


def length_figures(model: Any, vocab: Any, limit: int, chosen: bool) -> dict[str, Any]:
    """Sampled lengths at T=1.0 and T=0.8 (and, if ``chosen``, for each chosen length)."""
    from core.model.sampler import SampleConfig, sample_batch

    out: dict[str, Any] = {}
    for temperature in (1.0, 0.8):
        lengths = [len(t) for t in sample_batch(model, vocab, SAMPLES, SampleConfig(temperature=temperature, max_len=300, seed=0))]
        out[f"T{temperature}"] = {"mean": statistics.fmean(lengths), "median": statistics.median(lengths),
                                  "ended_within_limit": sum(x <= limit for x in lengths) / len(lengths),
                                  "histogram": histogram(lengths)}
    if chosen and getattr(model, "length_aware", False):
        out["chosen"] = {}
        for length in CHOSEN_LENGTHS:
            got = [len(t) for t in sample_batch(model, vocab, SAMPLES, SampleConfig(temperature=1.0, max_len=300, seed=1, length=length))]
            out["chosen"][str(length)] = {"within_10pct": sum(abs(x - length) <= 0.1 * length for x in got) / len(got),
                                          "mean": statistics.fmean(got)}
    return out


def task_horizon(args: dict[str, Any]) -> dict[str, Any]:
    """One run: ``mode`` "open" (the app's set-up, stopped after ``minutes``) or "budget" (the CLI's, ``--minutes``)."""
    import torch

    from core.events import EvalEvent
    from core.model.gru import CharGRU

    threads = int(args.get("threads", 1))
    setup_torch(threads)
    corpus, run_dir, minutes = Path(args["corpus"]), Path(args["run_dir"]), float(args["minutes"])
    train, val = load_split(corpus)
    if args["mode"] == "open":
        from core.train.process import TrainJob, prepare_job

        val_limit = {"val_limit": int(args["val_limit"])} if args.get("val_limit") else {}  # --quick: a smaller validation
        prepared = prepare_job(TrainJob(corpus, run_dir, train=val_limit, model={}, threads=threads))  # holds the run's lock
        trainer = prepared.trainer
    else:
        from core.train.trainer import TrainConfig, Trainer
        from core.model.gru import new_model
        from core.data.vocab import CharVocab

        vocab = CharVocab.build(train)
        config = TrainConfig(minutes=minutes, threads=threads, val_limit=int(args.get("val_limit") or 0))
        trainer = Trainer(new_model(vocab, seed=config.seed), vocab, train, val, config, run_dir)
    marks = sorted(float(m) for m in args.get("marks", []) if float(m) < minutes)
    evals: list[dict[str, float]] = []
    kept: dict[str, dict[str, Any]] = {}
    guards: list[str] = []
    for event in trainer.run():
        p = trainer.progress
        if isinstance(event, EvalEvent):
            evals.append({"step": event.step, "minutes": p.elapsed / 60, "val_bpc": event.val_bpc, "length_bpc": event.length_bpc})
        elif type(event).__name__ == "GuardEvent":
            guards.append(event.message)  # type: ignore[attr-defined]
        while marks and p.elapsed >= marks[0] * 60:
            kept[f"{marks.pop(0):g}"] = {"step": p.step, "state": {k: v.clone() for k, v in trainer.averaged_model().state_dict().items()}}
        if args["mode"] == "open" and p.elapsed >= minutes * 60:
            trainer.stop()
    kept[f"{minutes:g}"] = {"step": trainer.progress.step, "state": trainer.averaged_model().state_dict()}
    limit = 140
    result: dict[str, Any] = {"mode": args["mode"], "minutes": minutes, "steps": trainer.progress.step, "evals": evals,
                              "guards": guards, "config": {k: v for k, v in trainer.config.to_dict().items()
                                                           if k in ("optimizer", "lr", "lr_schedule", "val_every", "ckpt_every")},
                              "corpus_mean_length": statistics.fmean(len(t) for t in train + val),
                              "corpus_histogram": histogram([len(t) for t in train + val]), "at": {}}
    torch.manual_seed(0)
    for mark, snap in kept.items():
        model = CharGRU(trainer.model.config)
        model.load_state_dict(snap["state"])
        model.eval()
        final = float(mark) >= minutes  # the run's last validation comes just after its budget ran out
        before = evals if final else [e for e in evals if e["minutes"] <= float(mark) + 1e-9]
        result["at"][mark] = {"step": snap["step"], "val_bpc": before[-1]["val_bpc"] if before else None,
                              "lengths": length_figures(model, trainer.vocab, limit, chosen=bool(args.get("chosen")))}
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def worst_rise(evals: list[dict[str, float]]) -> float:
    """The most any evaluation lies above the best seen before it (0 when it only ever improves)."""
    best, worst = float("inf"), 0.0
    for e in evals:
        if best < float("inf"):
            worst = max(worst, e["val_bpc"] - best)
        best = min(best, e["val_bpc"])
    return worst


def section_horizons(p: dict[str, Any], corpus: Path, tmp: Path, log: Any) -> dict[str, Any]:
    """Run the open-ended and the budgeted runs side by side; compare against issue 8's targets."""
    open_minutes, budgets = float(p["open_minutes"]), [float(b) for b in p["budgets"]]
    out: dict[str, Any] = {"open_minutes": open_minutes, "budgets": budgets, "threads_per_run": 1, "budget": {}}

    def open_run() -> None:
        log(f"horizons: open-ended run (the app's set-up) for {open_minutes:g} min")
        out["open"] = run_worker("horizon", {"mode": "open", "minutes": open_minutes, "marks": p["marks"], "corpus": str(corpus),
                                             "run_dir": str(tmp / "open"), "val_limit": p["val_limit"]}, timeout=open_minutes * 60 + 900, threads=1)

    def budget_runs() -> None:
        for minutes in budgets:
            log(f"horizons: budgeted run, --minutes {minutes:g}")
            out["budget"][f"{minutes:g}"] = run_worker(
                "horizon", {"mode": "budget", "minutes": minutes, "corpus": str(corpus), "run_dir": str(tmp / f"budget{minutes:g}"),
                            "chosen": True, "val_limit": p["val_limit"]}, timeout=minutes * 60 + 900, threads=1)

    started = time.perf_counter()
    workers = [threading.Thread(target=open_run), threading.Thread(target=budget_runs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out["wall_s"] = time.perf_counter() - started

    o = out.get("open", {})
    short, ten = f"{min(budgets):g}", "10" if "10" in out["budget"] else f"{max(budgets):g}"
    b_short = out["budget"].get(short, {}).get("at", {}).get(short, {})
    b_ten = out["budget"].get(ten, {}).get("at", {}).get(ten, {})
    o_ten = o.get("at", {}).get(ten, {})
    met: dict[str, Any] = {}
    if b_short.get("val_bpc") and b_ten.get("val_bpc"):
        out["gain_long_vs_short"] = b_short["val_bpc"] - b_ten["val_bpc"]
        met["long_beats_short_by_0.1"] = out["gain_long_vs_short"] >= 0.1
    if o_ten.get("val_bpc") and b_ten.get("val_bpc"):
        out["open_minus_budget_at_10"] = o_ten["val_bpc"] - b_ten["val_bpc"]
        met["open_within_0.03_of_budget"] = out["open_minus_budget_at_10"] <= 0.03
    if o.get("evals"):
        out["open_worst_rise"] = worst_rise(o["evals"])
        met["open_never_0.03_above_best"] = out["open_worst_rise"] <= 0.03
    lengths = b_ten.get("lengths", {})
    corpus_mean = out["budget"].get(ten, {}).get("corpus_mean_length")
    t1 = lengths.get("T1.0", {})
    if t1 and corpus_mean:
        met["ended_within_limit_97pct"] = t1["ended_within_limit"] >= 0.97
        met["mean_length_within_10pct"] = abs(t1["mean"] / corpus_mean - 1) <= 0.10
    if lengths.get("chosen"):
        met["chosen_length_90pct_within_10pct"] = all(c["within_10pct"] >= 0.90 for c in lengths["chosen"].values())
    out["met"] = met
    return out


def table_rows(h: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of the bench table for this section."""
    f, yn = fmt_or_dash, met_word
    met = h.get("met", {})
    rows: list[tuple[str, str, str, str]] = []
    for minutes, run in h.get("budget", {}).items():
        at = run.get("at", {}).get(minutes, {})
        rows.append(("6 horizons", f"budgeted {minutes} min: val bits/char (steps)", f"{f(at.get('val_bpc'), '.3f')} ({run.get('steps', '-')})",
                     run.get("error", "")[:40]))
    o = h.get("open", {})
    for mark, at in o.get("at", {}).items():
        rows.append(("6 horizons", f"open-ended at {mark} min: val bits/char (steps)", f"{f(at.get('val_bpc'), '.3f')} ({at.get('step', '-')})",
                     o.get("error", "")[:40]))
    rows.append(("6 horizons", "budgeted 10 min better than 2 min by", f(h.get("gain_long_vs_short"), ".3f"),
                 f">= 0.1 {yn(met.get('long_beats_short_by_0.1'))}"))
    rows.append(("6 horizons", "open-ended minus budgeted, at 10 min", f(h.get("open_minus_budget_at_10"), "+.3f"),
                 f"<= 0.03 {yn(met.get('open_within_0.03_of_budget'))}"))
    rows.append(("6 horizons", "open-ended: worst eval above best before it", f(h.get("open_worst_rise"), ".3f"),
                 f"<= 0.03 {yn(met.get('open_never_0.03_above_best'))}"))
    for name, run in [*((f"budgeted {m} min", r) for m, r in h.get("budget", {}).items()), ("open-ended", o)]:
        corpus_mean = run.get("corpus_mean_length")
        for mark, at in run.get("at", {}).items():
            if name.startswith("budgeted") and mark != name.split()[1]:
                continue
            label = name if name.startswith("budgeted") else f"open-ended {mark} min"
            for t in ("T1.0", "T0.8"):
                lf = at.get("lengths", {}).get(t, {})
                rows.append(("6 lengths", f"{label} {t}: mean len / ended <= 140",
                             f"{f(lf.get('mean'), '.0f')}/{f(corpus_mean, '.0f')} / {f(lf.get('ended_within_limit'), '.1%')}", ""))
            for length, c in at.get("lengths", {}).get("chosen", {}).items():
                rows.append(("6 lengths", f"{label} --length {length}: within 10%", f(c.get("within_10pct"), ".1%"),
                             f">= 90% {yn(c.get('within_10pct', 0) >= 0.9)}" if "10" in label else ""))
    rows.append(("6 lengths", "10 min T1.0: ended <= 140 / mean within 10%",
                 f"{yn(met.get('ended_within_limit_97pct'))} / {yn(met.get('mean_length_within_10pct'))}", ">= 97% / +-10%"))
    return rows
