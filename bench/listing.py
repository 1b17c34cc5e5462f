"""How fast checkpoints are listed: the registry over 1,000 files, the app's table over 5,000.

These were wall-clock limits in unit tests (2 s and 0.5 s), which flaked on a busy machine;
the tests now check what makes listing fast (sidecars are read, no weight file is
unpickled; the table keeps ``MAX_ROWS`` rows) and this measures the time.

    python -m bench.listing [--reps 3]

prints the best and worst of ``reps`` timings of each, against the targets the tests used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REGISTRY_TARGET_S = 2.0  # listing 1,000 checkpoints (tests/core/test_reliability_load.py used this limit)
TABLE_TARGET_S = 0.5  # showing 5,000 in the app's checkpoint table (tests/tui/test_app_event_rate.py)


def _thousand_checkpoints(run: Path) -> None:
    """One trained checkpoint and 999 copies, each with its sidecar (as retention-off runs leave them)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "core"))
    from corehelpers import run_all, tiny_trainer

    from core.store import checkpoints

    run_all(tiny_trainer(run, max_steps=1, ckpt_every=1))
    source = run / "step-00000001.pt"
    data, meta = source.read_bytes(), json.loads(source.with_suffix(".json").read_text())
    for step in range(2, 1001):
        target = run / checkpoints.checkpoint_name(step)
        target.write_bytes(data)
        target.with_suffix(".json").write_text(json.dumps({**meta, "file": target.name, "step": step}))


def measure_registry(reps: int = 3) -> dict[str, Any]:
    from core.store.registry import list_checkpoints

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        _thousand_checkpoints(run)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            infos = list_checkpoints(run)
            times.append(time.perf_counter() - t0)
        assert len(infos) == 1000
    return {"checkpoints": 1000, "best_s": min(times), "worst_s": max(times), "target_s": REGISTRY_TARGET_S,
            "met": max(times) < REGISTRY_TARGET_S}


def measure_table(reps: int = 3) -> dict[str, Any]:
    from textual.app import App, ComposeResult

    from core.store.registry import CheckpointInfo
    from tui.widgets.checkpoint_panel import CheckpointPanel

    class PanelOnly(App[None]):
        def compose(self) -> ComposeResult:
            yield CheckpointPanel(id="checkpoints")

    run = Path("/nonexistent/run")
    infos = [CheckpointInfo(run / f"step-{i:08d}.pt", "run", i, 0, 2.0, 1.0, 1e9 + i, 1, ["periodic"]) for i in range(1, 5001)]
    times: list[float] = []

    async def go() -> None:
        app = PanelOnly()
        async with app.run_test(size=(110, 32)) as pilot:
            panel = app.query_one(CheckpointPanel)
            for _ in range(reps):
                t0 = time.perf_counter()
                panel.set_checkpoints(infos, None)
                times.append(time.perf_counter() - t0)
                await pilot.pause()

    asyncio.run(go())
    return {"checkpoints": 5000, "best_s": min(times), "worst_s": max(times), "target_s": TABLE_TARGET_S,
            "met": max(times) < TABLE_TARGET_S}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.listing", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    import os

    load = os.getloadavg()[0]
    for name, result in (("registry", measure_registry(args.reps)), ("app table", measure_table(args.reps))):
        print(f"{name}: {result['checkpoints']:,} checkpoints listed in {1000 * result['best_s']:.0f}-"
              f"{1000 * result['worst_s']:.0f} ms over {args.reps} runs (target < {1000 * result['target_s']:.0f} ms: "
              f"{'met' if result['met'] else 'NOT met'}; load average {load:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
