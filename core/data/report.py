"""What loading a corpus read, kept and dropped (:class:`LoadReport`), and the one error of reading one.

Its own module so that every reader (decoding, the file formats, archives) can raise and report without
importing the module that puts them together (:mod:`core.data.corpus`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core.errors import Hint, TweetgenError, Words, cli_words, render


class CorpusError(TweetgenError):
    """A corpus problem a user can fix; ``str()`` is a single line naming the file."""



@dataclass
class LoadReport:
    """What a load read, kept and dropped, and why."""

    path: str
    format: str = ""
    encoding: str = ""
    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str | Hint] = field(default_factory=list)  # a note saying what to change is a Hint
    longest_long_post: int = 0  # characters of the longest long post dropped as ``long_post``: the --max-len that keeps them

    def summary(self, words: Words | None = None) -> str:
        """One line; the notes' hints in ``words`` (a front end's, :mod:`core.errors`), else tweetgen's."""
        parts = [f"{self.kept:,} of {self.read:,} items kept from {self.path} ({self.format}, {self.encoding})"]
        if self.dropped:
            parts.append("dropped: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.dropped.items())))
        parts.extend(render(note, words or cli_words()) for note in self.notes)
        return "; ".join(parts)
