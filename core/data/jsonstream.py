"""JSON read a value at a time from text arriving in chunks, so memory follows the largest element, not the file.

``json`` has no incremental parser. :class:`JsonStream` keeps a buffer of the text not yet parsed and
takes one value at a time from it with :meth:`json.JSONDecoder.raw_decode`; a top-level array
(a ``.json`` list of tweets, the array of a ``tweets.js``) gives its elements one by one
(:func:`iter_top_level`), and whitespace between them is dropped as it is skipped. A 2 GB
``tweets.js`` of whitespace is held a chunk at a time; a real one, a tweet at a time.

A value the buffer holds only part of fails to decode; the buffer then grows to twice what that value
holds so far before the next try, so a large element costs time linear in its size. A decoding error is
final when it lies well inside the buffer (more text cannot change it), or at the end of the input;
so the error, and its line and column in the whole text, are the same however the text was chunked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

_WS = re.compile(r"[ \t\n\r]*")
_COMMA = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")  # between two elements: the common case, taken in one step
_DECODER = json.JSONDecoder()
_MARGIN = 16  # characters: past any token a cut-off buffer could end in (an escape, a literal)


class StreamDecodeError(ValueError):
    """Invalid JSON: ``msg``, and ``lineno``/``colno`` counted in the whole text, as :class:`json.JSONDecodeError` has them."""

    def __init__(self, msg: str, lineno: int, colno: int) -> None:
        super().__init__(f"{msg}: line {lineno} column {colno}")
        self.msg, self.lineno, self.colno = msg, lineno, colno


class JsonStream:
    """A cursor over text that arrives in chunks; what has been parsed is dropped."""

    def __init__(self, chunks: Iterable[str]) -> None:
        self._chunks = iter(chunks)
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._dropped = 0  # characters dropped before ``buf``
        self._lines = 0  # newlines among them
        self._last_nl = -1  # the absolute index of the last of them

    def _more(self, at_least: int = 1) -> None:
        """Drop what is parsed, then append chunks until ``at_least`` characters came or the text ended."""
        head = self.buf[: self.pos]
        newlines = head.count("\n")
        if newlines:
            self._lines += newlines
            self._last_nl = self._dropped + head.rfind("\n")
        self._dropped += self.pos
        parts = [self.buf[self.pos :]]
        got = 0
        while got < at_least:
            chunk = next(self._chunks, None)
            if chunk is None:
                self.eof = True
                break
            parts.append(chunk)
            got += len(chunk)
        self.buf = "".join(parts)
        self.pos = 0

    def skip_ws(self) -> bool:
        """Move past whitespace; False when the text ends first."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return True
            if self.eof:
                return False
            self._more()

    def peek(self) -> str:
        """The next character after whitespace, or "" at the end of the text."""
        return self.buf[self.pos] if self.skip_ws() else ""

    def skip_past(self, char: str) -> bool:
        """Move just past the next ``char``; False (the text all read and dropped) if there is none."""
        while True:
            i = self.buf.find(char, self.pos)
            if i >= 0:
                self.pos = i + 1
                return True
            self.pos = len(self.buf)
            if self.eof:
                return False
            self._more()

    def error(self, msg: str, pos: int | None = None) -> StreamDecodeError:
        """``msg`` at ``pos`` in the buffer (default: here), with its line and column in the whole text."""
        pos = self.pos if pos is None else pos
        newlines = self.buf.count("\n", 0, pos)
        last = self.buf.rfind("\n", 0, pos)
        last_nl = self._dropped + last if last >= 0 else self._last_nl
        return StreamDecodeError(msg, self._lines + newlines + 1, self._dropped + pos - last_nl)

    def value(self) -> object:
        """The JSON value at the cursor (after whitespace), reading on as far as it needs.

        Raises :class:`StreamDecodeError` on invalid JSON, and what ``json`` raises on JSON it
        cannot hold (``RecursionError`` for deep nesting, ``ValueError`` for a huge integer)."""
        self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
        if self.pos >= len(self.buf) and not self.skip_ws():
            raise self.error("Expecting value")
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                final = self.eof or (not exc.msg.startswith("Unterminated string") and exc.pos < len(self.buf) - _MARGIN)
                if final:
                    raise self.error(exc.msg, exc.pos) from None
                self._more(max(len(self.buf) - self.pos, 1))  # double what this value holds so far
                continue
            number = isinstance(obj, (int, float)) and not isinstance(obj, bool)
            if not self.eof and (end >= len(self.buf) or (number and end > len(self.buf) - _MARGIN)):
                # a value that ends where the buffer does, or a number near it ("12." + "5"), may go on in the next chunk
                self._more(max(len(self.buf) - self.pos, 1))
                continue
            self.pos = end
            return obj


def iter_top_level(stream: JsonStream, semicolons: bool = False) -> Iterator[tuple[bool, object]]:
    """The top-level value of the rest of the text: ``(True, element)`` for each element of an array,
    or one ``(False, value)`` for anything else. Only whitespace may follow it (and ";" with ``semicolons``,
    as a ``tweets.js`` may end)."""
    if stream.peek() != "[":
        value = stream.value()
        _expect_end(stream, semicolons)
        yield False, value
        return
    stream.pos += 1
    if stream.peek() == "]":
        stream.pos += 1
    else:
        while True:
            yield True, stream.value()
            comma = _COMMA.match(stream.buf, stream.pos)
            if comma is not None and comma.end() < len(stream.buf) and stream.buf[comma.end()] != "]":
                stream.pos = comma.end()
                continue
            c = stream.peek()
            if c == ",":
                stream.pos += 1
                if stream.peek() in ("]", ""):
                    raise stream.error("Expecting value")
                continue
            if c == "]":
                stream.pos += 1
                break
            raise stream.error("Expecting ',' delimiter")
    _expect_end(stream, semicolons)


def _expect_end(stream: JsonStream, semicolons: bool) -> None:
    while semicolons and stream.peek() == ";":
        stream.pos += 1
    if stream.peek():
        raise stream.error("Extra data")
