"""tweetgen's words for the settings core's hints name (:mod:`core.errors`).

A module of its own, importing nothing: core.errors renders a hint in these words by default
(``str()`` of an error) without importing the CLI's parser, and the parser imports core.errors.
"""

from __future__ import annotations

# Core's hints name settings (core.errors.Hint); these are tweetgen's words for each, "{value}" where
# the value goes. tweetgen-tui has its own table (tui.settings.APP_WORDS); a test checks both word
# every setting core names, and that every flag named is one the front end has.
CLI_WORDS: dict[str, str] = {
    "max_tweet_len": "--max-len {value}",
    "length_filters": "--max-len and --min-len",
    "keep_retweets": "--keep-retweets",
    "column": " or pass --column NAME",
    "run_dir": "--out {value}",
    "resume": "--resume {value}",
    "run": "--run",
    "device": "--device {value}",
    "hidden_size": "--hidden",
    "embed_dim": "--embed",
    "num_layers": "--layers",
    "batch_size": "--batch-size",
    "allow_unknown": "--allow-unknown",
    "until_stopped": "--until-stopped",
    "budget": "--epochs, --minutes and --max-steps",
    "check_novelty": "--check-novelty {value}",
}
