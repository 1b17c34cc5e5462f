"""Measurements that run in a fresh interpreter: ``python -m bench.worker TASK ARGS_JSON OUT_JSON``.

Each task pins torch to 2 threads first; peak RSS is therefore per task.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import THREADS, load_split, peak_rss_mb, rss_mb, setup_torch


# ---------------------------------------------------------------- section 1 (and 5: training RSS)


def _default_trainer(train: list[str], val: list[str], budget_s: float | None, run_dir: str, overrides: dict[str, Any],
                     threads: int = THREADS):
    from core.train.trainer import TrainConfig, Trainer
    from core.model.gru import new_model
    from core.data.vocab import CharVocab

    model_kw = {k: overrides[k] for k in ("embed_dim", "hidden_size", "num_layers", "dropout") if k in overrides}
    cfg_kw = {k: v for k, v in overrides.items() if k not in model_kw}
    vocab = CharVocab.build(train)
    config = TrainConfig(minutes=budget_s / 60.0 if budget_s else None, val_every=0, ckpt_every=0, threads=threads, **cfg_kw)
    model = new_model(vocab, seed=config.seed, **model_kw)
    return Trainer(model, vocab, train, val, config, run_dir)


def task_train(args: dict[str, Any]) -> dict[str, Any]:
    """Train one configuration for a wall-time budget; held-out bits/char over the whole 10% split."""
    from core.train.evaluate import evaluate_bpc

    setup_torch(int(args.get("threads", THREADS)))
    train, val = load_split(Path(args["corpus"]))
    budget = float(args["budget_s"])
    result: dict[str, Any] = {"which": args["which"], "budget_s": budget, "n_train": len(train), "n_val": len(val)}
    if args["which"] == "reference":
        from bench.reference import NotebookGRU, train_reference
        from core.data.vocab import CharVocab

        vocab = CharVocab.build(train)
        train_ids = [vocab.encode(t) for t in train]
        model, counters = train_reference(train_ids, len(vocab), budget)
        result.update(counters)
        result["flops_per_char"] = model.flops_per_char()
        result["config"] = {"input": "one-hot (torch.eye)", "hidden_size": 64, "batch_size": 32, "lr": 0.004, "loss": "unmasked"}
        assert isinstance(model, NotebookGRU)
    else:
        open_ended = bool(args.get("open_ended"))  # as the app trains: no budget, so no cosine decay
        trainer = _default_trainer(train, val, None if open_ended else budget, args["run_dir"], args.get("overrides", {}),
                                   int(args.get("threads", THREADS)))
        vocab = trainer.vocab
        start = time.perf_counter()
        done = None
        for event in trainer.run():
            done = event
            if open_ended and trainer.progress.elapsed >= budget:
                trainer.stop()
        result["open_ended"] = open_ended
        model = trainer.averaged_model()  # the weights a checkpoint holds (schedule-free: the average)
        p = trainer.progress
        result["train_s"] = p.elapsed
        result["wall_s_incl_final_save"] = time.perf_counter() - start
        result["steps"] = p.step
        result["done"] = getattr(done, "reason", None)
        chars = padded = 0
        for epoch in range(p.epoch + 1):
            order = trainer.batcher.epoch_order(epoch)
            for rows in order[: (p.batch_in_epoch if epoch == p.epoch else len(order))]:
                seqs = [trainer.train_ids[i] for i in rows]
                chars += sum(len(s) - 1 for s in seqs)
                padded += len(seqs) * (max(len(s) for s in seqs) - 1)
        result.update(chars=chars, padded_positions=padded, epochs=p.epoch + p.batch_in_epoch / len(trainer.batcher))
        result["flops_per_char"] = model.flops_per_char()
        result["config"] = {**model.config.to_dict(), **{k: v for k, v in trainer.config.to_dict().items()
                                                        if k in ("batch_size", "lr", "lr_schedule", "warmup_steps", "min_lr_ratio", "clip", "threads")}}
        result["checkpoint"] = str(trainer.last_checkpoint) if trainer.last_checkpoint else None
    result["n_params"] = sum(p.numel() for p in model.parameters())
    result["train_peak_rss_mb"] = peak_rss_mb()
    t = time.perf_counter()
    val_ids = [vocab.encode(s) for s in (val[: int(args["val_limit"])] if args.get("val_limit") else val)]
    result["n_val_evaluated"] = len(val_ids)
    from core.train.evaluate import length_cost_bpc

    result["val_bpc_given_length"] = evaluate_bpc(model, val_ids)
    result["val_length_bpc"] = length_cost_bpc(model, val_ids) if hasattr(model, "length_aware") else 0.0
    result["val_bpc"] = result["val_bpc_given_length"] + result["val_length_bpc"]  # honest: the length's cost included
    result["eval_s"] = time.perf_counter() - t
    result["chars_per_s"] = result["chars"] / result["train_s"]
    result["padding_share"] = 1.0 - result["chars"] / max(1, result["padded_positions"])
    result["peak_rss_mb"] = peak_rss_mb()
    return result


# ---------------------------------------------------------------- section 2


def matmul_peak_gflops(n: int = 2048, seconds: float = 1.5) -> float:
    """Best float32 GFLOP/s of an n x n matmul on this machine right now."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def task_throughput(args: dict[str, Any]) -> dict[str, Any]:
    """Real characters/s of default and reference training steps, in alternating blocks."""
    import tempfile

    import torch

    from bench.reference import BATCH, LR, NotebookGRU, unmasked_loss
    from core.data.batching import BucketBatcher, make_batch

    setup_torch(int(args.get("threads", THREADS)))
    train, val = load_split(Path(args["corpus"]))
    block, rounds = float(args["block_s"]), int(args["rounds"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _default_trainer(train, val, None, tmp, args.get("overrides", {}))
    vocab = trainer.vocab
    torch.manual_seed(0)
    ref = NotebookGRU(len(vocab))
    ref_opt = torch.optim.Adam(ref.parameters(), lr=LR)
    ref_batches = BucketBatcher(trainer.train_ids, BATCH, seed=0)

    def batches(batcher: BucketBatcher):
        epoch = 0
        while True:
            for rows in batcher.epoch_order(epoch):
                yield make_batch([batcher.encoded[i] for i in rows])
            epoch += 1

    def default_step(b: Any) -> None:
        trainer.train_step(b)

    def ref_step(b: Any) -> None:
        logits, _ = ref(b.inputs)
        loss = unmasked_loss(logits, b.targets)
        ref_opt.zero_grad()
        loss.backward()
        ref_opt.step()

    threads = int(args.get("threads", THREADS))
    default_batches = batches(trainer.batcher)
    streams = {"default": (default_step, default_batches, threads), "reference": (ref_step, batches(ref_batches), threads),
               "default_1_thread": (default_step, default_batches, 1)}
    for step, it, _ in streams.values():  # warm-up
        for _ in range(3):
            step(next(it))
    peak_s = float(args.get("peak_s", 1.5))
    peaks = [matmul_peak_gflops(seconds=peak_s)]
    samples: dict[str, list[float]] = {name: [] for name in streams}
    padding: dict[str, list[int]] = {name: [0, 0] for name in streams}
    for _ in range(rounds):
        for name, (step, it, n_threads) in streams.items():
            torch.set_num_threads(n_threads)
            step(next(it))  # first step after a thread-count change rebuilds the pool: not timed
            chars = 0
            start = time.perf_counter()
            while time.perf_counter() - start < block:
                b = next(it)
                step(b)
                chars += b.n_chars
                padding[name][0] += b.n_chars
                padding[name][1] += b.targets.numel()
            samples[name].append(chars / (time.perf_counter() - start))
    torch.set_num_threads(threads)
    peaks.append(matmul_peak_gflops(seconds=peak_s))
    peak = max(peaks)
    out: dict[str, Any] = {"matmul_peak_gflops": peak, "matmul_peak_samples": peaks, "block_s": block, "rounds": rounds}
    for name, fpc in (("default", trainer.model.flops_per_char()), ("reference", ref.flops_per_char()),
                      ("default_1_thread", trainer.model.flops_per_char())):
        cps = statistics.median(samples[name])
        gflops = cps * 3 * fpc / 1e9
        out[name] = {"chars_per_s": cps, "samples": samples[name], "flops_per_char_fwd": fpc, "train_gflops": gflops,
                     "fraction_of_peak": gflops / peak, "padding_share": 1 - padding[name][0] / max(1, padding[name][1])}
    out["default"]["config"] = trainer.model.config.to_dict() | {"batch_size": trainer.config.batch_size}
    out["speed_ratio"] = out["default"]["chars_per_s"] / out["reference"]["chars_per_s"]
    out["two_threads_over_one"] = out["default"]["chars_per_s"] / out["default_1_thread"]["chars_per_s"]
    out["threads"] = threads
    return out


# ---------------------------------------------------------------- section 3


def task_sampling(args: dict[str, Any]) -> dict[str, Any]:
    """Single-stream chars/s, time to first character and a 64-tweet batch, with the default model."""
    from core.model.sampler import SampleConfig, sample_batch, stream

    setup_torch(int(args.get("threads", THREADS)))
    if args.get("checkpoint"):
        from core.store.checkpoints import load_checkpoint

        ckpt = load_checkpoint(args["checkpoint"])
        model, vocab, trained = ckpt.model(), ckpt.vocab, True
    else:
        from core.model.gru import new_model
        from core.data.vocab import CharVocab

        train, _ = load_split(Path(args["corpus"]))
        vocab = CharVocab.build(train)
        model, trained = new_model(vocab), False
    model.eval()
    for i in range(3):  # warm-up
        list(stream(model, vocab, SampleConfig(seed=1000 + i, max_len=20)))
    first: list[float] = []
    for i in range(int(args["first_reps"])):
        t = time.perf_counter()
        next(iter(stream(model, vocab, SampleConfig(seed=i))), None)
        first.append(time.perf_counter() - t)
    target_chars = int(args["stream_chars"])
    chars, seed = 0, 0
    start = time.perf_counter()
    while chars < target_chars:
        for _ in stream(model, vocab, SampleConfig(seed=seed, max_len=140)):
            chars += 1
        seed += 1
    single = chars / (time.perf_counter() - start)
    batch_times: list[float] = []
    lengths: list[int] = []
    for i in range(int(args["batch_reps"])):
        t = time.perf_counter()
        texts = sample_batch(model, vocab, 64, SampleConfig(seed=i, max_len=140))
        batch_times.append(time.perf_counter() - t)
        lengths.extend(len(x) for x in texts)
    return {
        "trained_model": trained,
        "model": model.config.to_dict(),
        "single_stream_chars_per_s": single,
        "single_stream_chars": chars,
        "single_stream_texts": seed,
        "first_char_ms_median": 1e3 * statistics.median(first),
        "first_char_ms_p90": 1e3 * sorted(first)[int(0.9 * (len(first) - 1))],
        "batch64_s_median": statistics.median(batch_times),
        "batch64_s_max": max(batch_times),
        "batch64_mean_len": statistics.mean(lengths),
        "peak_rss_mb": peak_rss_mb(),
    }


# ---------------------------------------------------------------- section 5


def task_load(args: dict[str, Any]) -> dict[str, Any]:
    """Corpus loading time and RSS (after imports) for one file."""
    from core.data.corpus import load_corpus

    base = rss_mb()
    t = time.perf_counter()
    texts, report = load_corpus(Path(args["path"]))
    elapsed = time.perf_counter() - t
    return {"load_s": elapsed, "kept": len(texts), "read": report.read, "rss_before_mb": base,
            "peak_rss_mb": peak_rss_mb(), "bytes": Path(args["path"]).stat().st_size}


def task_horizon(args: dict[str, Any]) -> dict[str, Any]:
    from bench.horizons import task_horizon as run

    return run(args)


def task_novelty(args: dict[str, Any]) -> dict[str, Any]:
    from bench.novelty import task_novelty as run

    return run(args)


def task_small(args: dict[str, Any]) -> dict[str, Any]:
    from bench.small_corpora import task_small as run

    return run(args)


def task_scripts(args: dict[str, Any]) -> dict[str, Any]:
    from bench.many_scripts import run

    return run(args)


def task_scripts_speed(args: dict[str, Any]) -> dict[str, Any]:
    from bench.many_scripts import run_speed

    return run_speed(args)


def task_neurons(args: dict[str, Any]) -> dict[str, Any]:
    from bench.neurons import task_neurons as run

    return run(args)


TASKS = {"train": task_train, "throughput": task_throughput, "sampling": task_sampling, "load": task_load,
         "horizon": task_horizon, "novelty": task_novelty, "small": task_small, "scripts": task_scripts,
         "scripts_speed": task_scripts_speed, "neurons": task_neurons}


def main() -> None:
    task, raw_args, out = sys.argv[1], sys.argv[2], sys.argv[3]
    result = TASKS[task](json.loads(raw_args))
    Path(out).write_text(json.dumps(result, default=lambda o: None if isinstance(o, float) and not math.isfinite(o) else str(o)))


if __name__ == "__main__":
    main()
