"""One error family, and hints keyed by *setting*, not by a front end's flag.

Core never writes a flag into a message: a message that tells the user what to change
carries a :class:`Hint`, words with ``{setting}`` fields (``"try {max_tweet_len} to keep
them"``) and the values to put there (``max_tweet_len=300``). Each front end renders it in
its own words: ``tweetgen`` says ``--max-len 300`` (:data:`core.cli.words.CLI_WORDS`),
``tweetgen-tui`` says ``--max-tweet-len 300`` (:data:`tui.settings.APP_WORDS`). ``str()`` of
either is ``tweetgen``'s wording, so a script that prints an error gets the CLI's flags.

Hints and errors are plain data (picklable): a training process sends them to the app
as they are, and the app words them when it shows them.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Words = Mapping[str, str]  # setting -> a front end's words for it; "{value}" is where the value goes


@dataclass(frozen=True)
class Hint:
    """What the user can do, with the settings involved left as ``{setting}`` fields.

    ``values``: the value of a setting named in ``text`` (``max_tweet_len=300``); a setting
    without one is named alone (``{keep_retweets}``: ``--keep-retweets``).
    """

    text: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def settings(self) -> list[str]:
        """The settings this hint names, in order."""
        return [name for _, name, _, _ in string.Formatter().parse(self.text) if name]

    def render(self, words: Words) -> str:
        """The hint in a front end's words; a setting it has no words for raises KeyError (tests check
        that each front end words every setting core names)."""
        return self.text.format_map({s: _word(words[s], self.values, s) for s in self.settings()})

    def __str__(self) -> str:
        return self.render(cli_words())


def _word(words: str, values: Mapping[str, Any], setting: str) -> str:
    if setting in values:
        return words.format(value=values[setting])
    return words.replace(" {value}", "").replace("{value}", "")  # named alone: "--out", not "--out DIR"


def joined(*parts: str | Hint) -> Hint:
    """One hint from literal text and hints in order (literal text is taken as it is, braces and all)."""
    text, values = "", {}
    for part in parts:
        if isinstance(part, Hint):
            text += part.text
            values.update(part.values)
        else:
            text += str(part).replace("{", "{{").replace("}", "}}")
    return Hint(text, values)


def hint(text: str, **values: Any) -> Hint:
    """``hint("try {max_tweet_len} to keep them", max_tweet_len=300)``."""
    return Hint(text, dict(values))


def render(text: str | Hint | tuple[Hint | str, ...], words: Words) -> str:
    """A message part that may be a hint (or several, joined with "; "), in a front end's words."""
    if isinstance(text, tuple):
        return "; ".join(render(part, words) for part in text)
    return text.render(words) if isinstance(text, Hint) else str(text)


def prefixed(prefix: str, text: str | Hint) -> str | Hint:
    """``prefix + text``, still a hint when ``text`` is one (the prefix, a file name say, is taken literally)."""
    return joined(prefix, text) if isinstance(text, Hint) else prefix + text


class TweetgenError(Exception):
    """An error the user can act on: a one-line ``message`` (the file or field, and what is wrong) and,
    when there is something to change, a ``hint`` (joined to the message with "; "; several in a tuple).
    A message whose advice sits mid-sentence is itself a :class:`Hint` (:func:`joined`)."""

    def __init__(self, message: str | Hint, hint: Hint | str | tuple[Hint | str, ...] | None = None) -> None:
        super().__init__(message, hint)
        self.message = message
        self.hint = hint

    def render(self, words: Words) -> str:
        """The whole line in a front end's words."""
        return render(self.message, words) + (f"; {render(self.hint, words)}" if self.hint else "")

    def __str__(self) -> str:
        return self.render(cli_words())

    def as_hint(self) -> Hint:
        """The whole line as one hint: plain data, for an event that crosses to another process."""
        hints = self.hint if isinstance(self.hint, tuple) else (self.hint,) if self.hint else ()
        return joined(self.message, *(part for h in hints for part in ("; ", h)))


class SettingError(TweetgenError, ValueError):
    """Settings that cannot go together (a ValueError, as before there was a family)."""


def cli_words() -> Words:
    """``tweetgen``'s words (core's own front end; core.cli.words imports nothing, so no cycle)."""
    from core.cli.words import CLI_WORDS

    return CLI_WORDS
