"""Section 8 of ``make bench`` (issue 11 §3): corpora in bounded memory.

Copies of the dev corpus are written to a temp folder and each is loaded in a fresh
interpreter (``python -m bench.corpus_memory CHILD_ARGS_JSON OUT_JSON``), so every peak RSS
(``ru_maxrss`` of that child) belongs to one measurement alone:

* x1, x10, x100 copies: load time (linearity) and peak RSS. Copies de-duplicate to the
  same ~20k tweets, so this measures what loading costs *beyond* the kept corpus.
* x100 with a unique suffix per copy (" ~k" appended to each tweet of copy k): nothing
  de-duplicates, so the kept corpus is ~2M tweets: what a real million-tweet corpus costs
  (no target; reported as bytes per kept tweet over the process baseline).
* x1000 copies (about 3 GB of CSV): load, then the first 20 training steps of the default
  model, as ``tweetgen train`` would (split, vocabulary, :class:`core.train.trainer.Trainer`).

``$TWEETGEN_BENCH_CORE`` (a folder holding another ``core/``) runs the children against that
code instead: how the "before" figures in bench/RESULTS.md were taken from the base commit.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import child_main, REPO, THREADS, fmt_or_dash, load_scaling

TRAIN_STEPS = 20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# ---------------------------------------------------------------- child (a fresh interpreter per measurement)


def child(args: dict[str, Any]) -> dict[str, Any]:
    """Load one file (and optionally train a few steps); peak RSS of this process."""
    import warnings

    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

    torch.set_num_threads(int(args.get("threads", THREADS)))
    from core.data.corpus import load_corpus

    base = _rss_mb()  # after importing torch and core: what every run of the app pays anyway
    t = time.perf_counter()
    texts, report = load_corpus(Path(args["path"]))
    load_s = time.perf_counter() - t
    out: dict[str, Any] = {"load_s": load_s, "kept": len(texts), "read": report.read, "rss_before_mb": base,
                           "load_peak_rss_mb": _peak_rss_mb(), "rss_after_load_mb": _rss_mb(),
                           "bytes": Path(args["path"]).stat().st_size}
    steps = int(args.get("train_steps", 0))
    if steps:
        from core.data.batching import make_batch
        from core.data.corpus import split_texts
        from core.model.gru import new_model
        from core.train.trainer import TrainConfig, Trainer
        from core.data.vocab import CharVocab

        t = time.perf_counter()
        train, val = split_texts(texts, 0.1, seed=0)
        del texts
        vocab = CharVocab.build(train)
        config = TrainConfig(val_every=0, ckpt_every=0, threads=int(args.get("threads", THREADS)))
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = Trainer(new_model(vocab, seed=config.seed), vocab, train, val, config, run_dir)
            out["trainer_ready_s"] = time.perf_counter() - t
            order = trainer.batcher.epoch_order(0)
            t = time.perf_counter()
            for rows in order[:steps]:
                trainer.train_step(make_batch([trainer.train_ids[i] for i in rows]))
            out["train_steps"] = min(steps, len(order))
            out["train_steps_s"] = time.perf_counter() - t
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _run_child(args: dict[str, Any], timeout: float = 3600.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tweetgen-bench-") as tmp:
        result = Path(tmp) / "result.json"
        env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS=str(THREADS))
        env.setdefault("TWEETGEN_HOME", str(Path(tmp) / "home"))
        start = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "bench.corpus_memory", json.dumps(args), str(result)],
                                  cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f}s"}
        if proc.returncode != 0 or not result.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
        out = json.loads(result.read_text())
        out["wall_s"] = time.perf_counter() - start
        return out


# ---------------------------------------------------------------- building the copies


def _write_copies(corpus: Path, dest: Path, scale: int) -> None:
    """``scale`` byte-for-byte copies of the corpus body under one header."""
    raw = corpus.read_bytes()
    header, _, body = raw.partition(b"\n") if corpus.suffix.lower() == ".csv" else (b"", b"", raw)
    if not body.endswith(b"\n"):
        body += b"\n"
    with open(dest, "wb") as fh:
        if header:
            fh.write(header + b"\n")
        for _ in range(scale):
            fh.write(body)


def _write_unique_copies(corpus: Path, dest: Path, scale: int) -> None:
    """``scale`` copies, each tweet of copy k ending in " ~k": nothing de-duplicates."""
    if corpus.suffix.lower() == ".csv":
        with open(corpus, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        header, rows = rows[0], rows[1:]
        col = [h.strip().lower() for h in header].index("text")
        with open(dest, "w", newline="", encoding="utf-8") as out:
            w = csv.writer(out)
            w.writerow(header)
            for k in range(scale):
                suffix = f" ~{k}"
                for row in rows:
                    row = list(row)
                    row[col] = row[col] + suffix
                    w.writerow(row)
    else:
        lines = corpus.read_text(encoding="utf-8").splitlines()
        with open(dest, "w", encoding="utf-8") as out:
            for k in range(scale):
                for line in lines:
                    out.write(f"{line} ~{k}\n")


# ---------------------------------------------------------------- the section


def section_corpus(p: dict[str, Any], corpus: Path, tmp: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Load copies of the corpus at growing scales; peak RSS and seconds, each in a fresh process."""
    out: dict[str, Any] = {"corpus": str(corpus), "core": os.environ.get("TWEETGEN_BENCH_CORE") or "this checkout",
                           "targets_mb": {"x100": 1024, "x1000_train": 2048}}
    loads = []
    for scale in p["corpus_scales"]:
        path = tmp / f"corpus-x{scale}{corpus.suffix}"
        _write_copies(corpus, path, scale)
        log(f"corpus: loading x{scale} ({path.stat().st_size / 2**20:,.0f} MB)")
        r = _run_child({"path": str(path)})
        r["scale"] = scale
        loads.append(r)
        path.unlink()
    out["loads"] = loads
    out.update(load_scaling(loads))
    ok = [r for r in loads if "load_s" in r]
    big = ok[-1] if ok else None
    if big is not None and big["scale"] == p["corpus_target_scale"]:
        out["x100_met"] = big["peak_rss_mb"] < 1024
    scale = p["corpus_unique_scale"]
    path = tmp / f"corpus-unique-x{scale}{corpus.suffix}"
    _write_unique_copies(corpus, path, scale)
    log(f"corpus: loading x{scale} with a unique suffix per copy ({path.stat().st_size / 2**20:,.0f} MB)")
    r = _run_child({"path": str(path)})
    path.unlink()
    if "kept" in r:
        r["bytes_per_kept_tweet"] = (r["rss_after_load_mb"] - r["rss_before_mb"]) * 2**20 / max(r["kept"], 1)
        r["peak_bytes_per_kept_tweet"] = (r["peak_rss_mb"] - r["rss_before_mb"]) * 2**20 / max(r["kept"], 1)
    r["scale"] = scale
    out["unique"] = r
    scale = p["corpus_train_scale"]
    if scale:
        path = tmp / f"corpus-x{scale}{corpus.suffix}"
        _write_copies(corpus, path, scale)
        log(f"corpus: loading x{scale} ({path.stat().st_size / 2**20:,.0f} MB) and training {TRAIN_STEPS} steps")
        r = _run_child({"path": str(path), "train_steps": TRAIN_STEPS})
        path.unlink()
        r["scale"] = scale
        if "peak_rss_mb" in r:
            r["met"] = r["peak_rss_mb"] < 2048
        out["train"] = r
    return out


