"""Event-loop lag of ``tweetgen-tui`` while it trains on the real corpus.

The lag is how late a periodic 20 ms timer in the app's event loop fires: every key
press and every frame waits behind whatever makes it late. The app runs exactly as a
user runs it (a real terminal: a pseudo-terminal of 120x36, frames written to it), with
training started as if space had been pressed and a tweet streaming at the default
pace; a probe coroutine in the app's own loop records the lateness of each tick for the
measured window, then quits the app (which saves a checkpoint, as always).

    python -m bench.ui_lag [--seconds 30] [--data ../shared/data/trump_tweets_dev.csv] [--ckpt-every N]

prints p50/p99/max lag, then (with no arguments, demo corpus and checkpoint) the
start-up time to the first frame and from there to the first streamed character.
``measure(quick=...)`` is what ``python -m bench`` calls: it measures two cases, the
app's defaults and ``--ckpt-every 1`` (a checkpoint written, listed and followed every
step: the burst that froze the app for 100 s in issue 12), and reports the worse p99
against the target, with both cases under ``cases``.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any

from core import defaults

REPO = Path(__file__).resolve().parent.parent
DEV_CSV = REPO.parent / "shared" / "data" / "trump_tweets_dev.csv"
COLS, ROWS = 120, 36
INTERVAL_S = 0.02
TARGET_P99_MS = 20.0  # issue 9: the UI lag while training stays under 20 ms at p99 (it was 50 ms in issue 4)
CASES = {"default": None, "ckpt_every_1": 1}  # name -> --ckpt-every (None: the app's default)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarise(lags_s: list[float]) -> dict[str, float]:
    """p50/p99/max of lags given in seconds, in milliseconds."""
    ms = [1000.0 * x for x in lags_s]
    return {"p50_ms": statistics.median(ms), "p99_ms": _percentile(ms, 0.99), "max_ms": max(ms), "ticks": len(ms),
            "ticks_over_50ms": sum(x > 50.0 for x in ms)}


# ---------------------------------------------------------------- inside the app's process


async def until(app: Any, condition: Any, timeout: float) -> None:
    """Poll ``condition()`` inside a probed app until it holds; an error the app shows, or the timeout, raises."""
    deadline = time.monotonic() + timeout
    while not condition():
        if app.errors:
            raise RuntimeError(app.errors[-1])
        if time.monotonic() > deadline:
            raise TimeoutError(f"app not ready after {timeout:.0f}s")
        await asyncio.sleep(0.05)


def run_probed(settings: Any, probe: Callable[[Any, dict[str, Any]], Awaitable[None]], out: Path) -> int:
    """Run the real app (in this process, attached to the pty the parent made) with ``probe(app, result)`` as a
    worker once it is mounted; ``result`` (or the probe's error) is written to ``out`` as JSON, then the app quits.
    A training process the probe started is stopped on every exit path."""
    from tui.app import TweetgenApp

    result: dict[str, Any] = {}

    class ProbedApp(TweetgenApp):
        def on_mount(self) -> None:
            super().on_mount()
            self.run_worker(self._probe(), group="bench", name="lag probe")

        async def _probe(self) -> None:
            try:
                await probe(self, result)
            except Exception as exc:  # noqa: BLE001 - reported to the parent, not raised into the UI
                result["error"] = f"{type(exc).__name__}: {exc}"
            out.write_text(json.dumps(result))
            await self.action_quit()

    app = ProbedApp(settings)
    try:
        app.run()
    finally:
        app.training.shutdown(app.settings.stop_timeout_s)
    return 0


def _inner(data: Path, seconds: float, out: Path, warmup_s: float, ckpt_every: int | None = None) -> int:
    """The lag probe while training: start training, wait ``warmup_s``, then time a 20 ms timer for ``seconds``."""
    from tui.__main__ import build_parser, settings_from_args

    extra = [] if ckpt_every is None else ["--ckpt-every", str(ckpt_every)]
    settings = settings_from_args(build_parser().parse_args(["--data", str(data), *extra]))

    async def probe(app: Any, result: dict[str, Any]) -> None:
        await until(app, lambda: app.run_dir is not None and app.source is not None, 120)
        app.action_start_training()
        await until(app, lambda: app.train_state == "running" and app.training_panel.step is not None, 180)
        await asyncio.sleep(warmup_s)
        first_step = app.training_panel.step or 0
        lags: list[float] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            t0 = time.perf_counter()
            await asyncio.sleep(INTERVAL_S)
            lags.append(max(0.0, time.perf_counter() - t0 - INTERVAL_S))
        result.update(summarise(lags))
        result.update(
            seconds=seconds, interval_ms=1000 * INTERVAL_S, steps=(app.training_panel.step or 0) - first_step,
            chars_per_s=app.training_panel.chars_per_s, device=app.training.device,
            samples_streamed=app.generation.sample_id, terminal=f"{COLS}x{ROWS}", cpus=os.cpu_count(),
            train_state=app.train_state, ckpt_every=settings.train.get("ckpt_every"),
            checkpoints_listed=len(app.run_checkpoints),
        )

    return run_probed(settings, probe, out)


# ---------------------------------------------------------------- the parent


def measure(quick: bool = False, seconds: float | None = None, data: Path = DEV_CSV, warmup_s: float = 2.0) -> dict[str, Any]:
    """Both CASES; the top level is the case with the worse p99 (the target holds for each), and
    ``cases`` has every case's result."""
    cases = {name: measure_case(quick, seconds, data, warmup_s, every) for name, every in CASES.items()}
    for name, case in cases.items():
        if "p99_ms" in case:
            case["met"] = case["p99_ms"] < TARGET_P99_MS
            print(f"[bench ui_lag] {name}: p50 {case['p50_ms']:.1f} ms, p99 {case['p99_ms']:.1f} ms, max {case['max_ms']:.1f} ms, "
                  f"{case['steps']} steps (target p99 < {TARGET_P99_MS:.0f} ms: {'met' if case['met'] else 'NOT met'})",
                  file=sys.stderr, flush=True)
    measured = [c for c in cases.values() if c.get("status") == "measured"]
    if len(measured) < len(cases):
        failed = next(c for c in cases.values() if c.get("status") != "measured")
        return {**failed, "cases": cases}
    worst_name = max(cases, key=lambda n: cases[n]["p99_ms"])
    return {**cases[worst_name], "worst_case": worst_name, "target_p99_ms": TARGET_P99_MS, "cases": cases}


def run_inner(module: str, args: list[str], tmp: str, out: Path, timeout_s: float, cols: int = COLS,
              rows: int = ROWS) -> dict[str, Any]:
    """Run ``python -m MODULE --inner ARGS`` (an app that writes its measurement to ``out``) in a
    ``cols`` x ``rows`` pseudo-terminal with ``TWEETGEN_HOME=tmp``; its result, or a "failed" dict
    with the terminal's last output. The pty is drained all along (a full one would block the app);
    the app's process group is ended if it outlives ``timeout_s``."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", TWEETGEN_HOME=tmp, PYTHONWARNINGS="ignore",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    proc = subprocess.Popen([sys.executable, "-m", module, "--inner", *args], stdin=slave, stdout=slave, stderr=slave,
                            cwd=REPO, env=env, start_new_session=True, close_fds=True)
    os.close(slave)
    deadline = time.monotonic() + timeout_s
    tail = b""
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    tail = (tail + os.read(master, 65536))[-4000:]
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        os.close(master)
    if not out.exists():
        return {"status": "failed", "reason": f"the app exited ({proc.returncode}) without a result",
                "output_tail": tail.decode("utf-8", "replace")[-500:]}
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def measure_case(quick: bool = False, seconds: float | None = None, data: Path = DEV_CSV, warmup_s: float = 2.0,
                 ckpt_every: int | None = None) -> dict[str, Any]:
    """Run the app in a pseudo-terminal while it trains on ``data``; returns p50/p99/max lag in ms."""
    seconds = seconds if seconds is not None else (5.0 if quick else 30.0)
    if not Path(data).exists():
        return {"status": "not measured", "reason": f"{data} is absent"}
    with tempfile.TemporaryDirectory(prefix="tweetgen-ui-lag-") as tmp:
        out = Path(tmp) / "lag.json"
        args = ["--data", str(data), "--seconds", str(seconds), "--out", str(out), "--warmup", str(warmup_s)]
        if ckpt_every is not None:
            args += ["--ckpt-every", str(ckpt_every)]
        result = run_inner("bench.ui_lag", args, tmp, out, seconds + warmup_s + 300)
    if result.get("status") == "failed":
        return result
    if "error" in result:
        return {"status": "failed", "reason": result["error"]}
    result["status"] = "measured"
    result["data"] = str(data)
    return result


def measure_first_tweet(timeout: float = 60.0) -> dict[str, Any]:
    """Start ``tweetgen-tui`` with no arguments in a pty: seconds to the first frame, and
    from the first frame to the first streamed character of a tweet (the issue asks for
    under a second). The app quits with ``q`` afterwards."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    script = Path(sys.executable).with_name("tweetgen-tui")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "tui"]
    with tempfile.TemporaryDirectory(prefix="tweetgen-first-tweet-") as tmp:
        env = dict(os.environ, TERM="xterm-256color", TWEETGEN_HOME=tmp, PYTHONWARNINGS="ignore",
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env,
                                start_new_session=True, close_fds=True)
        os.close(slave)
        raw = b""
        frame_at = tweet_at = None
        try:
            header = f"T {defaults.TEMPERATURE:.1f} · "  # a tweet's header line at the app's default temperature
            while time.perf_counter() - start < timeout and tweet_at is None and proc.poll() is None:
                if not select.select([master], [], [], 0.02)[0]:
                    continue
                raw += os.read(master, 65536)
                now = time.perf_counter()
                text = raw.decode("utf-8", "replace")
                if frame_at is None and "Generation" in text and "Training" in text:
                    frame_at = now
                # the streaming cursor follows the first character of a tweet
                if frame_at is not None and header in text and "▌" in text.split(header, 1)[1]:
                    tweet_at = now
            os.write(master, b"q")
            proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            os.close(master)
    return {"first_frame_s": None if frame_at is None else frame_at - start,
            "frame_to_first_char_s": None if tweet_at is None or frame_at is None else tweet_at - frame_at}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ui_lag", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEV_CSV)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the measured window (default 30)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of training before measuring (default 2)")
    parser.add_argument("--ckpt-every", type=int, help="the app's --ckpt-every (1: a checkpoint every step)")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        return _inner(args.data, args.seconds, args.out, args.warmup, args.ckpt_every)

    result = measure_case(seconds=args.seconds, data=args.data, warmup_s=args.warmup, ckpt_every=args.ckpt_every)
    if result.get("status") != "measured":
        print(f"event-loop lag: {result.get('status')}: {result.get('reason')}")
        return 1
    every = f", a checkpoint every {result['ckpt_every']} steps" if args.ckpt_every is not None else ""
    print(f"event-loop lag while training on {Path(result['data']).name}{every} ({result['device']}, {result['cpus']} cores, "
          f"{result['seconds']:.0f}s, {result['ticks']} ticks of {result['interval_ms']:.0f} ms):")
    print(f"  p50 {result['p50_ms']:.1f} ms   p99 {result['p99_ms']:.1f} ms   max {result['max_ms']:.1f} ms   "
          f"{result['ticks_over_50ms']} ticks over 50 ms   (target p99 < {TARGET_P99_MS:.0f} ms: "
          f"{'met' if result['p99_ms'] < TARGET_P99_MS else 'NOT met'})")
    print(f"  meanwhile: {result['steps']} training steps, {result['samples_streamed']} tweets streamed")
    if not args.no_startup:
        runs = [measure_first_tweet() for _ in range(3)]
        frames = sorted(r["first_frame_s"] for r in runs if r["first_frame_s"] is not None)
        tweets = sorted(r["frame_to_first_char_s"] for r in runs if r["frame_to_first_char_s"] is not None)
        if frames:
            print(f"start-up to first frame: median {statistics.median(frames):.3f} s "
                  f"({', '.join(f'{t:.3f}' for t in frames)})")
        if tweets:
            print(f"first frame to first streamed character: median {statistics.median(tweets):.3f} s "
                  f"({', '.join(f'{t:.3f}' for t in tweets)}; target < 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
