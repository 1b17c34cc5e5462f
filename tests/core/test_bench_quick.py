"""The bench's quick mode runs end to end and reports every section (so `make bench` never rots)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from corehelpers import DEV_CSV, REPO

DEMO_TXT = REPO / "assets" / "demo_tweets.txt"


def _check_quality(res: dict[str, Any]) -> None:
    q = res["quality"]
    for name in ("default", "reference"):
        assert q[name]["val_bpc"] > 0 and q[name]["chars"] > 0, q[name]
    assert q["ratio"] > 0
    t = res["throughput"]
    assert t["matmul_peak_gflops"] > 0
    assert t["default"]["chars_per_s"] > 0 and t["reference"]["chars_per_s"] > 0 and 0 < t["default"]["fraction_of_peak"]
    s = res["sampling"]
    assert s["single_stream_chars_per_s"] > 0 and s["first_char_ms_median"] > 0 and s["batch64_s_median"] > 0
    m = res["memory"]
    assert m["train_peak_rss_mb"] > 0 and len(m["loads"]) == 3 and all("load_s" in r for r in m["loads"])
    assert "scaling_exponent" in m
    h = res["horizons"]
    assert h["budget"]["0.05"]["at"]["0.05"]["val_bpc"] > 0 and h["open"]["evals"]
    assert 0 <= h["budget"]["0.05"]["at"]["0.05"]["lengths"]["T1.0"]["ended_within_limit"] <= 1


def _check_app(res: dict[str, Any]) -> None:
    app = res["app"]
    assert "startup" in app and "lag" in app
    assert res["novelty"]["scales"]
    assert [r["generation"] for r in res["archives"]["generations"]["rows"]] and res["archives"]["huge"]["alone"]["kept"] == 3
    b = res["bf16"]
    assert b["peak_gflops"]["float32"] > 0 and b["peak_gflops"]["bfloat16"] > 0
    assert all(b[v]["chars_per_s"] > 0 and b[v]["ms_per_step_median"] > 0 for v in ("stock_fp32", "loop_fp32", "loop_bf16"))


def _check_data(res: dict[str, Any]) -> None:
    assert res["corpus_memory"]["loads"]
    assert res["small"]
    assert res["scripts"]
    z = res["sizes"]
    assert z["horizon_free"]["identical"], "the curve up to step k must not depend on the step budget"
    assert z["ratios"]["candidates"]["h256"]["ratio"] > 0 and z["reference"]["points"]
    assert 0 < z["default_at_anchor"]["share_of_peak"]
    n = res["neurons"]
    assert n["finder_s"] > 0 and n["texts"] > 0 and set(n["features"]) >= {"url", "quote", "position"}


def _failed(res: Any, where: str = "") -> list[str]:
    """Where a section (or a measurement in it) says it failed, with its reason: one failing measurement does not stop
    the bench (it is kept as {"status": "failed", "reason": ...}), so the test looks for them."""
    if isinstance(res, dict):
        here = [f"{where or '.'}: {res.get('reason')}"] if res.get("status") == "failed" else []
        return here + [f for k, v in res.items() for f in _failed(v, f"{where}.{k}")]
    if isinstance(res, list):
        return [f for i, v in enumerate(res) for f in _failed(v, f"{where}[{i}]")]
    return []


# Every section, in three groups of about a minute each (pytest -n 2 runs them side by side). Sections
# that read another's results run in its group: sampling and memory use quality's checkpoint and RSS.
GROUPS: dict[str, tuple[tuple[str, ...], Callable[[dict[str, Any]], None]]] = {
    "training": (("quality", "throughput", "sampling", "memory", "horizons"), _check_quality),
    "app": (("app", "novelty", "archives", "bf16"), _check_app),
    "data": (("corpus", "small", "scripts", "sizes", "neurons"), _check_data),
}
TABLE_NAMES = {"quality": "1 quality", "throughput": "2 throughput", "sampling": "3 sampling", "app": "4 app",
               "memory": "5 memory", "horizons": "6 horizons", "novelty": "7 novelty", "corpus": "8 corpus",
               "archives": "9 archives", "small": "10 small", "scripts": "11 scripts", "bf16": "12 bf16",
               "sizes": "13 sizes", "neurons": "14 neurons"}


def test_the_groups_cover_every_section() -> None:
    from bench.__main__ import SECTIONS

    grouped = [s for sections, _ in GROUPS.values() for s in sections]
    assert sorted(grouped) == sorted(SECTIONS) and len(grouped) == len(set(grouped))
    assert set(TABLE_NAMES) == set(SECTIONS)


@pytest.mark.slow
@pytest.mark.timeout(480)
@pytest.mark.skipif(not DEV_CSV.exists() and not DEMO_TXT.exists(),
                    reason=f"the bench needs a corpus: neither {DEV_CSV} nor {DEMO_TXT} exists")
@pytest.mark.parametrize("group", list(GROUPS))
def test_quick_bench_reports_every_section(tmp_path: Path, group: str) -> None:
    """`python -m bench --quick --only ... --json PATH` exits 0, its JSON holds each section's figures, and
    the table printed has each section's rows."""
    sections, check = GROUPS[group]
    out = tmp_path / "bench.json"
    shipped = {p: p.read_bytes() for p in (REPO / "assets").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", *sections, "--json", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=470)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    res = json.loads(out.read_text())
    assert res["mode"] == "quick"
    check(res)
    for section in sections:
        result = res.get("corpus_memory" if section == "corpus" else section)
        if isinstance(result, dict) and result.get("status") == "not measured":
            assert result.get("reason"), f"section {section} was not measured and does not say why"
            continue  # e.g. small corpora without the dev corpus: the demo is too small to sample
        assert "\n" + TABLE_NAMES[section] in proc.stdout, f"the table has no rows of section {section}"
    assert res["corpus"].endswith((".csv", ".txt")), "the corpus' path, not overwritten by a section's results"
    failed = _failed(res)
    assert not failed, f"measurements that failed (a bench driving an API that moved?): {failed}"
    changed = sorted(str(p.relative_to(REPO)) for p, data in shipped.items() if not p.exists() or p.read_bytes() != data)
    added = sorted(str(p.relative_to(REPO)) for p in (REPO / "assets").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p not in shipped)
    assert not changed and not added, f"the bench wrote into the shipped assets: {changed + added}"


def test_the_table_of_one_section_leaves_the_others_out() -> None:
    """`python -m bench --only app` (what a quick check runs) prints its table without the sections it skipped."""
    from bench.__main__ import table

    rows = table({"mode": "full", "machine": {}, "corpus": "/data/tweets.csv", "app": {}})
    assert not any(r[0].startswith(("7 ", "8 ")) for r in rows)
