"""core.errors: hints keyed by setting, worded by each front end (tweetgen's flags by default)."""

from __future__ import annotations

import pickle

import pytest

from core.cli.flags import CLI_WORDS
from core.data.corpus import CorpusError, FilterConfig, LoadReport, load_corpus
from core.errors import Hint, TweetgenError, hint, joined, prefixed, render

APP_LIKE = {**CLI_WORDS, "max_tweet_len": "--max-tweet-len {value}", "run_dir": "--checkpoint {value}"}


def test_a_hint_names_a_setting_and_each_front_end_words_it() -> None:
    h = hint("try {max_tweet_len} to keep them", max_tweet_len=340)
    assert h.settings() == ["max_tweet_len"]
    assert str(h) == "try --max-len 340 to keep them"
    assert h.render(APP_LIKE) == "try --max-tweet-len 340 to keep them"


def test_a_setting_without_a_value_is_named_alone() -> None:
    assert str(hint("choose another {run_dir} directory")) == "choose another --out directory"
    assert hint("use {run_dir}", run_dir="DIR").render(APP_LIKE) == "use --checkpoint DIR"


def test_a_front_end_without_words_for_a_setting_is_an_error_not_a_wrong_flag() -> None:
    with pytest.raises(KeyError):
        hint("add {allow_unknown}").render({"run": "--run"})


def test_literal_text_joined_to_a_hint_keeps_its_braces() -> None:
    h = prefixed("{odd}.csv: ", hint("try {max_tweet_len}", max_tweet_len=300))
    assert str(h) == "{odd}.csv: try --max-len 300"
    assert str(joined("a {b} ", hint("{run}"))) == "a {b} --run"


def test_an_error_is_its_message_and_its_hints_and_crosses_a_process_as_data() -> None:
    exc = TweetgenError("x.csv: no usable tweets", (hint("try {max_tweet_len}", max_tweet_len=560), "or another file"))
    assert str(exc) == "x.csv: no usable tweets; try --max-len 560; or another file"
    back = pickle.loads(pickle.dumps(exc))
    assert back.render(APP_LIKE) == "x.csv: no usable tweets; try --max-tweet-len 560; or another file"
    assert render("plain", APP_LIKE) == "plain"


def test_a_corpus_error_carries_its_hint_as_a_setting(tmp_path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("x" * 300 + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(path, FilterConfig())
    assert isinstance(info.value, TweetgenError) and "--max-len" not in info.value.message
    assert str(info.value).endswith("; try --max-len 560")
    assert info.value.render(APP_LIKE).endswith("; try --max-tweet-len 560")


def test_a_report_note_is_worded_by_the_front_end_that_shows_it() -> None:
    report = LoadReport("x.csv", notes=["plain", Hint("try {max_tweet_len}", {"max_tweet_len": 300})])
    assert report.summary().endswith("; plain; try --max-len 300")
    assert report.summary(APP_LIKE).endswith("; plain; try --max-tweet-len 300")
