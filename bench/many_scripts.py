"""Section 9 of ``make bench`` (issue 16 §6): a Japanese-like corpus of ~3,000 distinct characters.

A personal archive in Japanese has thousands of distinct characters where an English one
has about a hundred. The vocabulary sets the size of the embedding and of the decoder
(hidden x vocab), so it can cost training speed, memory, checkpoint size and sampling
speed. This section measures both on corpora made here by code (never real tweets):

- ``cjk``: random sentences over 3,000 Han characters (U+4E00 onward, drawn with Zipf
  weights, as real text uses a few hundred characters often and the rest rarely), plus
  hiragana, katakana, Japanese punctuation, digits and the odd emoji;
- ``latin``: random "words" over ASCII letters, digits and punctuation (~90 characters),

with the same number of tweets and the same length distribution (20-140 characters).
Each runs in a fresh interpreter (``bench.worker scripts``): the corpus is written to a
file and read by ``core.data.corpus.load_corpus`` (the real path), split 90/10, the vocabulary
built, the default model trained for ``train_s`` seconds (2 threads, no validation or
checkpoint in between, one at the end), then sampled (1 thread, as the app samples).
Figures: load and vocabulary time, vocabulary size, parameters, real training chars/s,
the peak RSS growth from just before training, the checkpoint's size, single-stream
sampling chars/s, and held-out bits/char after the budget (for context only).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, Callable

from bench.common import fmt_or_dash, peak_rss_mb, rss_mb, run_worker, setup_torch

HAN_START = 0x4E00
HIRAGANA = [chr(c) for c in range(0x3041, 0x3097)]
KATAKANA = [chr(c) for c in range(0x30A1, 0x30FB)]
JA_PUNCT = list("、。！？「」・…ー")
EMOJI = list("😀😂🙏🌸🍣🎉🔥✨")
ASCII_LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
ASCII_OTHER = list("0123456789.,!?'\"-:;()@#&/%$*+=_")
MIN_LEN, MAX_LEN = 20, 140


def _zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return [1.0 / (rank + 1) ** s for rank in range(n)]


def cjk_corpus(n_tweets: int, seed: int = 0, n_han: int = 3000) -> list[str]:
    """``n_tweets`` distinct synthetic Japanese-like tweets over ``n_han`` Han characters plus kana,
    punctuation, digits and a few emoji; lengths uniform in 20-140 characters."""
    rng = random.Random(seed)
    han = [chr(HAN_START + i) for i in range(n_han)]
    rng.shuffle(han)  # which character is frequent is arbitrary
    han_weights = _zipf_weights(n_han)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n_tweets:
        length = rng.randint(MIN_LEN, MAX_LEN)
        chars: list[str] = []
        while len(chars) < length:
            r = rng.random()
            if r < 0.45:
                chars.extend(rng.choices(han, han_weights, k=rng.randint(1, 3)))
            elif r < 0.80:
                chars.extend(rng.choice(HIRAGANA) for _ in range(rng.randint(1, 4)))
            elif r < 0.88:
                chars.extend(rng.choice(KATAKANA) for _ in range(rng.randint(2, 5)))
            elif r < 0.96:
                chars.append(rng.choice(JA_PUNCT))
            elif r < 0.99:
                chars.append(str(rng.randint(0, 99)))
            else:
                chars.append(rng.choice(EMOJI))
        text = "".join(chars)[:length]
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def latin_corpus(n_tweets: int, seed: int = 0) -> list[str]:
    """``n_tweets`` distinct synthetic tweets over ~90 ASCII characters, lengths as :func:`cjk_corpus`'s."""
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n_tweets:
        length = rng.randint(MIN_LEN, MAX_LEN)
        words: list[str] = []
        while sum(len(w) + 1 for w in words) < length:
            word = "".join(rng.choice(ASCII_LETTERS) for _ in range(rng.randint(1, 9)))
            if rng.random() < 0.2:
                word += rng.choice(ASCII_OTHER)
            words.append(word)
        text = " ".join(words)[:length].strip()
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


CORPORA: dict[str, Callable[[int, int], list[str]]] = {"cjk": cjk_corpus, "latin": latin_corpus}


