"""The temperature sweep (key ``t``, issue 10): frames rendered per second and event-loop lag while
five columns stream together.

The app runs as a user runs it (a pseudo-terminal, frames written to it), with no arguments
(demo corpus and checkpoint), no training. Once the model and the novelty index are ready, a
probe in the app's own loop opens the sweep and, for each pace, measures over a window: the
lateness of a 20 ms timer (as bench/ui_lag.py does), the frames the app actually wrote to the
terminal (calls of ``App._display`` with an update), and the characters streamed; a sweep that
finishes is restarted at once with a new seed (``r``), so five columns stream all the time.
Paces: the app's default (30 characters a second per column) and 0 (as fast as the model
writes: the worst case for the UI thread, a chunk per column every frame).

    python -m bench.sweep_lag [--seconds 10] [--cols 120 --rows 36]

``frames_per_s`` counts the screen updates the app wrote to the terminal (``App._display``
calls with an update): at most one per frame of each kind of refresh, so it can pass 30.
Environment knobs for looking into the lag: BENCH_PACES=0 (only these paces) and
BENCH_PROFILE=FILE (a cProfile of the UI thread).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ui_lag import INTERVAL_S, run_inner, summarise, until

REPO = Path(__file__).resolve().parent.parent
TARGET_P99_MS = 20.0
PACES = (30.0, 0.0)


def _inner(seconds: float, out: Path) -> int:
    from tui.__main__ import build_parser, settings_from_args
    from tui.app import TweetgenApp
    from tui.screens.columns import ColumnsScreen

    settings = settings_from_args(build_parser().parse_args([]))
    result: dict[str, Any] = {}

    class ProbedApp(TweetgenApp):
        frames = 0

        def _display(self, screen: Any, renderable: Any) -> None:
            if renderable is not None and not self._batch_count:
                ProbedApp.frames += 1
            super()._display(screen, renderable)

        def on_mount(self) -> None:
            super().on_mount()
            self.run_worker(self._probe(), group="bench", name="sweep probe")

        async def _probe(self) -> None:
            try:
                await self._until(lambda: self.source is not None and self.samples.novelty is not None, 120)
                for pace in [float(p) for p in os.environ.get("BENCH_PACES", "").split(",") if p] or PACES:
                    self.settings.pace = pace
                    self.action_sweep()
                    await self._until(lambda: isinstance(self.screen, ColumnsScreen), 30)
                    await asyncio.sleep(0.5)
                    result[f"pace_{pace:g}"] = await self._window(seconds)
                    self.action_leave_columns()
                    await asyncio.sleep(0.5)
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                result["error"] = f"{type(exc).__name__}: {exc}"
            out.write_text(json.dumps(result))
            self.exit()

        async def _window(self, seconds: float) -> dict[str, Any]:
            screen = self.screen
            assert isinstance(screen, ColumnsScreen)
            loop = asyncio.get_running_loop()
            lags: list[float] = []
            chars = sweeps = 0
            frames0 = ProbedApp.frames
            start = loop.time()
            counted: set[int] = set()
            while loop.time() < start + seconds:
                t0 = time.perf_counter()
                await asyncio.sleep(INTERVAL_S)
                lags.append(max(0.0, time.perf_counter() - t0 - INTERVAL_S))
                if all(r.complete for r in screen.records):
                    for r in screen.records:
                        if r.sample_id not in counted:
                            counted.add(r.sample_id)
                            chars += len(r.text)
                    sweeps += 1
                    self.action_resample()  # r: the same five columns, a new seed
            elapsed = loop.time() - start
            chars += sum(len(r.text) for r in screen.records if r.sample_id not in counted)
            return {**summarise(lags), "seconds": elapsed, "columns": len(screen.records),
                    "frames_per_s": (ProbedApp.frames - frames0) / elapsed, "chars_per_s_all_columns": chars / elapsed,
                    "sweeps_finished": sweeps}

        async def _until(self, condition: Any, timeout: float) -> None:
            await until(self, condition, timeout)

    if os.environ.get("BENCH_PROFILE"):  # the UI thread's profile, to a file (for looking into the lag)
        import cProfile

        cProfile.runctx("ProbedApp(settings).run()", globals(), locals(), os.environ["BENCH_PROFILE"])
        return 0
    ProbedApp(settings).run()
    return 0


def measure(quick: bool = False, seconds: float | None = None, cols: int = 120, rows: int = 36) -> dict[str, Any]:
    seconds = seconds if seconds is not None else (1.5 if quick else 10.0)
    with tempfile.TemporaryDirectory(prefix="tweetgen-sweep-lag-") as tmp:
        out = Path(tmp) / "sweep.json"
        result = run_inner("bench.sweep_lag", ["--seconds", str(seconds), "--out", str(out)], tmp, out,
                           2 * seconds * len(PACES) + 240, cols=cols, rows=rows)
    if result.get("status") == "failed":
        return result
    if "error" in result:
        return {"status": "failed", "reason": result["error"]}
    result.update(status="measured", terminal=f"{cols}x{rows}", cpus=os.cpu_count(), target_p99_ms=TARGET_P99_MS)
    result["met"] = all(r["p99_ms"] < TARGET_P99_MS for k, r in result.items() if k.startswith("pace_"))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep_lag", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cols", type=int, default=120)
    parser.add_argument("--rows", type=int, default=36)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        return _inner(args.seconds, args.out)
    result = measure(seconds=args.seconds, cols=args.cols, rows=args.rows)
    if result.get("status") != "measured":
        print(f"sweep: {result.get('status')}: {result.get('reason')} {result.get('output_tail', '')}")
        return 1
    print(f"temperature sweep, 5 columns, {result['terminal']}, {result['cpus']} cores, no training:")
    for pace in PACES:
        r = result.get(f"pace_{pace:g}")
        if r is None:
            continue
        print(f"  pace {pace:g} chars/s per column ({'unpaced' if not pace else 'the default'}): "
              f"{r['frames_per_s']:.1f} frames/s, {r['chars_per_s_all_columns']:.0f} chars/s over all columns, "
              f"{r['sweeps_finished']} sweeps finished; lag p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"max {r['max_ms']:.1f} ms (target p99 < {TARGET_P99_MS:.0f} ms: {'met' if r['p99_ms'] < TARGET_P99_MS else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
