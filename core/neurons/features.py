"""Per-character features of a text, for finding the hidden units that track them (:mod:`core.neurons.finder`).

A small deterministic tokenizer (regular expressions and one left-to-right pass; no
model, no locale). Every feature has one value per character of the text, aligned with
the hidden state *after the model has read that character*:

- ``remaining``: characters still to come after this one (``len(text) - i - 1``);
- ``position``: characters read so far, this one included (``i + 1``);
- ``url``: inside a link. The scheme (``http://``, ``https://``, ``www.``) is the trigger
  and is masked; the rest of the link, up to white space, is 1 (trailing ``.,;:!?)``
  and closing quotes are left out: they end the sentence, not the link);
- ``mention``: the name after an ``@`` (``@name``; not an e-mail address); every ``@`` masked;
- ``hashtag``: the word after a ``#``; every ``#`` masked;
- ``quote``: between an opening and its closing quote. Straight ``"`` toggles (closes the
  innermost straight quote, else opens one), curly and guillemet pairs nest (“ ” « »),
  so ``“he said "no" twice”`` is inside throughout; an unclosed quote stays open to the
  end (what a reader reading left to right believes). Every quote character is masked;
- ``after_sentence``: white space right after a sentence end (``.`` ``!`` ``?`` ``…`` and the CJK
  ``。！？``), against all other white space; every other character is masked;
- ``upper``: an uppercase letter inside a run of all-caps words (two or more cased letters,
  all uppercase; a one-letter "A"/"I" between two caps words joins the run), against the
  uppercase letters outside runs (a capital starting a word, a lone "I"); every other
  character, and the run's first letter (alone it is any capital), is masked.

Binary features are 0.0/1.0 with masked characters NaN: a unit that merely fires on the
trigger character itself (``@``, ``#``, ``"``) is then neither rewarded nor punished. For
the last two features the current character alone would nearly give the answer (a space
after a full stop; an uppercase letter is mostly in a caps run), so they are scored only
among characters of one kind: what separates positives from negatives is then context.
Binary features are 0.0/1.0 with masked characters NaN: a unit that merely fires on the
trigger character itself (``@``, ``#``, ``"``) is then neither rewarded nor punished.
Characters inside a link are never read as a mention, hashtag, quote or sentence end.
"""

from __future__ import annotations

import math
import re

NAN = math.nan

FEATURES: dict[str, str] = {
    "remaining": "chars remaining",
    "position": "position",
    "url": "inside URL",
    "mention": "inside @mention",
    "hashtag": "inside #hashtag",
    "quote": "inside quotes",
    "after_sentence": "after a sentence end",
    "upper": "in an uppercase run",
}
CONTINUOUS: tuple[str, ...] = ("remaining", "position")
BINARY: tuple[str, ...] = tuple(f for f in FEATURES if f not in CONTINUOUS)

_URL = re.compile(r"(?:https?://|www\.)\S*", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}\"'\u201d\u2019\u00bb"
_MENTION = re.compile(r"(?<![\w@])@(\w+)")
_HASHTAG = re.compile(r"(?<![\w#&])#(\w+)")
_WORD = re.compile(r"[^\W\d_]+")  # letters only (any script)
_OPEN_CLOSE = {"\u201c": "\u201d", "\u00ab": "\u00bb"}  # “ ” and « »
_CLOSERS = {v: k for k, v in _OPEN_CLOSE.items()}
QUOTE_CHARS = frozenset('"') | frozenset(_OPEN_CLOSE) | frozenset(_CLOSERS)
SENTENCE_ENDS = frozenset(".!?\u2026\u3002\uff01\uff1f")


def _url_spans(text: str) -> list[tuple[int, int, int]]:
    """(start, end of the scheme, end) of each link."""
    spans = []
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in _URL_TRAILING:
            end -= 1
        scheme = m.start() + (m.group(0).find("//") + 2 if "//" in m.group(0)[:8] else 4)  # after "://" or "www."
        if end > m.start():
            spans.append((m.start(), min(scheme, end), end))
    return spans


def _caps(word: str) -> bool:
    return len(word) >= 2 and word.upper() == word and word.lower() != word


def _upper_runs(text: str, out: list[float], in_url: list[bool]) -> None:
    words = [m for m in _WORD.finditer(text) if not in_url[m.start()]]
    run: list[re.Match[str]] = []

    def close() -> None:
        while run and not _caps(run[-1].group(0)):  # a run ends on a caps word, not on a trailing "A"
            run.pop()
        if run:
            start, end = run[0].start(), run[-1].end()
            out[start] = NAN  # the run's first letter: alone it is any capital
            for i in range(start + 1, end):
                if text[i].isupper():
                    out[i] = 1.0
        run.clear()

    for m in words:
        w = m.group(0)
        if _caps(w):
            run.append(m)
        elif run and len(w) == 1 and w.isupper():  # "A" / "I" inside a caps run
            run.append(m)
        else:
            close()
    close()


def char_features(text: str) -> dict[str, list[float]]:
    """One value per character of ``text`` for each of :data:`FEATURES` (in its order); see the module doc."""
    n = len(text)
    feats: dict[str, list[float]] = {
        "remaining": [float(n - i - 1) for i in range(n)],
        "position": [float(i + 1) for i in range(n)],
    }
    for name in BINARY:
        feats[name] = [0.0] * n
    in_url = [False] * n
    url = feats["url"]
    for start, scheme, end in _url_spans(text):
        for i in range(start, end):
            in_url[i] = True
            url[i] = NAN if i < scheme else 1.0

    for name, pattern, trigger in (("mention", _MENTION, "@"), ("hashtag", _HASHTAG, "#")):
        values = feats[name]
        for i, ch in enumerate(text):
            if ch == trigger:
                values[i] = NAN
        for m in pattern.finditer(text):
            if in_url[m.start()]:
                continue
            for i in range(m.start(1), m.end(1)):
                values[i] = 1.0

    quote, stack = feats["quote"], []
    for i, ch in enumerate(text):
        if in_url[i]:
            quote[i] = 1.0 if stack else 0.0
            continue
        if ch in QUOTE_CHARS:
            quote[i] = NAN
            if ch == '"':
                if stack and stack[-1] == '"':
                    stack.pop()
                else:
                    stack.append('"')
            elif ch in _OPEN_CLOSE:
                stack.append(ch)
            elif stack and stack[-1] == _CLOSERS[ch]:
                stack.pop()
            elif _CLOSERS[ch] in stack:  # a closer that skips an unclosed straight quote closes both
                while stack and stack.pop() != _CLOSERS[ch]:
                    pass
            continue
        quote[i] = 1.0 if stack else 0.0

    after = feats["after_sentence"]
    ended = False  # only white space since the last sentence end
    for i, ch in enumerate(text):
        if ch.isspace() and not in_url[i]:
            after[i] = 1.0 if ended else 0.0
        else:
            after[i] = NAN  # only white space is scored: the current character cannot tell
            ended = ch in SENTENCE_ENDS and not in_url[i]
        if not ch.isspace() and ch not in SENTENCE_ENDS:
            ended = False

    upper = feats["upper"]
    for i, ch in enumerate(text):
        if not ch.isupper():
            upper[i] = NAN  # only uppercase letters are scored: the current character cannot tell
    _upper_runs(text, upper, in_url)
    return feats
