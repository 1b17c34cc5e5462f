"""Size defaults at 2, 10 and 30 minutes, on the dev split and on a split by time (issue 17).

``python -m bench.sizes curve NAME [--steps N] [--val-every K]``: one candidate's validation
curve against *steps* (seeded, so the same on a busy machine as on a quiet one);
``python -m bench.sizes ratio NAME [NAME ...]``: each candidate's training steps/s as a ratio
to today's default, in alternating blocks at 2 threads (so load slows them alike), and the
fp32 matmul peak with each one's share of it; ``python -m bench.sizes --quick``: both, tiny.

Why this method: the bench machine has 2 cores shared with other sessions, so two trainings
for N wall minutes are not comparable. Quality against steps is deterministic (the optimizer
is schedule-free with a constant rate, so the curve up to step k does not depend on the
budget: ``horizon_free`` checks it), and throughput is measured as a ratio to the default in
the same load. Bits/char at wall time T = the curve at step T x (ratio x the default's
steps/s on the quiet machine).

The data: the dev corpus sorted by ``created_at``; the older 90% is the training part, the
newest 10% the *time split* (never trained on); the *dev split* is the trainer's own seeded
10% of the older part (so one training scores both). The files go under a temp folder, never
the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import corpus_path, fmt_or_dash

# today's default first: every ratio is to it
CANDIDATES: dict[str, dict[str, Any]] = {
    "default": {},  # core/defaults.py as it is now: hidden 512, embed 64, batch 32, lr 6e-3, weight decay 0.1
    # The candidates below were measured before weight decay became the default (issue 17): pinned at 0, as then.
    "wd0": {"weight_decay": 0.0},  # the default of stop 25: hidden 512, no weight decay
    "h256": {"weight_decay": 0.0, "hidden_size": 256},  # the default before issue 17 (measured as "default" until then)
    "h384": {"weight_decay": 0.0, "hidden_size": 384},
    "h512": {"weight_decay": 0.0, "hidden_size": 512},
    "e32": {"weight_decay": 0.0, "embed_dim": 32},
    "e128": {"weight_decay": 0.0, "embed_dim": 128},
    "b64": {"weight_decay": 0.0, "batch_size": 64},
    "b64_lr8": {"weight_decay": 0.0, "batch_size": 64, "lr": 8e-3},
    "h384_b64": {"weight_decay": 0.0, "hidden_size": 384, "batch_size": 64},
    "h512_b64": {"weight_decay": 0.0, "hidden_size": 512, "batch_size": 64},
    "h384_lr4": {"weight_decay": 0.0, "hidden_size": 384, "lr": 4e-3},
    "b16": {"weight_decay": 0.0, "batch_size": 16},
    "d01": {"weight_decay": 0.0, "dropout": 0.1},
    "h384_d01": {"weight_decay": 0.0, "hidden_size": 384, "dropout": 0.1},
    "h384_d02": {"weight_decay": 0.0, "hidden_size": 384, "dropout": 0.2},
    "h512_d02": {"weight_decay": 0.0, "hidden_size": 512, "dropout": 0.2},
    "h512_d04": {"weight_decay": 0.0, "hidden_size": 512, "dropout": 0.4},
    "h512_lr4": {"weight_decay": 0.0, "hidden_size": 512, "lr": 4e-3},
    "h512_lr8": {"weight_decay": 0.0, "hidden_size": 512, "lr": 8e-3},
    "wd01": {"weight_decay": 0.1},  # the default since issue 17 (decoupled weight decay, on hidden 512)
    "wd03": {"weight_decay": 0.3},
    "reference": {"reference": True},  # the notebook's recipe (bench/reference.py)
}
MODEL_KEYS = ("embed_dim", "hidden_size", "num_layers", "dropout")
# today's default (hidden 512), 2 threads, quiet machine: 4.45 steps/s in 8-s wall-clock blocks beside hidden 256's
# 11.39 (2026-12-05 11:29 UTC, load 0.0; hidden 256 made 597 steps in a 60 s run at 01:33, 9.95 steps/s)
ANCHOR_STEPS_PER_S = 4.45
HORIZONS_S = (120.0, 600.0, 1800.0)
QUICK = {"steps": 6, "val_every": 3, "val_limit": 40, "block_s": 0.3, "rounds": 1, "peak_s": 0.2}


def time_split(csv_path: Path, out_dir: Path, fraction: float = 0.1) -> tuple[Path, Path]:
    """Write the older ``1 - fraction`` of ``csv_path``'s rows (by ``created_at``) and the newest ``fraction``."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        if "created_at" not in fields or "text" not in fields:
            raise SystemExit(f"{csv_path}: needs the columns text and created_at (has {', '.join(fields)})")
        rows = sorted(reader, key=lambda r: r["created_at"])  # ISO 8601 UTC: sorts as text
    cut = len(rows) - max(1, round(len(rows) * fraction))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / "older.csv", out_dir / "newest.csv")
    for path, part in zip(paths, (rows[:cut], rows[cut:])):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(part)
    return paths


