"""What the CLI's commands share: the one-line user error, the corpus filter flags, loading a checkpoint,
formatting a number. Its own module so that a command in a module of its own (core/cli/neurons.py)
can use them without importing core.cli.main, which registers it (no cycle)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from core import defaults
from core.cli.flags import NUMBERS as N


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def add_filter_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("corpus")
    g.add_argument("--format", choices=("auto", "csv", "tweets-js", "json", "jsonl", "text"), default="auto",
                   help="input format (default: detected from content and extension)")
    g.add_argument("--column", help="CSV column holding the text (default: 'text', or the first column without a header)")
    g.add_argument("--max-len", type=N["max_tweet_len"], default=None, help=f"drop texts longer than this (default {defaults.MAX_TWEET_LEN})")
    g.add_argument("--min-len", type=N["min_len"], default=None, help="drop texts shorter than this (default 1)")
    g.add_argument("--strip-urls", action="store_true", default=None, help="remove URLs from texts")
    rt = g.add_mutually_exclusive_group()
    rt.add_argument("--drop-retweets", action="store_true", default=None,
                    help="drop texts starting with 'RT @' (default for a Twitter/X archive: someone else's words)")
    rt.add_argument("--keep-retweets", dest="drop_retweets", action="store_false", default=None,
                    help="keep retweets, from an archive too (default for other files)")
    g.add_argument("--no-dedupe", action="store_true", default=None, help="keep duplicate texts")


def filter_args(args: argparse.Namespace) -> dict[str, Any]:
    """The corpus filters given on the command line, by FilterConfig name (None: not given)."""
    return {"max_len": args.max_len, "min_len": args.min_len, "strip_urls": args.strip_urls,
            "drop_retweets": args.drop_retweets,  # --drop-retweets True, --keep-retweets False
            "dedupe": False if args.no_dedupe else None}


def filter_config(args: argparse.Namespace, stored: dict[str, Any] | None = None) -> Any:
    """A checkpoint's stored filters with the command line's on top (``tweetgen eval``)."""
    from core.data.corpus import FilterConfig
    from core.defaults import known_fields

    given = {k: v for k, v in filter_args(args).items() if v is not None}
    try:
        return FilterConfig(**{**known_fields(FilterConfig, stored), **given})
    except ValueError as exc:
        raise UserError(str(exc)) from None
    except TypeError:  # only a damaged checkpoint stores filters of the wrong type
        raise UserError(f"the checkpoint's stored corpus filters are damaged ({stored!r}); pass --max-len and --min-len") from None


def load_ckpt(path: Path, *, best: bool = False) -> Any:
    """A checkpoint file, or from a run directory its newest (to resume) or, with ``best``, the one
    to generate from (its best validated, else its newest)."""
    from core.store.checkpoints import load_checkpoint
    from core.store.registry import resolve_checkpoint

    return load_checkpoint(resolve_checkpoint(path, best=best))


def fmt(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)
