"""``tweetgen-tui``: parse the command line and run the app.

Only argparse is imported up front; Textual comes in when the app starts and torch
after its first frame (a spawned training process also imports this module, so it
must stay light).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core import defaults
from core.cli.flags import NUMBERS as N
from core.cli.flags import OneLineParser, run_name_type
from tui.settings import APP_WORDS, AppSettings

DESCRIPTION = """\
Train a character-level GRU on tweets and watch it write new ones, live.

With no arguments it opens on the demo corpus and the demo checkpoint and starts
generating. Press space to train, ? for every key. Errors (an unreadable corpus, a
corrupt checkpoint, a diverged run) are shown in the app, which keeps running.
"""

EPILOG = """\
examples:
  tweetgen-tui
  tweetgen-tui --data tweets.csv
  tweetgen-tui --data tweets.csv --checkpoint ~/runs/mine --temperature 1.0
  tweetgen-tui --data tweets.js --run evening --minutes 30
  tweetgen-tui --data twitter-2024-01-01-abc.zip
"""


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="tweetgen-tui", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("corpus and checkpoints")
    d.add_argument("--data", type=Path, metavar="FILE",
                   help="corpus to train on: a Twitter/X archive .zip or its unpacked folder, tweets.js, CSV with a "
                        "'text' column, JSON/JSONL, or one tweet per line (default: the demo corpus)")
    d.add_argument("--checkpoint", type=Path, metavar="FILE|DIR",
                   help="generate from this checkpoint file, or from this run directory's best checkpoint (its best "
                        "validated one, else its newest; a directory is also where new checkpoints go)")
    d.add_argument("--run", type=run_name_type(APP_WORDS), metavar="NAME",
                   help="run name: checkpoints go to HOME/runs/NAME; generation starts from its best checkpoint, "
                        "training resumes from its newest (default: the corpus file's name; demo-run for the demo corpus)")
    d.add_argument("--max-tweet-len", type=N["max_tweet_len"], metavar="N",
                   help=f"train on corpus items of up to N characters; longer ones are dropped (default {defaults.MAX_TWEET_LEN})")
    d.add_argument("--keep-retweets", action="store_true",
                   help="keep retweets ('RT @...') of a Twitter/X archive; by default they are dropped as someone else's words")
    d.add_argument("--home", type=Path, metavar="DIR",
                   help="checkpoint home (default: $TWEETGEN_HOME, else the user data directory)")

    g = p.add_argument_group("generation")
    g.add_argument("--temperature", type=N["app_temperature"], default=defaults.TEMPERATURE,
                   help=f"starting temperature, 0.1-5.0 in steps of 0.1 (default {defaults.TEMPERATURE:g}; + and - change it)")
    g.add_argument("--pace", type=N["pace"], default=30.0, metavar="CPS",
                   help="characters per second on screen (default 30; 0 = as fast as the model writes)")
    g.add_argument("--gap", type=N["gap"], default=2.0, metavar="SECONDS",
                   help="pause between one tweet and the next (default 2)")
    g.add_argument("--max-len", type=N["sample_max_len"], metavar="N",
                   help=f"characters per generated tweet at most (default: a quarter past the longest training tweet, at least {defaults.SAMPLE_MAX_LEN})")
    g.add_argument("--copy-threshold", type=N["copy_threshold"], default=defaults.COPY_THRESHOLD, metavar="N",
                   help=f"flag a sample as copied when it shares N or more characters verbatim with a training text (default {defaults.COPY_THRESHOLD})")
    g.add_argument("--seed", type=N["seed"], metavar="N", help="reproducible tweets: tweet i is sampled with seed N+i")

    t = p.add_argument_group("training (space trains until you pause or quit; a budget here stops each press after that much)")
    t.add_argument("--epochs", type=N["epochs"], metavar="N", help="passes over the corpus per press of space (default: no budget)")
    t.add_argument("--minutes", type=N["minutes"], metavar="M", help="training time instead of epochs")
    t.add_argument("--max-steps", type=N["max_steps"], metavar="N", help="optimizer steps instead of epochs")
    t.add_argument("--hidden", type=N["hidden_size"], metavar="N", help=f"GRU hidden size of a new run (default {defaults.HIDDEN_SIZE}; {defaults.SMALL_HIDDEN_SIZE} on a corpus under {defaults.SMALL_CORPUS:,} texts)")
    t.add_argument("--layers", type=N["num_layers"], metavar="N", help=f"GRU layers of a new run (default {defaults.NUM_LAYERS})")
    t.add_argument("--embed", type=N["embed_dim"], metavar="N", help=f"character embedding size of a new run (default {defaults.EMBED_DIM})")
    t.add_argument("--batch-size", type=N["batch_size"], metavar="N", help=f"tweets per batch (default {defaults.BATCH_SIZE})")
    t.add_argument("--lr", type=N["lr"], metavar="LR", help=f"learning rate (default {defaults.LR:g}, schedule-free AdamW)")
    t.add_argument("--val-every", type=N["val_every"], metavar="N",
                   help=f"validate every N steps, a point on the chart (default {defaults.VAL_EVERY})")
    t.add_argument("--ckpt-every", type=N["ckpt_every"], metavar="N",
                   help=f"write a checkpoint every N steps (default {defaults.CKPT_EVERY}; also on s, at the end and on quit)")
    t.add_argument("--keep-last", type=N["keep_last"], metavar="N",
                   help="keep only the run's newest N checkpoints, and its best (default 0 = keep all)")
    t.add_argument("--keep-best", type=N["keep_best"], metavar="N",
                   help=f"with --keep-last, also keep the run's N best (default {defaults.KEEP_BEST})")
    t.add_argument("--device", metavar="NAME", help="auto (default), cpu, cuda or mps")
    t.add_argument("--threads", type=N["threads"], metavar="N", help="torch threads for training (default: all cores but one)")
    return p


def settings_from_args(args: argparse.Namespace) -> AppSettings:
    """Turn parsed flags into AppSettings; paths are only expanded here, checked by the app."""
    from core.assets import demo_checkpoint_path, demo_corpus_path

    train: dict[str, Any] = {}
    for flag in ("epochs", "minutes", "max_steps", "batch_size", "lr", "device", "val_every", "ckpt_every",
                 "keep_last", "keep_best"):
        value = getattr(args, flag)
        if value is not None:
            train[flag] = value
    model = {k: v for k, v in (("hidden_size", args.hidden), ("num_layers", args.layers), ("embed_dim", args.embed))
             if v is not None}
    expand = lambda p: p.expanduser() if p is not None else None  # noqa: E731
    return AppSettings(
        data_path=expand(args.data) or demo_corpus_path(),
        is_demo_corpus=args.data is None,
        demo_checkpoint=demo_checkpoint_path(),
        checkpoint=expand(args.checkpoint),
        run=args.run,
        home=expand(args.home),
        temperature=args.temperature,
        pace=args.pace,
        gap_s=args.gap,
        max_len=args.max_len,
        seed=args.seed,
        copy_threshold=args.copy_threshold,
        train=train,
        model=model,
        filters={**({} if args.max_tweet_len is None else {"max_len": args.max_tweet_len}),
                 **({"drop_retweets": False} if args.keep_retweets else {})},
        threads=args.threads,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from_args(args)

    from tui.services.generation_stream import preload_in_background

    preload_in_background()  # torch loads while Textual draws the first frame
    from tui.app import TweetgenApp

    app = TweetgenApp(settings)
    try:
        app.run()
    finally:
        app.training.shutdown(app.settings.stop_timeout_s)  # whatever ended the app, a running training saves its checkpoint
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