def load_parts(csv_path: Path, tmp: Path) -> dict[str, list[str]]:
    """``train``, ``dev`` (seeded 10% of the older part) and ``time`` (the newest 10%) texts, default filters."""
    from core.data.corpus import load_corpus, split_texts

    if _has_dates(csv_path):
        older, newest = time_split(csv_path, tmp)
        texts, _ = load_corpus(older)
        later, _ = load_corpus(newest)
    else:  # a corpus without dates (the demo's, when the dev corpus is absent): the last 10% in file order
        every, _ = load_corpus(csv_path)
        cut = len(every) - max(1, len(every) // 10)
        texts, later = every[:cut], every[cut:]
    train, dev = split_texts(texts, 0.1, seed=0)
    return {"train": train, "dev": dev, "time": later}


def _has_dates(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with open(path, newline="", encoding="utf-8") as fh:
        return "created_at" in (csv.DictReader(fh).fieldnames or [])


def _setup(threads: int) -> None:
    import warnings

    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

    torch.set_num_threads(threads)


def make_trainer(name: str, parts: dict[str, list[str]], run_dir: Path, *, max_steps: int | None = None,
                 val_every: int = 0, val_limit: int = 0, threads: int = 1) -> Any:
    """A ``core.train.trainer.Trainer`` for candidate ``name`` (its validation set is the dev split)."""
    from core.model.gru import new_model
    from core.train.trainer import TrainConfig, Trainer
    from core.data.vocab import CharVocab

    over = CANDIDATES[name]
    vocab = CharVocab.build(parts["train"])
    config = TrainConfig(max_steps=max_steps, val_every=val_every, ckpt_every=0, val_limit=val_limit, threads=threads,
                         **{k: v for k, v in over.items() if k not in MODEL_KEYS})
    model = new_model(vocab, seed=config.seed, **{k: v for k, v in over.items() if k in MODEL_KEYS})
    return Trainer(model, vocab, parts["train"], parts["dev"], config, run_dir)


def curve(name: str, parts: dict[str, list[str]], steps: int, val_every: int, val_limit: int = 0,
          log: Any = None, save: Any = None) -> dict[str, Any]:
    """Honest bits/char on the dev and time splits every ``val_every`` steps up to ``steps`` (1 thread).

    ``save(result)`` is called after each validation with the curve so far (a long run's points survive a stop).
    """
    if CANDIDATES[name].get("reference"):
        return reference_curve(parts, steps, val_every, val_limit, log, save)
    from core.events import EvalEvent
    from core.train.evaluate import evaluate_bpc
    from core.data.batching import encode_all

    with tempfile.TemporaryDirectory(prefix="tweetgen-sizes-") as tmp:
        trainer = make_trainer(name, parts, Path(tmp), max_steps=steps, val_every=val_every, val_limit=val_limit)
        later = parts["time"][:val_limit] if val_limit else parts["time"]
        time_ids = encode_all(later, trainer.vocab)
        points: list[dict[str, float]] = []
        result = {"name": name, "settings": CANDIDATES[name], "params": trainer.model.num_parameters(),
                  "flops_per_char": trainer.model.flops_per_char(), "points": points}
        start = time.perf_counter()
        for ev in trainer.run():
            if isinstance(ev, EvalEvent):
                t_bpc = evaluate_bpc(trainer.averaged_model(), time_ids) + trainer.val_length_bpc
                points.append({"step": ev.step, "dev": ev.val_bpc, "time": t_bpc, "wall_s": time.perf_counter() - start})
                if log:
                    log(f"{name} step {ev.step}: dev {ev.val_bpc:.4f} time {t_bpc:.4f}")
                if save:
                    save(result)
        return result


def reference_curve(parts: dict[str, list[str]], steps: int, val_every: int, val_limit: int = 0,
                    log: Any = None, save: Any = None) -> dict[str, Any]:
    """The notebook's recipe (bench/reference.py) trained step by step, scored like the candidates."""
    import torch

    from bench.reference import BATCH, LR, NotebookGRU, unmasked_loss
    from core.data.batching import BucketBatcher, make_batch
    from core.train.evaluate import evaluate_bpc
    from core.data.batching import encode_all
    from core.data.vocab import CharVocab

    vocab = CharVocab.build(parts["train"])
    ids = encode_all(parts["train"], vocab)
    dev = encode_all(parts["dev"][:val_limit] if val_limit else parts["dev"], vocab)
    later = encode_all(parts["time"][:val_limit] if val_limit else parts["time"], vocab)
    torch.manual_seed(0)
    model = NotebookGRU(len(vocab))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    batcher = BucketBatcher(ids, BATCH, seed=0)
    points: list[dict[str, float]] = []
    result = {"name": "reference", "settings": {"reference": True}, "params": sum(p.numel() for p in model.parameters()),
              "flops_per_char": model.flops_per_char(), "points": points}
    step = epoch = 0
    while step < steps:
        for rows in batcher.epoch_order(epoch):
            b = make_batch([ids[i] for i in rows])
            model.train()
            loss = unmasked_loss(model(b.inputs)[0], b.targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % val_every == 0:
                model.eval()
                with torch.no_grad():
                    points.append({"step": step, "dev": evaluate_bpc(model, dev), "time": evaluate_bpc(model, later)})
                if log:
                    log(f"reference step {step}: dev {points[-1]['dev']:.4f} time {points[-1]['time']:.4f}")
                if save:
                    save(result)
            if step >= steps:
                break
        epoch += 1
    return result


def ratios(names: list[str], parts: dict[str, list[str]], block_s: float, rounds: int, peak_s: float,
           threads: int = 2, clock: str = "wall", n_batches: int = 40) -> dict[str, Any]:
    """Steps/s of each candidate as a ratio to ``default``, in alternating blocks (default, X, default, Y, ...).

    Each candidate steps through its own seeded batches (the same ones every round). A
    candidate's ratio is its steps/s in a block over the mean of the default's blocks either
    side of it, medianed over rounds. Also: the fp32 matmul peak (1024^3, best of a burst,
    before and after) and each candidate's achieved training GFLOP/s (3 x forward matmul
    FLOPs per real character x characters/s) as a share of it.

    ``clock="cpu"`` (with ``threads=1`` only) times blocks in this process's CPU seconds
    instead of wall seconds: on a machine shared with other work, a single-threaded step's
    CPU time hardly depends on the load, where its wall time does (2 threads under load wait
    for a descheduled partner at every kernel, so their ratios are not the model's).
    """
    if clock == "cpu" and threads != 1:
        raise ValueError("CPU-time blocks need threads=1 (several threads' CPU time includes their waits)")
    now = time.process_time if clock == "cpu" else time.perf_counter
    import torch

    from bench.reference import BATCH, LR, NotebookGRU, unmasked_loss
    from bench.worker import matmul_peak_gflops
    from core.data.batching import BucketBatcher, make_batch

    _setup(threads)
    steppers: dict[str, Any] = {}
    tmp = tempfile.TemporaryDirectory(prefix="tweetgen-sizes-")
    for name in ["default"] + [n for n in names if n != "default"]:
        if CANDIDATES[name].get("reference"):
            from core.data.batching import encode_all
            from core.data.vocab import CharVocab

            vocab = CharVocab.build(parts["train"])
            ids = encode_all(parts["train"], vocab)
            torch.manual_seed(0)
            ref = NotebookGRU(len(vocab))
            opt = torch.optim.Adam(ref.parameters(), lr=LR)

            def ref_step(b: Any, ref: Any = ref, opt: Any = opt) -> None:
                loss = unmasked_loss(ref(b.inputs)[0], b.targets)
                opt.zero_grad()
                loss.backward()
                opt.step()

            batcher = BucketBatcher(ids, BATCH, seed=0)
            steppers[name] = (ref_step, batcher, ids, ref.flops_per_char())
        else:
            tr = make_trainer(name, parts, Path(tmp.name) / name, threads=threads)
            tr.model.train()
            tr.optimizer.train()
            steppers[name] = (lambda b, tr=tr: tr.train_step(b), tr.batcher, tr.train_ids, tr.model.flops_per_char())
    batches = {}
    for name, (_, batcher, ids, _) in steppers.items():
        order = list(batcher.epoch_order(0))[:n_batches]
        batches[name] = [make_batch([ids[i] for i in rows]) for rows in order]
    pos = dict.fromkeys(steppers, 0)
    # real characters per step over a whole epoch (the blocks above use only its first batches)
    chars_per_step = {name: sum(len(x) - 1 for x in ids) / max(1, len(list(batcher.epoch_order(0))))
                      for name, (_, batcher, ids, _) in steppers.items()}

    def block(name: str) -> tuple[float, int]:
        step, _, _, _ = steppers[name]
        bs, n, chars = batches[name], 0, 0
        start = now()
        while now() - start < block_s:
            b = bs[pos[name] % len(bs)]
            pos[name] += 1
            step(b)
            n += 1
            chars += b.n_chars
        el = now() - start
        return n / el, chars / el

    for name in steppers:  # warm-up
        for _ in range(2):
            steppers[name][0](batches[name][pos[name]])
            pos[name] += 1
    peaks = [matmul_peak_gflops(1024, peak_s)]
    rates: dict[str, list[float]] = {n: [] for n in steppers}
    cps: dict[str, list[float]] = {n: [] for n in steppers}
    ratio: dict[str, list[float]] = {n: [] for n in steppers}
    others = [n for n in steppers if n != "default"]
    for _ in range(rounds):
        prev = block("default")
        rates["default"].append(prev[0])
        cps["default"].append(prev[1])
        for name in others:
            r = block(name)
            nxt = block("default")
            rates[name].append(r[0])
            cps[name].append(r[1])
            rates["default"].append(nxt[0])
            cps["default"].append(nxt[1])
            ratio[name].append(r[0] / ((prev[0] + nxt[0]) / 2))
            prev = nxt
    peaks.append(matmul_peak_gflops(1024, peak_s))
    tmp.cleanup()
    peak = max(peaks)
    out: dict[str, Any] = {"threads": threads, "clock": clock, "block_s": block_s, "rounds": rounds, "peak_gflops": peak, "peak_samples": peaks,
                           "anchor_steps_per_s": ANCHOR_STEPS_PER_S, "candidates": {}}
    for name in steppers:
        chars_s = statistics.median(cps[name])
        gflops = 3 * steppers[name][3] * chars_s / 1e9
        out["candidates"][name] = {
            "ratio": 1.0 if name == "default" else statistics.median(ratio[name]),
            "steps_per_s_here": statistics.median(rates[name]), "chars_per_s_here": chars_s,
            "flops_per_char": steppers[name][3], "train_gflops": gflops, "share_of_peak": gflops / peak,
            "chars_per_step_epoch": chars_per_step[name]}
    return out


def peak_at(threads: int, seconds: float) -> float:
    """The best fp32 matmul GFLOP/s (1024^3 and 2048^3) over a burst of ``seconds`` with ``threads`` threads
    (the best of many: on a shared machine some products run while the cores are free)."""
    import torch

    from bench.worker import matmul_peak_gflops

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return max(matmul_peak_gflops(n, seconds / 2) for n in (1024, 2048))
    finally:
        torch.set_num_threads(before)


def report(curves: dict[str, dict[str, Any]], ratio: dict[str, Any], peak_2_threads: float | None = None,
           anchor: float = ANCHOR_STEPS_PER_S) -> str:
    """A markdown table: each candidate's bits/char at 2, 10 and 30 minutes on both splits
    (the curve at step T x ratio x anchor; "-" where the curve did not reach that step)."""
    head = ("| candidate | settings | steps/s ratio | steps at 2 / 10 / 30 min | dev split 2 / 10 / 30 min "
            "| time split 2 / 10 / 30 min |")
    out = [head, "|---|---|---|---|---|---|"]
    for name, c in curves.items():
        r = ratio["candidates"].get(name, {}).get("ratio")
        if r is None:
            continue
        steps = [t * r * anchor for t in HORIZONS_S]
        cells = {k: " / ".join(fmt_or_dash(at_wall_time(c["points"], n, k), ".3f") for n in steps) for k in ("dev", "time")}
        settings = ", ".join(f"{k} {v}" for k, v in c["settings"].items()) or "today's default"
        out.append(f"| {name} | {settings} | {r:.2f} | {' / '.join(f'{n:,.0f}' for n in steps)} | {cells['dev']} | {cells['time']} |")
    if peak_2_threads:
        d = ratio["candidates"]["default"]
        a = share_at_anchor(d, peak_2_threads, anchor)
        out.append("")
        out.append(f"default at {anchor} steps/s: {a['train_gflops']:.1f} GFLOP/s = {a['share_of_peak']:.1%} of the "
                   f"2-thread fp32 peak {peak_2_threads:.0f} GFLOP/s ({d['chars_per_step_epoch']:.0f} real chars a step)")
    return "\n".join(out)


def share_at_anchor(cand: dict[str, Any], peak_2_threads: float, anchor: float = ANCHOR_STEPS_PER_S) -> dict[str, float]:
    """A candidate's training GFLOP/s at ``ratio x anchor`` steps/s (2 threads, quiet), as a share of the 2-thread peak."""
    steps_s = cand["ratio"] * anchor
    gflops = 3 * cand["flops_per_char"] * cand["chars_per_step_epoch"] * steps_s / 1e9
    return {"steps_per_s": steps_s, "train_gflops": gflops, "share_of_peak": gflops / peak_2_threads}


def at_wall_time(points: list[dict[str, float]], steps: float, key: str) -> float | None:
    """The curve's value at ``steps`` (linear between validations); None beyond its last point."""
    if not points or steps > points[-1]["step"]:
        return None
    prev = {"step": 0.0, key: points[0][key]}
    for p in points:
        if p["step"] >= steps:
            span = p["step"] - prev["step"]
            w = (steps - prev["step"]) / span if span else 1.0
            return prev[key] + w * (p[key] - prev[key])
        prev = p
    return None


def horizon_free(parts: dict[str, list[str]], short: int, val_every: int, val_limit: int) -> dict[str, Any]:
    """The default's curve with a budget of ``short`` and of ``2 * short`` steps agree up to ``short``."""
    a = curve("default", parts, short, val_every, val_limit)["points"]
    b = curve("default", parts, 2 * short, val_every, val_limit)["points"]
    same = [pa["dev"] == pb["dev"] and pa["time"] == pb["time"] for pa, pb in zip(a, b)]
    return {"short": short, "points_short": a, "points_long": b[: len(a)], "identical": all(same) and len(a) > 0}


def _log(msg: str) -> None:
    print(f"[sizes {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def quick(corpus: Path) -> dict[str, Any]:
    """The whole method, tiny: two short curves (a horizon check) and a ratio block (what ``make bench --quick`` runs)."""
    _setup(1)
    q = QUICK
    with tempfile.TemporaryDirectory(prefix="tweetgen-sizes-split-") as tmp:
        parts = load_parts(corpus, Path(tmp))
    parts = {"train": parts["train"][:400], "dev": parts["dev"][: q["val_limit"]], "time": parts["time"][: q["val_limit"]]}
    hf = horizon_free(parts, q["steps"], q["val_every"], q["val_limit"])
    ref = curve("reference", parts, q["steps"], q["val_every"], q["val_limit"])
    r = ratios(["h256"], parts, q["block_s"], q["rounds"], q["peak_s"], threads=1, clock="cpu", n_batches=4)
    peak2 = peak_at(2, q["peak_s"])
    return {"mode": "quick", "horizon_free": hf, "reference": ref, "ratios": r, "peak_2_threads_gflops": peak2,
            "default_at_anchor": share_at_anchor(r["candidates"]["default"], peak2)}


def section_sizes(quick_mode: bool, corpus: Path, log: Any) -> dict[str, Any]:
    """``make bench``'s section: the quick check, or the ratios of every candidate (the long curves are run by hand)."""
    if quick_mode:
        log("sizes: two tiny curves, the reference and one ratio block")
        return quick(corpus)
    log("sizes: steps/s ratios of each candidate to the default, alternating blocks at 2 threads")
    with tempfile.TemporaryDirectory(prefix="tweetgen-sizes-split-") as tmp:
        parts = load_parts(corpus, Path(tmp))
    r = ratios(list(CANDIDATES), parts, 3.0, 2, 1.5, threads=1, clock="cpu")
    peak2 = peak_at(2, 5.0)
    return {"mode": "full", "ratios": r, "peak_2_threads_gflops": peak2,
            "default_at_anchor": share_at_anchor(r["candidates"]["default"], peak2)}


def table_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    r = res.get("ratios", {})
    rows = [("13 sizes", "fp32 matmul peak, GFLOP/s (1 / 2 threads)",
             f"{fmt_or_dash(r.get('peak_gflops'), '.0f')} / {fmt_or_dash(res.get('peak_2_threads_gflops'), '.0f')}", "")]
    for name, c in r.get("candidates", {}).items():
        rows.append(("13 sizes", f"{name}: steps per CPU-s ratio to default / share of 1-thread peak",
                     f"{c['ratio']:.2f} / {c['share_of_peak']:.1%}", ""))
    anchor = res.get("default_at_anchor")
    if anchor:
        rows.append(("13 sizes", f"default at {ANCHOR_STEPS_PER_S} steps/s (2 threads, quiet): share of 2-thread peak",
                     f"{anchor['share_of_peak']:.1%}", ""))
    hf = res.get("horizon_free")
    if hf:
        rows.append(("13 sizes", f"curve independent of the budget ({hf['short']} vs {2 * hf['short']} steps)",
                     str(hf["identical"]), ""))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sizes", description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("curve", "ratio", "horizon", "quick", "report"))
    ap.add_argument("names", nargs="*", default=["default"])
    ap.add_argument("--corpus", type=Path, default=None, help="default: the bench's corpus (bench.common.corpus_path)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--val-every", type=int, default=100)
    ap.add_argument("--val-limit", type=int, default=0, help="validation tweets per split (0: all)")
    ap.add_argument("--block-s", type=float, default=15.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="for ratio (curves always train with 1 thread)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="ratio blocks in wall or CPU seconds (cpu: 1 thread)")
    ap.add_argument("--curves", type=Path, nargs="*", default=[], help="report: curve JSON files")
    ap.add_argument("--ratios", type=Path, help="report: a ratio JSON file")
    ap.add_argument("--peak2", type=float, help="report: the 2-thread fp32 peak, GFLOP/s")
    ap.add_argument("--out", type=Path, help="write the JSON here")
    a = ap.parse_args(argv)
    a.corpus = a.corpus or corpus_path()
    if a.what == "report":
        curves: dict[str, Any] = {}
        for f in a.curves:
            curves.update(json.loads(f.read_text()))
        print(report(curves, json.loads(a.ratios.read_text()), a.peak2))
        return 0
    if a.what == "quick":
        res = quick(a.corpus)
    else:
        _setup(1)
        with tempfile.TemporaryDirectory(prefix="tweetgen-sizes-split-") as tmp:
            parts = load_parts(a.corpus, Path(tmp))
        _log(f"train {len(parts['train'])}, dev {len(parts['dev'])}, time {len(parts['time'])} texts")
        if a.what == "curve":
            res = {}

            def save(r: dict[str, Any]) -> None:
                if a.out:
                    a.out.write_text(json.dumps({**res, r["name"]: r}, indent=1))

            for n in a.names:
                res[n] = curve(n, parts, a.steps, a.val_every, a.val_limit, log=_log, save=save)
        elif a.what == "horizon":
            res = horizon_free(parts, a.steps, a.val_every, a.val_limit)
        else:
            res = ratios(a.names, parts, a.block_s, a.rounds, 1.5, threads=a.threads, clock=a.clock)
    text = json.dumps(res, indent=1)
    if a.out:
        a.out.write_text(text)
    print(text if a.what != "curve" else json.dumps({n: r["points"][-1:] for n, r in res.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