def table_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    f = fmt_or_dash
    rows: list[tuple[str, str, str, str]] = []
    for r in res.get("loads", []):
        target = "< 1024 " + ("met" if r.get("peak_rss_mb", 1e9) < 1024 else "NOT met") if r.get("scale") == 100 else ""
        rows.append(("8 corpus", f"load x{r.get('scale')}: s / peak RSS MB (kept {f(r.get('kept'), ',')})",
                     f"{f(r.get('load_s'), '.2f')} / {f(r.get('peak_rss_mb'), ',.0f')}", r.get("error", "")[:40] or target))
    rows.append(("8 corpus", "load time growth exponent (1 = linear)", f(res.get("scaling_exponent"), ".2f"),
                 "< 1.25 " + ("met" if res.get("linear_met") else "NOT met") if "linear_met" in res else ""))
    u = res.get("unique", {})
    rows.append(("8 corpus", f"load x{u.get('scale')} unique: s / peak RSS MB (kept {f(u.get('kept'), ',')})",
                 f"{f(u.get('load_s'), '.2f')} / {f(u.get('peak_rss_mb'), ',.0f')}", u.get("error", "")[:40]))
    rows.append(("8 corpus", "  bytes per kept tweet (held / peak)",
                 f"{f(u.get('bytes_per_kept_tweet'), ',.0f')} / {f(u.get('peak_bytes_per_kept_tweet'), ',.0f')}", ""))
    t = res.get("train")
    if t:
        rows.append(("8 corpus", f"load x{t.get('scale')} + {TRAIN_STEPS} steps: s / peak RSS MB",
                     f"{f(t.get('load_s'), '.1f')} / {f(t.get('peak_rss_mb'), ',.0f')}",
                     t.get("error", "")[:40] or ("< 2048 " + ("met" if t.get("met") else "NOT met"))))
    return rows


if __name__ == "__main__":
    child_main(child)
