"""What the app was asked to do, resolved from the command line; no Textual, no torch.

Paths that need the checkpoint registry (the run directory, the checkpoint a directory
generates from) are resolved later, in a worker, because ``core.store.checkpoints`` imports torch
and the first frame must not wait for that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import defaults

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from core.data.corpus import LoadReport
    from core.errors import Hint

TEMPERATURE_MIN = 0.1
TEMPERATURE_MAX = 5.0
TEMPERATURE_STEP = 0.1


def clamp_temperature(value: float) -> float:
    """Round to the 0.1 grid and keep it in [0.1, 5.0]."""
    return round(min(TEMPERATURE_MAX, max(TEMPERATURE_MIN, value)), 1)


@dataclass
class AppSettings:
    """Everything the app needs to start; the defaults are what ``tweetgen-tui`` does with no flags."""

    data_path: Path
    demo_checkpoint: Path | None = None  # listed as "demo"; None hides it
    is_demo_corpus: bool = False
    checkpoint: Path | None = None  # --checkpoint: a file, or a run directory
    run: str | None = None  # --run NAME under the checkpoint home
    home: Path | None = None  # checkpoint home; None = $TWEETGEN_HOME or the user data dir
    # generation
    temperature: float = defaults.TEMPERATURE
    pace: float = 30.0  # characters per second on screen; 0 = as fast as the model writes
    gap_s: float | None = 2.0  # pause between samples; None = only on `r`
    max_len: int | None = None  # --max-len; None = a quarter past the model's longest training text (core.model.sampler.default_max_len)
    seed: int | None = None  # sample i uses seed + i; None = fresh randomness
    copy_threshold: int = defaults.COPY_THRESHOLD  # a sample sharing a verbatim run this long with a training text is flagged as copied
    # training (see core.train.process.TrainJob: the budget is "this much more per start")
    train: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)  # core.data.corpus.FilterConfig fields (max_len: --max-tweet-len)
    threads: int | None = None
    stop_timeout_s: float = 60.0  # quitting waits this long for the final checkpoint

    def __post_init__(self) -> None:
        self.temperature = clamp_temperature(self.temperature)

    @property
    def data_label(self) -> str:
        from tui.format import printable  # a file name may hold control characters

        return "demo corpus" if self.is_demo_corpus else printable(self.data_path.name)

    def corpus_filters(self) -> Any:
        """The FilterConfig for reading the corpus in the app, as the training process reads it."""
        from core.data.corpus import FilterConfig

        return FilterConfig(**self.filters)

    def run_name(self) -> str:
        """The run directory's name under the home when neither --run nor a directory was given."""
        if self.run:
            return self.run
        if self.is_demo_corpus:
            return "demo-run"
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", self.data_path.stem).strip("-.")
        return stem or "run"

    def opened(self, path: Path, filters: Mapping[str, Any]) -> AppSettings:
        """These settings with ``path`` as the corpus, opened from inside the app: as ``--data PATH``
        would start, so the run is named after the file (not --run or a --checkpoint directory; the
        demo stays listed), and generated tweets may be as long as the new length limit."""
        from dataclasses import replace

        chosen = {k: v for k, v in filters.items() if v is not None}
        max_len = None if self.max_len is None else max(self.max_len, int(chosen.get("max_len", 0)))  # None: the model's
        return replace(self, data_path=path, is_demo_corpus=False, checkpoint=None, run=None, filters=chosen,
                       max_len=max_len)

    def run_dir(self) -> Path:
        """Where this session's checkpoints go: --run, else a --checkpoint directory, else the corpus name."""
        from core.store.policy import run_dir_for  # lists nothing, but the home may need the registry: call from a worker

        return run_dir_for(self.run_name(), explicit_run=bool(self.run), checkpoint=self.checkpoint, home=self.home)


# tweetgen-tui's words for each setting core's hints name (core.errors; tweetgen's are core.cli.flags.CLI_WORDS).
APP_WORDS: dict[str, str] = {
    "max_tweet_len": "--max-tweet-len {value}",
    "length_filters": "--max-tweet-len",  # the app has no --min-len
    "keep_retweets": "--keep-retweets",
    "column": " (tweetgen-tui reads the 'text' column; `tweetgen train --column NAME` reads another)",
    "run_dir": "--checkpoint {value}",  # the app's --checkpoint DIR is also where new checkpoints go
    "resume": "--checkpoint {value}",  # the app resumes from its --checkpoint DIR (or --run) by itself
    "run": "--run",
    "device": "--device {value}",
    "hidden_size": "--hidden",
    "embed_dim": "--embed",
    "num_layers": "--layers",
    "batch_size": "--batch-size",
}


def say(error: BaseException | str | Hint) -> str:
    """An error, or a message from core, in this app's words: a :class:`core.errors.TweetgenError`'s (or a
    :class:`core.errors.Hint`'s) settings named by this app's flags (:data:`APP_WORDS`)."""
    from core.errors import Hint, TweetgenError

    if isinstance(error, (TweetgenError, Hint)):
        return error.render(APP_WORDS)
    return str(error)


def read_corpus(path: Path, filters: Mapping[str, Any],
                progress: Callable[[int, int], None] | None = None) -> tuple[list[str], LoadReport]:
    """The corpus as the app reads it, at start-up (``--data``) and when one is opened from inside the
    app, with the filters its training process will use. Raises ``CorpusError``: :func:`say` words it in
    the app's flags."""
    from core.data.corpus import FilterConfig, load_corpus

    return load_corpus(path, FilterConfig(**filters), progress=progress)
