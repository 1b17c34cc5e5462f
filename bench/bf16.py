"""Issue 17: does bf16 give more model per minute? ``python -m bench.bf16 [--quick] [--json PATH]``.

A full training step (forward, backward, clip, schedule-free AdamW step) of the default
model on real batches of the corpus, for:

- ``stock_fp32``: the default, ``nn.GRU`` in fp32;
- ``loop_fp32``: core/model/gru_bf16.py's hand-written GRU with fp32 matmuls (what the custom loop
  itself costs, apart from bf16);
- ``loop_bf16``: the same GRU with bf16 matmuls, fp32 state and master weights (``precision="bf16"``);
- ``autocast_bf16``: ``torch.autocast("cpu", bfloat16)`` around the stock model (the issue's probe).

Variants alternate in rounds on the same batches, so a busy machine slows them alike. The
peak matmul GFLOP/s of each precision is measured in the same process (2 threads), and
each variant's share of peak is against the peak of the precision it computes in.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from bench.common import RESULTS_DIR, THREADS, corpus_path, load_split, setup_torch

VARIANTS = ("stock_fp32", "loop_fp32", "loop_bf16", "autocast_bf16")
FULL = {"rounds": 3, "block_s": 6.0, "peak_s": 1.5, "max_steps": 20, "max_len": 0}
# quick: texts cut to 16 characters, so the bf16 variants' reference kernels (a CPU without bf16) take seconds, not minutes
QUICK = {"rounds": 1, "block_s": 0.3, "peak_s": 0.2, "max_steps": 2, "max_len": 16}


def matmul_gflops(dtype_name: str, n: int, seconds: float) -> float:
    """Best GFLOP/s of an n^3 matmul in ``dtype_name`` over ``seconds`` (at least 2 timed calls)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # warm-up
    best, start, reps = float("inf"), time.perf_counter(), 0
    while reps < 2 or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
        reps += 1
    return 2 * n**3 / best / 1e9


