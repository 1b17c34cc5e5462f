"""``tweetgen neurons``: which hidden units track URLs, mentions, quotes, sentence ends (issue 19).

Registered from :mod:`core.cli.main` (``add_parser`` and ``cmd_neurons``); the finding itself lives in
:mod:`core.neurons.finder`, the page in :mod:`core.neurons.html`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from core.cli.common import UserError
from core.cli.common import add_filter_args as _add_filter_args
from core.cli.common import filter_config as _filter_config
from core.cli.common import fmt as _fmt
from core.cli.common import load_ckpt as _load_ckpt


def add_parser(sub: Any) -> None:
    """Add the ``neurons`` subcommand to ``sub`` (the main parser's subparsers)."""
    nr = sub.add_parser("neurons", help="which hidden units track URLs, mentions, quotes, sentence ends (issue 19)",
                        description="Score every hidden unit against per-character features (inside a URL, @mention, "
                                    "#hashtag, quotes; after a sentence end; in an uppercase run; position, characters "
                                    "remaining). The result is cached beside the checkpoint.")
    nr.add_argument("checkpoint", type=Path, metavar="CKPT", help="a checkpoint file, or a run directory (its best)")
    nr.add_argument("data", type=Path, nargs="?", metavar="DATA",
                    help="texts to score on, up to 2,000 (default: the checkpoint's validation texts, from the corpus it records)")
    nr.add_argument("--json", action="store_true", help="print JSON: per feature, units with score, sign, halves, untrained "
                                                        "baseline, tracker; the probe ceiling")
    nr.add_argument("--html", type=Path, metavar="FILE", help="also write a page of texts coloured by each feature's best unit")
    _add_filter_args(nr)


def cmd_neurons(args: argparse.Namespace, console: Console) -> int:
    from core.data.corpus import load_corpus
    from core.neurons.finder import FEATURES, NeuronsError, report_for_checkpoint, validation_texts, verdict
    from core.store.registry import resolve_checkpoint

    path = resolve_checkpoint(args.checkpoint, best=True)
    hint = "give DATA: tweetgen neurons CKPT DATA"
    ckpt = _load_ckpt(path)
    texts = None
    if args.data is not None:
        texts = load_corpus(args.data, _filter_config(args, ckpt.train_state.get("filter_config")), fmt=args.format,
                            column=args.column)[0]
    try:
        report = report_for_checkpoint(path, texts, hint=hint)
        if args.html is not None:
            _write_html(args.html, ckpt, report, texts if texts is not None else validation_texts(ckpt, hint=hint))
    except NeuronsError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps({"checkpoint": str(path), **report.to_json()}, indent=1, ensure_ascii=False))
        return 0
    console.print(f"units of {path} (step {report.step}; {report.n_texts:,} texts, {report.n_chars:,} characters)",
                  highlight=False)
    table = Table("feature", "verdict", "unit", "AUC / r", "halves", "untrained", "probe", box=None, pad_edge=False)
    for f, label in FEATURES.items():
        best = report.best(f)
        if best is None:
            table.add_row(label, "absent", "-", "-", "-", "-", "-")
            continue
        what = "r" if f in ("remaining", "position") else "AUC"
        table.add_row(label, verdict(report, f), str(best.unit), f"{what} {best.auc_or_r:.2f}",
                      f"{best.halves_raw[0]:.2f}/{best.halves_raw[1]:.2f}", f"{best.untrained_raw:.2f}",
                      f"{_fmt(report.probe.get(f), '.2f')}/{_fmt(report.untrained_probe.get(f), '.2f')}")
    console.print(table)
    console.print("tracked: the unit clears AUC >= 0.85 or <= 0.15 (|r| >= 0.5) on both halves of the texts and beats "
                  "every unit of the untrained model by 0.1 (score 2|AUC-0.5| or |r|); spread: only the probe on all "
                  "units (trained/untrained) decodes it; --json for the ten best units of each feature.", highlight=False)
    if args.html is not None:
        console.print(f"wrote {args.html}", highlight=False)
    return 0


def _write_html(out: Path, ckpt: Any, report: Any, texts: list[str]) -> None:
    from core.neurons.finder import activations, legend, top_texts
    from core.neurons.html import page
    from core.store.checkpoints import atomic_write

    model = ckpt.model()
    sections = []
    for f, units in report.ranked.items():
        if units:
            best = units[0]
            shown = [(t, activations(model, ckpt.vocab, t)[:, best.unit].tolist())
                     for t, _ in top_texts(model, ckpt.vocab, texts, best.unit, k=5)]
            sections.append((f, legend(best), shown))
    data = page(f"tweetgen neurons: {ckpt.path.name} (step {report.step})", sections).encode()
    try:
        atomic_write(out, lambda fh: fh.write(data))
    except OSError as exc:
        raise UserError(f"{out}: cannot write the page ({exc.strerror or exc}); choose another --html FILE") from None