def run(args: dict[str, Any]) -> dict[str, Any]:
    """``bench.worker scripts``: one corpus kind, measured in this (fresh) interpreter."""
    import tempfile

    threads = int(args.get("threads", 2))
    setup_torch(threads)
    import torch

    from bench.worker import _default_trainer
    from core.data.corpus import load_corpus, split_texts
    from core.model.sampler import SampleConfig, stream
    from core.data.vocab import CharVocab
    from core.train.evaluate import evaluate_bpc

    kind, n = args["kind"], int(args["n_tweets"])
    texts = CORPORA[kind](n, 0)
    out: dict[str, Any] = {"kind": kind, "n_tweets": n, "threads": threads}
    with tempfile.TemporaryDirectory(prefix="tweetgen-scripts-") as tmp:
        path = Path(tmp) / f"{kind}.txt"
        path.write_text("\n".join(texts), encoding="utf-8")
        t = time.perf_counter()
        loaded, report = load_corpus(path)
        out["load_s"] = time.perf_counter() - t
        out["kept"] = report.kept
        out["chars"] = sum(map(len, loaded))
        train, val = split_texts(loaded, 0.1, seed=0)
        t = time.perf_counter()
        vocab = CharVocab.build(train)
        out["vocab_build_s"] = time.perf_counter() - t
        out["vocab_size"] = len(vocab)
        out["distinct_chars"] = len(set("".join(loaded)))
        rss_before = rss_mb()
        trainer = _default_trainer(train, val, float(args["train_s"]), str(Path(tmp) / "run"), {}, threads)
        for _ in trainer.run():
            pass
        p = trainer.progress
        chars = 0
        for epoch in range(p.epoch + 1):
            order = trainer.batcher.epoch_order(epoch)
            for rows in order[: (p.batch_in_epoch if epoch == p.epoch else len(order))]:
                chars += sum(len(trainer.train_ids[i]) - 1 for i in rows)
        out["train_s"] = p.elapsed
        out["steps"] = p.step
        out["train_chars_per_s"] = chars / p.elapsed if p.elapsed else float("nan")
        out["train_peak_rss_growth_mb"] = peak_rss_mb() - rss_before
        out["peak_rss_mb"] = peak_rss_mb()
        model = trainer.averaged_model()
        out["n_params"] = sum(q.numel() for q in model.parameters())
        out["config"] = model.config.to_dict()
        ckpt = trainer.last_checkpoint
        out["checkpoint_mb"] = ckpt.stat().st_size / 2**20 if ckpt is not None and ckpt.exists() else None
        val_ids = [vocab.encode(s) for s in val[:500]]
        out["val_bpc_given_length"] = evaluate_bpc(model, val_ids)
        torch.set_num_threads(1)  # the app samples on one thread
        model.eval()
        target, got, seed = int(args["sample_chars"]), 0, 0
        for _ in stream(model, vocab, SampleConfig(seed=10_000, max_len=20)):  # warm-up
            pass
        t = time.perf_counter()
        while got < target:
            for _ in stream(model, vocab, SampleConfig(seed=seed, temperature=1.0, max_len=MAX_LEN)):
                got += 1
            seed += 1
        out["sample_chars_per_s"] = got / (time.perf_counter() - t)
        out["sample_chars"] = got
    return out


def run_speed(args: dict[str, Any]) -> dict[str, Any]:
    """``bench.worker scripts_speed``: training steps of both corpora's default models in alternating
    blocks (``rounds`` x ``block_s`` each), then single-stream sampling likewise, in one interpreter, so
    the neighbours' load hits both alike and the ratio holds where absolute figures drift."""
    import statistics
    import tempfile

    import torch

    from bench.worker import _default_trainer
    from core.data.batching import make_batch
    from core.data.corpus import split_texts
    from core.model.sampler import SampleConfig, stream

    threads = int(args.get("threads", 2))
    setup_torch(threads)
    n, block, rounds = int(args["n_tweets"]), float(args["block_s"]), int(args["rounds"])
    trainers = {}
    with tempfile.TemporaryDirectory(prefix="tweetgen-scripts-") as tmp:
        for kind in ("latin", "cjk"):
            train, val = split_texts(CORPORA[kind](n, 0), 0.1, seed=0)
            trainers[kind] = _default_trainer(train, val, None, str(Path(tmp) / kind), {}, threads)

    def batches(trainer: Any):
        epoch = 0
        while True:
            for rows in trainer.batcher.epoch_order(epoch):
                yield make_batch([trainer.batcher.encoded[i] for i in rows])
            epoch += 1

    its = {kind: batches(t) for kind, t in trainers.items()}
    for kind, t in trainers.items():  # warm-up
        for _ in range(2):
            t.train_step(next(its[kind]))
    train_cps: dict[str, list[float]] = {k: [] for k in trainers}
    for _ in range(rounds):
        for kind, t in trainers.items():
            chars, start = 0, time.perf_counter()
            while time.perf_counter() - start < block:
                b = next(its[kind])
                t.train_step(b)
                chars += b.n_chars
            train_cps[kind].append(chars / (time.perf_counter() - start))
    torch.set_num_threads(1)  # the app samples on one thread
    sample_cps: dict[str, list[float]] = {k: [] for k in trainers}
    seeds = {k: 0 for k in trainers}
    for _ in range(rounds):
        for kind, t in trainers.items():
            model = t.model.eval()
            chars, start = 0, time.perf_counter()
            while time.perf_counter() - start < block / 2:
                for _ch in stream(model, t.vocab, SampleConfig(seed=seeds[kind], temperature=1.0, max_len=MAX_LEN)):
                    chars += 1
                seeds[kind] += 1
            sample_cps[kind].append(chars / (time.perf_counter() - start))
    out: dict[str, Any] = {"threads": threads, "block_s": block, "rounds": rounds}
    for kind, t in trainers.items():
        out[kind] = {"vocab_size": len(t.vocab), "flops_per_char_fwd": t.model.flops_per_char(),
                     "train_chars_per_s": statistics.median(train_cps[kind]), "train_samples": train_cps[kind],
                     "sample_chars_per_s": statistics.median(sample_cps[kind]), "sample_samples": sample_cps[kind]}
    out["train_speed_ratio"] = out["cjk"]["train_chars_per_s"] / out["latin"]["train_chars_per_s"]
    out["sample_speed_ratio"] = out["cjk"]["sample_chars_per_s"] / out["latin"]["sample_chars_per_s"]
    out["flops_ratio"] = out["cjk"]["flops_per_char_fwd"] / out["latin"]["flops_per_char_fwd"]
    return out


