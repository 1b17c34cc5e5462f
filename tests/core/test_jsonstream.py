"""core.data.jsonstream: JSON arrays a value at a time give what json.loads gives, however the text is chunked."""

from __future__ import annotations

import json
import random

import pytest

from core.data.jsonstream import JsonStream, StreamDecodeError, iter_top_level


def _random_value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.choice(["str", "int", "float", "lit", "list", "dict"] if depth < 3 else ["str", "int", "lit"])
    if kind == "str":
        return "".join(rng.choice('ab "\\\n\u00e9\u2026\U0001f600/') for _ in range(rng.randint(0, 12)))
    if kind == "int":
        return rng.randint(-10**20, 10**20)
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "lit":
        return rng.choice([True, False, None])
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}


def _chunks(text: str, rng: random.Random) -> list[str]:
    out, i = [], 0
    while i < len(text):
        n = rng.choice([1, 2, 3, 7, 50, 4096])
        out.append(text[i : i + n])
        i += n
    return out


def _parse(chunks: list[str]) -> list[object]:
    return [value for _, value in iter_top_level(JsonStream(chunks))]


@pytest.mark.parametrize("seed", range(5))
def test_valid_arrays_equal_json_loads_at_any_chunking(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        values = [_random_value(rng) for _ in range(rng.randint(0, 8))]
        text = json.dumps(values, indent=rng.choice([None, 1, 4]), ensure_ascii=rng.random() < 0.5)
        text = " " * rng.randint(0, 3) + text + "\n" * rng.randint(0, 2)
        assert _parse(_chunks(text, rng)) == json.loads(text)


@pytest.mark.parametrize("text", ['[1, 2', '[{"a": 1}, {"a": tru}]', '[1,]', '[1 2]', '["cut', '[1] x', '{"a": [1, 2}',
                                  '[\n  {"a": "\\q"}\n]', '[12345678901234567890', '["x\ny"]', '[1, 2, 3]]'])
def test_invalid_json_gives_the_same_error_however_chunked(text: str) -> None:
    errors = set()
    for seed in range(20):
        with pytest.raises(StreamDecodeError) as info:
            _parse(_chunks(text, random.Random(seed)))
        errors.add((info.value.msg, info.value.lineno, info.value.colno))
    with pytest.raises(StreamDecodeError) as whole:
        _parse([text])
    assert errors == {(whole.value.msg, whole.value.lineno, whole.value.colno)}


def test_whitespace_between_elements_is_dropped_as_it_is_skipped() -> None:
    """A chunk of spaces at a time: the buffer never holds more than a chunk and an element."""
    pad = " " * 1000
    chunks = ["[", *[pad] * 500, '{"a": 1}', ",", *[pad] * 500, '{"a": 2}', *[pad] * 500, "]"]
    stream = JsonStream(chunks)
    seen = []
    longest = 0
    for _, value in iter_top_level(stream):
        seen.append(value)
        longest = max(longest, len(stream.buf))
    assert seen == [{"a": 1}, {"a": 2}] and longest <= 2 * 1000 + 10
