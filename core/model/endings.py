"""How texts end: a word check that uses the corpus's own words, so it works in any language.

Why: a length input that forces ``<eos>`` when "remaining" reaches 0 gets lengths right and
cuts the last word (``So many people yo``). Lengths alone cannot show that; this can. A
word here is a run of letters or digits of any script (``[^\\W_]+``, inner apostrophes
kept), compared case-folded with the words of the corpus the model trained on; URLs are
set aside and checked on their own.

For a set of texts it measures:

- ``last_unknown``: the share of texts whose last word is not a corpus word (invented or cut);
- ``interior_unknown``: the share of the other words that are not corpus words;
- ``ratio``: last / interior. Held-out human tweets sit near 1-2 (the last word is a
  little rarer: names, hashtags); a model that cuts words scores far higher;
- ``cut``: the share of texts that end mid-word (the text ends on a letter or digit and its
  last word is not a corpus word but begins one, ``yo`` of ``you``) or mid-link (the text
  ends inside a URL whose length no corpus link of its site has; for a site the corpus never
  links to, shorter than all but the shortest 5% of the corpus's links);
- ``links_last_off`` / ``links_inside_off``: the share of links at the end of a text / elsewhere
  whose length no corpus link of their site has. Far more at the end than inside: the text
  ended before its link did; as many inside: the writer miscounts links anywhere.

Why per site: link shorteners changed length over the years (``http://t.co/`` + 7 characters in
2011, ``https://t.co/`` + 10 later). Judged by one length, every older link of a real archive
counted as cut (3 of the 4 "cut" held-out dev tweets were such links).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.model.links import URL, site_of

WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


@dataclass(frozen=True)
class Ending:
    """One text's ending, as the word check sees it."""

    last_unknown: bool  # the last word is not a corpus word (False for a text without words)
    interior: int  # words before the last
    interior_unknown: int  # of those, not corpus words
    cut: bool  # ends mid-word or mid-link
    links_inside: int = 0  # links with text (or white space) after them
    links_inside_off: int = 0  # of those, of a length no corpus link of their site has
    link_last_off: bool | None = None  # the text ends in a link: is it of such a length (None: it does not end in one)


@dataclass(frozen=True)
class EndingStats:
    """The word check over many texts (shares are 0-1)."""

    texts: int
    cut: float
    last_unknown: float
    interior_unknown: float
    links_last: int = 0  # texts that end in a link
    links_last_off: float = 0.0  # share of those whose link has a length no corpus link of its site has
    links_inside: int = 0  # links elsewhere in the texts
    links_inside_off: float = 0.0  # share of those of such a length: a model that miscounts links does it here too

    @property
    def ratio(self) -> float:
        """last_unknown / interior_unknown (inf when no interior word is unknown but some last word is)."""
        if self.interior_unknown == 0:
            return 0.0 if self.last_unknown == 0 else float("inf")
        return self.last_unknown / self.interior_unknown


class WordCheck:
    """The corpus's words and link lengths, and the check of a text against them."""

    def __init__(self, corpus: Iterable[str]) -> None:
        words: set[str] = set()
        url_lengths: list[int] = []
        url_shapes: set[tuple[str, int]] = set()
        for text in corpus:
            for url in URL.findall(text):
                url_lengths.append(len(url))
                url_shapes.add((site_of(url), len(url)))
            words.update(w.casefold() for w in WORD.findall(URL.sub(" ", text)))
        self.words = words
        self._sorted = sorted(words)
        self.url_shapes = url_shapes  # (scheme and host, length) of every corpus link
        self._sites = {site for site, _ in url_shapes}
        url_lengths.sort()
        # a link to a site the corpus never links to is cut when shorter than the shortest 5% of its links
        self.complete_url = url_lengths[len(url_lengths) // 20] if url_lengths else 0

    def link_complete(self, url: str) -> bool:
        """A corpus link of the same site has this length (any length, for a site the corpus never links to,
        at least :attr:`complete_url`)."""
        site = site_of(url)
        if site in self._sites:
            return (site, len(url)) in self.url_shapes
        return len(url) >= self.complete_url

    def known(self, word: str) -> bool:
        return word.casefold() in self.words

    def begins_a_word(self, word: str) -> bool:
        """True when ``word`` is the start of a longer corpus word (``yo`` of ``you``)."""
        w = word.casefold()
        i = bisect.bisect_right(self._sorted, w)
        return i < len(self._sorted) and self._sorted[i].startswith(w) and self._sorted[i] != w

    def check(self, text: str) -> Ending:
        stripped = text.rstrip()
        urls = list(URL.finditer(stripped))
        words = WORD.findall(URL.sub(" ", stripped))
        last_unknown = bool(words) and not self.known(words[-1])
        interior = words[:-1]
        interior_unknown = sum(not self.known(w) for w in interior)
        cut = False
        ends_in_link = bool(stripped and stripped == text and urls and urls[-1].end() == len(stripped))
        inside = urls[:-1] if ends_in_link else urls
        link_last_off = None
        if ends_in_link:  # (a text that ends in white space ended between words)
            link_last_off = cut = not self.link_complete(urls[-1].group())
        elif stripped and stripped == text and words and WORD.fullmatch(stripped[-1]) and stripped.endswith(words[-1]):
            cut = last_unknown and self.begins_a_word(words[-1])
        return Ending(last_unknown, len(interior), interior_unknown, cut, len(inside),
                      sum(not self.link_complete(u.group()) for u in inside), link_last_off)

    def stats(self, texts: Sequence[str]) -> EndingStats:
        checks = [self.check(t) for t in texts]
        n = max(1, len(checks))
        interior = sum(c.interior for c in checks)
        last_links = [c.link_last_off for c in checks if c.link_last_off is not None]
        inside = sum(c.links_inside for c in checks)
        return EndingStats(
            texts=len(checks),
            cut=sum(c.cut for c in checks) / n,
            last_unknown=sum(c.last_unknown for c in checks) / n,
            interior_unknown=sum(c.interior_unknown for c in checks) / max(1, interior),
            links_last=len(last_links),
            links_last_off=sum(last_links) / max(1, len(last_links)),
            links_inside=inside,
            links_inside_off=sum(c.links_inside_off for c in checks) / max(1, inside),
        )

