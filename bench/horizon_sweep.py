"""Learning-rate and schedule candidates across horizons (issue 8), by steps, one thread each.

``python -m bench.horizon_sweep NAME [--steps N] [--eval-every K]`` trains one candidate on
the dev corpus's 90/10 split and writes ``bench/results/sweep/NAME.jsonl``: one line per
evaluation (step, training seconds, held-out bits/char over the whole split).

Horizons are counted in steps, not seconds, so two candidates can train at once (one
torch thread each, as the app trains on a 2-core machine) and still be compared fairly:
a step costs the same for every candidate. On this machine one thread makes about 9
steps/s, so 1,100 steps ~ 2 minutes and 5,500 ~ 10 minutes of app training.

Candidates (NAME):
- ``cos_LR_H``: Adam, 30-step warm-up, cosine to 0.1 x LR at step H (a known budget).
- ``const_LR``: Adam at a constant LR after warm-up (the old open-ended app).
- ``isqrt_LR``: Adam, LR x sqrt(W / step) after W = 300 steps (horizon-free).
- ``sf_LR``: schedule-free AdamW (``schedulefree``), evaluated at its averaged weights.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from bench.common import RESULTS_DIR, corpus_path, load_split, setup_torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--steps", type=int, default=5500)
    ap.add_argument("--eval-every", type=int, default=550)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--length", choices=("off", "random", "zero"), default="off",
                    help="length input: none (default), or the remaining-length embedding initialised randomly or at zero")
    ap.add_argument("--tag", default="", help="suffix for the output name")
    args = ap.parse_args()
    setup_torch(args.threads)
    import torch

    from core.data.batching import BucketBatcher, make_batch
    from core.train.evaluate import evaluate_bpc, length_cost_bpc, masked_loss_sum
    from core.model.gru import new_model
    from core.data.vocab import CharVocab

    kind, *parts = args.name.split("_")
    lr = float(parts[0])
    horizon = int(parts[1]) if kind == "cos" else None
    train, val = load_split(corpus_path())
    vocab = CharVocab.build(train)
    model = new_model(vocab, seed=0, max_length=0 if args.length == "off" else 140)  # plain model unless --length
    if args.length != "off":
        model.set_length_prior([len(t) for t in train])
        if args.length == "zero":
            torch.nn.init.zeros_(model.length_embed.weight)
    train_ids = [vocab.encode(t) for t in train]
    val_ids = [vocab.encode(t) for t in val]
    batcher = BucketBatcher(train_ids, 32, seed=0)
    warmup = 30
    if kind == "sf":
        import schedulefree

        opt = schedulefree.AdamWScheduleFree(model.parameters(), lr=lr, warmup_steps=warmup)
        opt.train()
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)

    def lr_at(step: int) -> float:
        if kind == "sf":
            return lr
        if step < warmup:
            return lr * (step + 1) / warmup
        if kind == "const":
            return lr
        if kind == "isqrt":
            return lr * math.sqrt(300 / max(step, 300))
        frac = min(1.0, (step - warmup) / max(1, horizon - warmup))
        return 0.1 * lr + 0.9 * lr * 0.5 * (1 + math.cos(math.pi * frac))

    out = RESULTS_DIR / "sweep" / f"{args.name}{args.tag}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("")
    step, epoch, train_s = 0, 0, 0.0
    model.train()
    while step < args.steps:
        for rows in batcher.epoch_order(epoch):
            t = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            batch = make_batch([train_ids[i] for i in rows])
            logits, _ = model(batch.inputs, None, batch.remaining)
            loss_sum, n = masked_loss_sum(logits, batch.targets)
            opt.zero_grad(set_to_none=True)
            (loss_sum / n).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            train_s += time.perf_counter() - t
            if step % args.eval_every == 0 or step == args.steps:
                if kind == "sf":
                    opt.eval()
                bpc = evaluate_bpc(model, val_ids) + length_cost_bpc(model, val_ids)  # honest: the length's cost included
                if kind == "sf":
                    opt.train()
                model.train()
                line = {"name": args.name + args.tag, "step": step, "train_s": round(train_s, 1), "val_bpc": round(bpc, 4),
                        "train_nats": round(float(loss_sum / n), 4), "epoch": epoch}
                with out.open("a") as f:
                    f.write(json.dumps(line) + "\n")
                print(json.dumps(line), flush=True)
            if step >= args.steps:
                break
        epoch += 1


if __name__ == "__main__":
    main()
