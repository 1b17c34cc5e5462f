"""Character vocabulary with fixed-id special tokens.

Characters are sorted by code point so the same corpus always gives the same ids
(a vocabulary built from ``set()`` iteration order would change between runs and
silently scramble a checkpoint). The vocabulary is stored inside every checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS: tuple[str, ...] = (PAD, BOS, EOS, UNK)
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
N_SPECIALS = len(SPECIALS)


@dataclass(frozen=True)
class CharVocab:
    """Maps characters to ids. Ids 0-3 are the specials; characters follow in code-point order."""

    chars: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("vocabulary characters must be unique")
        if any(len(c) != 1 for c in self.chars):
            raise ValueError("vocabulary entries must be single characters")
        index = {c: i + N_SPECIALS for i, c in enumerate(self.chars)}
        object.__setattr__(self, "_index", index)

    @classmethod
    def build(cls, texts: Iterable[str]) -> CharVocab:
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        return cls(tuple(sorted(seen)))

    def __len__(self) -> int:
        return N_SPECIALS + len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._index

    def id_of(self, char: str) -> int:
        return self._index.get(char, UNK_ID)

    def encode(self, text: str, *, bos: bool = True, eos: bool = True) -> list[int]:
        """Text -> ids; unseen characters become ``<unk>``."""
        ids = [self._index.get(c, UNK_ID) for c in text]
        if bos:
            ids.insert(0, BOS_ID)
        if eos:
            ids.append(EOS_ID)
        return ids

    def token(self, idx: int) -> str:
        """The string for one id; specials come back as their ``<name>``."""
        if idx < N_SPECIALS:
            return SPECIALS[idx]
        return self.chars[idx - N_SPECIALS]

    def decode(self, ids: Sequence[int], *, stop_at_eos: bool = True) -> str:
        """Ids -> text. Specials are dropped (``<unk>`` becomes U+FFFD); stops at ``<eos>``."""
        out: list[str] = []
        for idx in ids:
            idx = int(idx)
            if idx == EOS_ID and stop_at_eos:
                break
            if idx == UNK_ID:
                out.append("\ufffd")
            elif idx >= N_SPECIALS:
                out.append(self.chars[idx - N_SPECIALS])
        return "".join(out)

    def to_dict(self) -> dict[str, object]:
        return {"specials": list(SPECIALS), "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, data: object) -> CharVocab:
        if not isinstance(data, dict) or not isinstance(data.get("chars"), str):
            raise ValueError("vocab must be a mapping with a 'chars' string")
        if list(data.get("specials", [])) != list(SPECIALS):
            raise ValueError(f"vocab specials {data.get('specials')!r} differ from {list(SPECIALS)!r}")
        return cls(tuple(data["chars"]))