def section_scripts(p: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    """Both corpora, one after the other (latin first: the usual case is the baseline)."""
    import os

    out: dict[str, Any] = {"n_tweets": p["scripts_tweets"], "train_s": p["scripts_train_s"],
                           "sample_chars": p["scripts_sample_chars"]}
    for kind in ("latin", "cjk"):
        log(f"scripts: {kind}, {p['scripts_tweets']:,} tweets, training {p['scripts_train_s']:.0f}s")
        load = os.getloadavg()[0]
        out[kind] = run_worker("scripts", {"kind": kind, "n_tweets": p["scripts_tweets"], "train_s": p["scripts_train_s"],
                                           "sample_chars": p["scripts_sample_chars"]})
        out[kind]["load_avg_before"] = load
    log(f"scripts: both, alternating {p['scripts_rounds']} x {p['scripts_block_s']:.0f}s blocks")
    out["speed"] = run_worker("scripts_speed", {"n_tweets": p["scripts_tweets"], "block_s": p["scripts_block_s"],
                                                "rounds": p["scripts_rounds"]})
    out["speed"]["load_avg_before"] = os.getloadavg()[0]
    return out


def table_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    lat, cjk = res.get("latin", {}), res.get("cjk", {})

    def both(what: str, key: str, spec: str) -> tuple[str, str, str, str]:
        return ("11 scripts", f"{what}: latin / cjk", f"{fmt_or_dash(lat.get(key), spec)} / {fmt_or_dash(cjk.get(key), spec)}",
                "")

    rows.append(both("vocabulary size", "vocab_size", ","))
    rows.append(both("parameters", "n_params", ","))
    rows.append(both("load s", "load_s", ".2f"))
    rows.append(both("vocab build s", "vocab_build_s", ".3f"))
    rows.append(both("training chars/s", "train_chars_per_s", ",.0f"))
    rows.append(both("peak RSS growth in training, MB", "train_peak_rss_growth_mb", ",.0f"))
    rows.append(both("checkpoint MB", "checkpoint_mb", ".1f"))
    rows.append(both("sampling chars/s (1 thread)", "sample_chars_per_s", ",.0f"))
    sp = res.get("speed", {})
    sl, sc = sp.get("latin", {}), sp.get("cjk", {})
    rows.append(("11 scripts", "alternating blocks: training chars/s latin / cjk",
                 f"{fmt_or_dash(sl.get('train_chars_per_s'), ',.0f')} / {fmt_or_dash(sc.get('train_chars_per_s'), ',.0f')}", ""))
    rows.append(("11 scripts", "alternating blocks: sampling chars/s latin / cjk",
                 f"{fmt_or_dash(sl.get('sample_chars_per_s'), ',.0f')} / {fmt_or_dash(sc.get('sample_chars_per_s'), ',.0f')}", ""))
    rows.append(("11 scripts", "cjk / latin: training, sampling speed; FLOPs/char",
                 f"{fmt_or_dash(sp.get('train_speed_ratio'), '.2f')}, {fmt_or_dash(sp.get('sample_speed_ratio'), '.2f')}; "
                 f"{fmt_or_dash(sp.get('flops_ratio'), '.1f')}x", ""))
    for kind in ("latin", "cjk", "speed"):
        if "error" in (res.get(kind) or {}):
            rows.append(("11 scripts", f"{kind} failed", "-", str(res[kind]["error"])[:40]))
    return rows
