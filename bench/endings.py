"""How generated tweets end and how long they are, against held-out human tweets (issue 17).

``python -m bench.endings CKPT [CKPT ...] [--corpus DATA] [-n 200] [--lengths 40 100 140]``

For each checkpoint: N samples at T=0.8 and at T=1.0 (seeds 0..N-1, one thread), scored by
the word check of :mod:`core.model.endings` against the words of the checkpoint's own training split
(the corpus, split as the trainer split it), beside the same figures for the held-out split;
the same seeds again with the sampler's guards off (no link guard, :mod:`core.model.links`, and no floor under
the model's own ``<eos>``, ``sampler.EOS_FLOOR``: what the model writes alone); then N samples at each ``--length`` and the share within +-10% of it. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from core.store.checkpoints import load_checkpoint
from core.data.corpus import FilterConfig, load_corpus, split_texts
from core.model.endings import WordCheck
from core.model import sampler
from core.model.sampler import SampleConfig, default_max_len, length_window, write

TEMPERATURES = (0.8, 1.0)


def _row(name: str, wc: WordCheck, texts: list[str], ended: float | None, extra: str = "") -> dict[str, Any]:
    s = wc.stats(texts)
    return {"name": name, "n": len(texts), "ended": ended, "mean_len": sum(map(len, texts)) / max(1, len(texts)),
            "cut": s.cut, "last_unknown": s.last_unknown, "interior_unknown": s.interior_unknown, "ratio": s.ratio,
            "links_last": s.links_last, "links_last_off": s.links_last_off, "links_inside": s.links_inside,
            "links_inside_off": s.links_inside_off, "extra": extra}


def measure(checkpoint: Path, corpus: Path | None, n: int, lengths: list[int]) -> dict[str, Any]:
    torch.set_num_threads(1)
    ckpt = load_checkpoint(checkpoint)
    ts = ckpt.train_state
    data = corpus or Path(str(ts.get("data_path")))
    filters = FilterConfig(**{k: v for k, v in (ts.get("filter_config") or {}).items() if k in FilterConfig.__dataclass_fields__})
    texts, _ = load_corpus(data, filters)
    seed = int((ts.get("train_config") or {}).get("seed", 0))
    train, held_out = split_texts(texts, float(ts.get("val_fraction", 0.1)), seed=seed)
    wc = WordCheck(train)
    model = ckpt.model()
    cap = default_max_len(model)
    rows = [_row("held-out tweets", wc, held_out, None)]
    for t in TEMPERATURES:
        written = [write(model, ckpt.vocab, SampleConfig(temperature=t, seed=i, max_len=cap)) for i in range(n)]
        rows.append(_row(f"T={t}", wc, [w.text for w in written], sum(w.ended for w in written) / n))
    # The same seeds as the model writes them without the sampler's two guards: the link guard (core.model.links)
    # and the floor under the model's own <eos> (sampler.EOS_FLOOR). What the model does alone stays on record.
    bare = ckpt.model()
    bare.config = replace(bare.config, link_lengths=())
    floor, sampler.EOS_FLOOR = sampler.EOS_FLOOR, 0.0
    try:
        for t in TEMPERATURES:
            written = [write(bare, ckpt.vocab, SampleConfig(temperature=t, seed=i, max_len=cap)) for i in range(n)]
            rows.append(_row(f"T={t}, guards off", wc, [w.text for w in written], sum(w.ended for w in written) / n))
    finally:
        sampler.EOS_FLOOR = floor
    for target in lengths:
        low, high = length_window(target)
        written = [write(model, ckpt.vocab, SampleConfig(temperature=0.8, seed=i, length=target,
                                                         max_len=default_max_len(model, target))) for i in range(n)]
        within = sum(low <= len(w.text) <= high for w in written) / n
        rows.append(_row(f"--length {target}, T=0.8", wc, [w.text for w in written], sum(w.ended for w in written) / n,
                         f"{within:.1%} within +-10%"))
    corpus_mean = sum(map(len, texts)) / len(texts)
    return {"checkpoint": str(checkpoint), "step": ckpt.step, "corpus": str(data), "corpus_mean_len": corpus_mean,
            "length_input": bool(ckpt.model_config.length_input and ckpt.model_config.max_length), "rows": rows}


def render(result: dict[str, Any]) -> str:
    out = [f"{result['checkpoint']} (step {result['step']:,}; length input: {'yes' if result['length_input'] else 'no'}; "
           f"corpus mean length {result['corpus_mean_len']:.1f})", "",
           "| texts | n | end on their own | mean length | end mid-word/link | last word not a word | interior not a word | last/interior "
           "| links off-length: last / inside | length |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        ended = "-" if r["ended"] is None else f"{r['ended']:.1%}"
        out.append(f"| {r['name']} | {r['n']} | {ended} | {r['mean_len']:.1f} | {r['cut']:.1%} | {r['last_unknown']:.1%} | "
                   f"{r['interior_unknown']:.1%} | {r['ratio']:.2f} | {r['links_last_off']:.0%} of {r['links_last']} / "
                   f"{r['links_inside_off']:.0%} of {r['links_inside']} | {r['extra']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.endings", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", type=Path, nargs="+")
    ap.add_argument("--corpus", type=Path, help="the training corpus (default: the one the checkpoint recorded)")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--lengths", type=int, nargs="*", default=[40, 100, 140])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    results = [measure(c, args.corpus, args.n, args.lengths) for c in args.checkpoints]
    for r in results:
        print(render(r) + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
