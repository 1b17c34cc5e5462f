"""Event-loop lag of ``tweetgen-tui`` while the unit finder works (the neuron view, key u; issue 19).

The same probe as :mod:`bench.ui_lag` (how late a 20 ms timer in the app's own event loop
fires), in the same setting (a real pseudo-terminal of 120x36, a tweet streaming at the
default pace), but the load is the unit finder: the app opens on a run's newest checkpoint,
the probe presses u, and the finder scores the checkpoint shown, then every other checkpoint
of the run, one after the other in its child process (caches removed first, so each is
computed). The window lasts while the finder is busy, at most ``--seconds``; ``--train`` also
trains meanwhile (space), as the app would while a person watches the view.

    python -m bench.neuron_lag [--run DIR] [--data CORPUS] [--seconds 30] [--train]

``--run``: a run directory whose checkpoints to score (e.g. the 10-minute dev model's run);
its checkpoints are copied to a temporary home. Without it: the demo checkpoint saved as
four steps of a run on the demo corpus.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ui_lag import COLS, INTERVAL_S, ROWS, TARGET_P99_MS, run_inner, run_probed, summarise, until

RUN_NAME = "neuron-lag"


def _demo_run(run_dir: Path) -> Path:
    """The demo checkpoint as steps 400..1600 of a run (same weights: each is scored anew); returns its corpus."""
    from core.assets import demo_checkpoint_path
    from core.store.checkpoints import load_checkpoint, save_checkpoint

    demo = demo_checkpoint_path()
    corpus = demo.with_name("demo_tweets.txt")
    ckpt = load_checkpoint(demo)
    for step in (400, 800, 1200, 1600):
        state = dict(ckpt.train_state, step=step, run=RUN_NAME)
        save_checkpoint(run_dir / f"step-{step:08d}.pt", model=ckpt.model(), vocab=ckpt.vocab, train_state=state,
                        metrics=dict(ckpt.metrics), tags=["periodic"])
    return corpus


async def _lags(loop: Any, busy: Any, seconds: float) -> list[tuple[float, float]]:
    """(lateness in s, loop time) of a 20 ms timer, tick after tick, while ``busy()`` (at least one tick, at most ``seconds``)."""
    out: list[tuple[float, float]] = []
    end = loop.time() + seconds
    while loop.time() < end and (busy() or not out):
        t0 = time.perf_counter()
        await asyncio.sleep(INTERVAL_S)
        out.append((max(0.0, time.perf_counter() - t0 - INTERVAL_S), loop.time()))
    return out


def _inner(data: Path, seconds: float, out: Path, train: bool) -> int:
    from tui.__main__ import build_parser, settings_from_args
    from tui.widgets.neuron_watch import NeuronWatch

    settings = settings_from_args(build_parser().parse_args(["--data", str(data), "--run", RUN_NAME]))

    async def probe(app: Any, result: dict[str, Any]) -> None:
        await until(app, lambda: app.run_dir is not None and app.source is not None
                    and app.source.path is not None and app.checkpoint_panel.listed, 180)
        if train:
            app.action_start_training()
            await until(app, lambda: app.train_state == "running" and app.training_panel.step is not None, 180)
        watch = app.query_one(NeuronWatch)
        loop = asyncio.get_running_loop()
        pressed = loop.time()
        app.action_neurons()
        screen = app.screen
        # opening: the screen is built, the shown checkpoint scored, the texts' states read (its own figure)
        opening = await _lags(loop, lambda: watch.book.reports.get(screen.path) is None
                              or getattr(screen, "states", None) is None, 300)
        opened = loop.time() - pressed
        started = loop.time()
        ticks = await _lags(loop, lambda: watch.book.pending > 0, seconds)  # the rest of the run, one by one
        busy = loop.time() - started
        result.update(summarise([lag for lag, _ in ticks]))
        result["slow_ticks"] = [(round(t - started, 2), round(1000 * lag, 1)) for lag, t in ticks
                                if lag > TARGET_P99_MS / 1000]
        result["opening"] = {"seconds": round(opened, 2), **summarise([lag for lag, _ in opening])}
        result.update(
            seconds=busy, interval_ms=1000 * INTERVAL_S, finder_done=watch.book.pending == 0,
            reports=len(watch.book.reports), errors=list(watch.book.errors.values()),
            report_seconds=[round(r.seconds, 2) for r in watch.book.reports.values()],
            texts=[r.n_texts for r in watch.book.reports.values()], hidden=app.source.model.config.hidden_size,
            checkpoints=len(app.run_checkpoints), training=train, train_state=app.train_state,
            samples_streamed=app.generation.sample_id, terminal=f"{COLS}x{ROWS}", cpus=os.cpu_count(),
            load_before=os.getloadavg()[0],
        )
        import torch

        result["torch_threads"] = torch.get_num_threads()

    return run_probed(settings, probe, out)


def measure(run: Path | None = None, data: Path | None = None, seconds: float = 30.0, train: bool = False) -> dict[str, Any]:
    """Run the app in a pseudo-terminal while the finder scores a run's checkpoints; p50/p99/max lag in ms."""
    with tempfile.TemporaryDirectory(prefix="tweetgen-neuron-lag-") as tmp:
        run_dir = Path(tmp) / "runs" / RUN_NAME
        run_dir.mkdir(parents=True)
        if run is None:
            data = data or _demo_run(run_dir)
        else:
            for path in sorted(Path(run).glob("step-*.pt")):
                shutil.copy2(path, run_dir / path.name)
            if data is None:
                raise SystemExit("--run needs --data (the corpus the run trained on)")
        out = Path(tmp) / "lag.json"
        args = ["--data", str(data), "--seconds", str(seconds), "--out", str(out)] + (["--train"] if train else [])
        result = run_inner("bench.neuron_lag", args, tmp, out, seconds + 400)
    if result.get("status") == "failed":
        return result
    if "error" in result:
        return {"status": "failed", "reason": result["error"]}
    result.update(status="measured", data=str(data), met=result["p99_ms"] < TARGET_P99_MS)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.neuron_lag", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="a run directory whose checkpoints the finder scores")
    parser.add_argument("--data", type=Path, help="the corpus the run trained on (needed with --run)")
    parser.add_argument("--seconds", type=float, default=30.0, help="the longest measured window (default 30)")
    parser.add_argument("--train", action="store_true", help="train meanwhile (space)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        return _inner(args.data, args.seconds, args.out, args.train)
    result = measure(args.run, args.data, args.seconds, args.train)
    if result.get("status") != "measured":
        print(f"event-loop lag with the finder: {result.get('status')}: {result.get('reason')}")
        print(result.get("output_tail", ""))
        return 1
    print(f"event-loop lag while the unit finder scores the run's other checkpoints{' and training runs' if result['training'] else ''} "
          f"({result['cpus']} cores, load {result['load_before']:.1f}, torch threads {result['torch_threads']}, "
          f"{result['seconds']:.1f} s, {result['ticks']} ticks of {result['interval_ms']:.0f} ms):")
    print(f"  p50 {result['p50_ms']:.1f} ms   p99 {result['p99_ms']:.1f} ms   max {result['max_ms']:.1f} ms   "
          f"{result['ticks_over_50ms']} ticks over 50 ms   (target p99 < {TARGET_P99_MS:.0f} ms: "
          f"{'met' if result['met'] else 'NOT met'})")
    print(f"  finder: {result['reports']} reports of {result['hidden']} units (seconds each: {result['report_seconds']}, "
          f"texts {result['texts']}), done: {result['finder_done']}; {result['samples_streamed']} tweets streamed"
          + (f"; errors: {result['errors']}" if result["errors"] else ""))
    print(f"  ticks over {TARGET_P99_MS:.0f} ms (seconds into the window, ms late): {result['slow_ticks']}")
    o = result["opening"]
    print(f"  before that, opening the view (screen built, its checkpoint scored, {o['seconds']:.1f} s): "
          f"p50 {o['p50_ms']:.1f} ms, p99 {o['p99_ms']:.1f} ms, max {o['max_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