def measure(p: dict[str, Any], corpus: Path, variants: tuple[str, ...] = VARIANTS) -> dict[str, Any]:
    """ms/step, chars/s and share of peak for each variant (runs in this process: pin threads first)."""
    import torch

    from core.data.batching import BucketBatcher, encode_all
    from core.model.gru_bf16 import bf16_supported
    from core.model.gru import new_model
    from core.train.trainer import TrainConfig, make_optimizer
    from core.train.evaluate import masked_loss_sum
    from core.data.vocab import PAD_ID, CharVocab

    train, _val = load_split(corpus)
    vocab = CharVocab.build(train)
    ids = encode_all(train, vocab)
    cfg = TrainConfig()
    batcher = BucketBatcher(ids, cfg.batch_size, seed=0)
    batches = _some_batches(batcher, ids, 8, p["max_len"])

    models, opts = {}, {}
    for name in variants:
        m = new_model(vocab, seed=0)
        m.precision = "bf16" if name == "loop_bf16" else "fp32"
        models[name], opts[name] = m.train(), make_optimizer(m, cfg)
        opts[name].train()
    fpc = models[variants[0]].flops_per_char()

    def step_fn(name: str) -> Callable[[Any], None]:
        m, opt = models[name], opts[name]

        def forward(b: Any) -> torch.Tensor:
            if name == "loop_fp32":
                from core.model.gru_bf16 import mixed_forward

                x = m.embed(b.inputs)
                if m.length_aware:
                    x = x + m.length_embed(b.remaining.clamp(0, m.config.max_length))
                return mixed_forward(m, x, None, torch.float32)[0]
            if name == "autocast_bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return m(b.inputs, None, b.remaining)[0].float()
            return m(b.inputs, None, b.remaining)[0]

        def step(b: Any) -> None:
            logits = forward(b)  # (B, T, V)
            loss_sum, n = masked_loss_sum(logits, b.targets)
            opt.zero_grad(set_to_none=True)
            (loss_sum / n).backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), cfg.clip)
            opt.step()

        return step

    steps = {name: step_fn(name) for name in variants}
    for name in variants:  # one untimed step each: first-call allocations and kernel selection
        steps[name](batches[0])
    times: dict[str, list[float]] = {n: [] for n in variants}
    chars: dict[str, int] = {n: 0 for n in variants}
    positions: dict[str, int] = {n: 0 for n in variants}
    load = [os.getloadavg()[0]]
    native = bf16_supported(torch.device("cpu"))
    n_bf16 = 1024 if native else 512  # without bf16 arithmetic a 1024^3 bf16 matmul takes seconds
    peaks = {"float32": [matmul_gflops("float32", 1024, p["peak_s"])], "bfloat16": [matmul_gflops("bfloat16", n_bf16, p["peak_s"])]}
    k = 0
    for _ in range(p["rounds"]):
        for name in variants:
            start = time.perf_counter()
            n_steps = 0
            while n_steps < 1 or (time.perf_counter() - start < p["block_s"] and n_steps < p["max_steps"]):
                b = batches[k % len(batches)]
                k += 1
                t = time.perf_counter()
                steps[name](b)
                times[name].append(time.perf_counter() - t)
                chars[name] += int((b.targets != PAD_ID).sum())
                positions[name] += b.targets.numel()
                n_steps += 1
        load.append(os.getloadavg()[0])
    peaks["float32"].append(matmul_gflops("float32", 1024, p["peak_s"]))
    peaks["bfloat16"].append(matmul_gflops("bfloat16", n_bf16, p["peak_s"]))
    peak = {k2: max(v) for k2, v in peaks.items()}
    out: dict[str, Any] = {
        "threads": torch.get_num_threads(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native, "peak_gflops": peak, "peak_samples": peaks, "peak_sizes": {"float32": 1024, "bfloat16": n_bf16},
        "flops_per_char_fwd": fpc, "load_avg": load, "batch": cfg.batch_size,
        "mean_columns": sum(b.inputs.shape[1] for b in batches) / len(batches),
    }
    for name in variants:
        ts = sorted(times[name])
        total = sum(times[name])
        cps = chars[name] / total
        gflops = cps * 3 * fpc / 1e9  # training ~ 3x the forward's matmuls, over real (unpadded) characters
        prec = "bfloat16" if "bf16" in name else "float32"
        out[name] = {"steps": len(ts), "ms_per_step_median": 1000 * ts[len(ts) // 2], "ms_per_step_mean": 1000 * total / len(ts),
                     "chars_per_s": cps, "train_gflops": gflops, "share_of_peak": gflops / peak[prec], "peak_precision": prec,
                     "padding_share": 1 - chars[name] / max(1, positions[name])}
    base = out[variants[0]]["chars_per_s"]
    for name in variants:
        out[name]["speed_vs_stock_fp32"] = out[name]["chars_per_s"] / base
    return out


def _some_batches(batcher: Any, ids: Any, n: int, max_len: int = 0) -> list[Any]:
    """The first ``n`` batches of epoch 0 in the trainer's bucketed order (typical lengths and padding).

    ``max_len`` > 0 cuts every text to that many ids (quick mode only).
    """
    from core.data.batching import make_batch

    rows = batcher.epoch_order(0)[:n]
    return [make_batch([ids[i][:max_len] if max_len else ids[i] for i in r]) for r in rows]


def equal_steps(corpus: Path, precision: str, steps: int, val_limit: int, threads: int) -> dict[str, Any]:
    """Train the default model ``steps`` steps in ``precision`` and validate in fp32: quality per step, not per second.

    bf16 is forced on even where the CPU lacks it (torch's reference kernels then run it,
    slowly), so this says whether bf16 rounding costs bits/char at equal steps; on a CPU
    with bf16 arithmetic, equal steps take less time.
    """
    import tempfile

    import torch

    from core.model import gru_bf16
    from core.model.gru import new_model
    from core.train.trainer import TrainConfig, Trainer
    from core.train.evaluate import evaluate_bpc
    from core.data.vocab import CharVocab

    gru_bf16.cpu_has_native_bf16 = lambda: True  # type: ignore[assignment]  # forced: see the docstring
    train, val = load_split(corpus)
    vocab = CharVocab.build(train)
    config = TrainConfig(max_steps=steps, val_every=0, ckpt_every=0, threads=threads, precision=precision)
    with tempfile.TemporaryDirectory(prefix="tweetgen-bench-") as tmp:
        trainer = Trainer(new_model(vocab, seed=config.seed), vocab, train, val, config, tmp)
        start = time.perf_counter()
        for _ in trainer.run():
            pass
        wall = time.perf_counter() - start
        model = trainer.averaged_model()
    from core.data.batching import encode_all

    bpc = evaluate_bpc(model, encode_all(val[:val_limit] if val_limit else val, vocab), device=torch.device("cpu"))
    return {"precision": trainer.precision, "steps": trainer.progress.step, "wall_s": wall, "val_bpc": bpc,
            "val_texts": min(len(val), val_limit) if val_limit else len(val), "threads": threads,
            "load_avg_end": os.getloadavg()}


def section_bf16(p_quick: bool, corpus: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """``make bench`` section: the micro-bench in a fresh interpreter pinned to 2 threads."""
    import subprocess
    import tempfile

    log("bf16: a training step in fp32 and bf16, and each precision's matmul peak")
    with tempfile.TemporaryDirectory(prefix="tweetgen-bench-") as tmp:
        out = Path(tmp) / "bf16.json"
        cmd = [sys.executable, "-m", "bench.bf16", "--json", str(out), "--corpus", str(corpus)] + (["--quick"] if p_quick else [])
        env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS=str(THREADS))
        proc = subprocess.run(cmd, cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0 or not out.exists():
            return {"error": f"bf16: exit {proc.returncode}: " + " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])}
        return json.loads(out.read_text())


def table_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows for bench/__main__.py's table."""
    from bench.common import fmt_or_dash

    if "error" in res:
        return [("12 bf16", "micro-bench", "-", res["error"][:60])]
    peak = res.get("peak_gflops", {})
    rows = [("12 bf16", f"matmul peak fp32 / bf16, GFLOP/s ({res.get('threads')} threads, native bf16: {res.get('native_bf16')})",
             f"{fmt_or_dash(peak.get('float32'), '.0f')} / {fmt_or_dash(peak.get('bfloat16'), '.1f')}", "")]
    for name in VARIANTS:
        v = res.get(name)
        if not v:
            continue
        # without bf16 arithmetic the bf16 "peak" is torch's reference loop: a share of it means nothing
        share = "-" if "bf16" in name and not res.get("native_bf16") else f"{v['share_of_peak']:.1%}"
        rows.append(("12 bf16", f"{name}: ms/step / chars/s / share of its peak",
                     f"{v['ms_per_step_median']:.0f} / {v['chars_per_s']:,.0f} / {share}",
                     f"x{v['speed_vs_stock_fp32']:.2f} vs stock"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bf16", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--threads", type=int, default=THREADS, help=f"torch threads (default {THREADS}, as every bench section)")
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    ap.add_argument("--equal-steps", type=int, metavar="N", help="instead: train N steps in --precision and validate (fp32)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--val-limit", type=int, default=0, help="with --equal-steps: validate on the first N held-out texts (0 = all)")
    args = ap.parse_args(argv)
    setup_torch(args.threads)
    if args.equal_steps:
        res = equal_steps(args.corpus or corpus_path(), args.precision, args.equal_steps, args.val_limit, args.threads)
        print(json.dumps(res))
        if args.json:
            args.json.write_text(json.dumps(res, indent=2))
        return 0
    res = measure(QUICK if args.quick else FULL, args.corpus or corpus_path(), tuple(args.variants))
    for row in table_rows(res):
        print("  ".join(row))
    path = args.json or RESULTS_DIR / f"bf16-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
