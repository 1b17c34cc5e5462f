"""Links a sampler finishes: the lengths each fixed-length link site has in the corpus.

Why: a character model has to count the characters of a link's id, and a small one
miscounts. On the 10-minute dev model (issue 17) a quarter of the links that ended a
text were a character or two short of any t.co link in the corpus (`https://t.co/` takes
10 characters, never 9), against none in held-out tweets: the text ended before its link
did, and reads as cut. Shorteners write every link of a site at one or a few lengths, so
the corpus says where such a link can end; :func:`unfinished` tells the sampler not to end
the text (or the link, with white space) before that. Sites whose links have many lengths
(paths of any length) are not kept: any length of theirs may be whole.

A table is ``((site, (length, ...)), ...)``, site = scheme and host case-folded
(``https://t.co``), length = the whole link's characters; it is stored in the model's
config (``ModelConfig.link_lengths``) so it travels with every checkpoint.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

URL = re.compile(r"(?:https?://|www\.)\S*", re.IGNORECASE)
SCHEMES = ("http://", "https://")

MIN_LINKS = 20  # a site needs this many links in the corpus to be judged at all
FIXED_SHARE = 0.95  # ...and this share of them at its (at most) MAX_LENGTHS commonest lengths
MAX_LENGTHS = 3
MIN_LENGTH_SHARE = 0.01  # a length kept for a fixed site: at least this share of its links
MAX_SITES = 32

LinkTable = tuple[tuple[str, tuple[int, ...]], ...]


def site_of(url: str) -> str:
    """A link's scheme and host, case-folded (``https://t.co`` of ``https://t.co/AbC``): what its length depends on."""
    scheme, sep, rest = url.partition("://")
    host = (rest if sep else url).split("/", 1)[0]
    return f"{scheme}://{host}".casefold() if sep else host.casefold()


def link_lengths(texts: Iterable[str]) -> LinkTable:
    """The fixed-length sites of ``texts`` and the lengths their links have (the most linked sites first)."""
    by_site: dict[str, Counter[int]] = defaultdict(Counter)
    for text in texts:
        for url in URL.findall(text):
            by_site[site_of(url)][len(url)] += 1
    table: list[tuple[int, str, tuple[int, ...]]] = []
    for site, counts in by_site.items():
        n = sum(counts.values())
        if "://" not in site or n < MIN_LINKS:
            continue
        common = counts.most_common(MAX_LENGTHS)
        if sum(c for _, c in common) < FIXED_SHARE * n:
            continue  # links of many lengths: any may be whole
        table.append((n, site, tuple(sorted(length for length, c in common if c >= MIN_LENGTH_SHARE * n))))
    table.sort(key=lambda row: (-row[0], row[1]))
    return tuple((site, lengths) for _, site, lengths in table[:MAX_SITES])


def table_from(stored: object) -> LinkTable:
    """A table as a checkpoint stores it (lists or tuples), checked; raises ValueError on anything else."""
    if stored is None:
        return ()
    rows = []
    for row in stored if isinstance(stored, (list, tuple)) else [stored]:
        if not (isinstance(row, (list, tuple)) and len(row) == 2 and isinstance(row[0], str)
                and isinstance(row[1], (list, tuple)) and all(isinstance(n, int) and 0 < n for n in row[1])):
            raise ValueError(f"link_lengths must be (site, (length, ...)) pairs, got {row!r}")
        rows.append((row[0], tuple(int(n) for n in row[1])))
    return tuple(rows)


def unfinished(word: str, table: LinkTable) -> bool:
    """True when ``word`` (the characters since the last white space) is a link of a site of ``table``, or
    the beginning of one, that is shorter than its site's links and of no length they have: ending it here
    would leave the link cut."""
    if not table or not word[:1] in "hH":
        return False
    folded = word.casefold()
    for site, lengths in table:
        head = site + "/"
        if len(folded) < len(head):
            if head.startswith(folded) and len(folded) >= len("http"):
                return True  # still writing the scheme or host of a site links are finished for
            continue
        if folded.startswith(head):
            return len(word) < max(lengths) and len(word) not in lengths
    return False
