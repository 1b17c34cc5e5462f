"""Generation, one character at a time, from softmax(logits / T).

Stability: the distribution is computed as ``log_softmax(logits / T)`` so no raw
``exp`` can overflow, whatever T is; T == 0 means greedy (argmax). ``<pad>``, ``<bos>``
and ``<unk>`` are masked out before sampling, so they are never produced; ``<eos>``
ends the text and is not yielded.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch

from core.model import CharGRU
from core.scoring import bits_per_char  # noqa: F401 - re-exported: the score of a streamed text
from core.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, CharVocab

NEVER_SAMPLED = (PAD_ID, BOS_ID, UNK_ID)


@dataclass(frozen=True)
class SampleConfig:
    temperature: float = 1.0  # 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1.0 = off
    max_len: int = 140  # characters generated after the prime
    prime: str = ""
    seed: int | None = None
    length: int | None = None  # target length, prime included (length-aware models); None = drawn from the corpus's lengths

    def __post_init__(self) -> None:
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {self.max_len}")
        if self.length is not None and self.length < 1:
            raise ValueError(f"length must be at least 1, got {self.length}")


class SampledChar(NamedTuple):
    char: str
    prob: float  # the model's probability of this character (softmax at T=1)


def next_token_logprobs(logits: torch.Tensor, cfg: SampleConfig) -> torch.Tensor:
    """logits (B, V) -> log-probabilities (B, V) of the sampling distribution.

    Specials are removed, then temperature, top-k and top-p are applied. Always keeps
    at least the single most likely allowed token, so the result is never all ``-inf``.
    """
    # NaN/inf logits (from finite but enormous weights) become usable numbers, then the
    # best allowed logit is shifted to 0: dividing by any temperature, however tiny, can
    # then give only values <= 0 and -inf, never inf - inf = NaN.
    logits = torch.nan_to_num(logits.float(), nan=-math.inf, posinf=torch.finfo(torch.float32).max, neginf=-math.inf)
    logits[:, list(NEVER_SAMPLED)] = -math.inf
    best = logits.max(dim=-1, keepdim=True).values  # (B, 1)
    dead = ~torch.isfinite(best)  # a row with no usable logit: sample uniformly over the allowed tokens
    if bool(dead.any()):
        allowed = torch.ones_like(logits, dtype=torch.bool)
        allowed[:, list(NEVER_SAMPLED)] = False
        logits = torch.where(dead & allowed, torch.zeros_like(logits), logits)
        best = torch.where(dead, torch.zeros_like(best), best)
    logits = logits - best
    if cfg.temperature > 0:
        logits = logits / max(cfg.temperature, 1e-30)  # below 1e-30 is greedy in all but name
    logp = torch.log_softmax(logits, dim=-1)  # (B, V)
    if cfg.top_k and cfg.top_k < logp.shape[-1]:
        kth = torch.topk(logp, cfg.top_k, dim=-1).values[:, -1:]  # (B, 1)
        logp = logp.masked_fill(logp < kth, -math.inf)
    if cfg.top_p < 1.0:
        sorted_lp, order = torch.sort(logp, dim=-1, descending=True)  # (B, V)
        cum = torch.cumsum(sorted_lp.exp(), dim=-1)
        drop_sorted = (cum - sorted_lp.exp()) >= cfg.top_p  # mass before this token already enough
        drop_sorted[:, 0] = False
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logp = logp.masked_fill(drop, -math.inf)
    return torch.log_softmax(logp, dim=-1)


def _choose(logp: torch.Tensor, cfg: SampleConfig, gen: torch.Generator) -> torch.Tensor:
    """logp (B, V) -> chosen ids (B,)."""
    if cfg.temperature == 0:
        return logp.argmax(dim=-1)
    return torch.multinomial(logp.exp(), 1, generator=gen)[:, 0]


def inverse_cdf(weights: Sequence[float], u: float) -> int:
    """The index drawn by ``u`` in [0, 1) from non-negative ``weights`` (not all zero).

    Index i is returned for u * total in [cum[i-1], cum[i]): a zero weight is never drawn.
    """
    cum = list(itertools.accumulate(weights))
    i = bisect.bisect_right(cum, u * cum[-1])
    if i < len(cum):
        return i
    return max(j for j, w in enumerate(weights) if w > 0)  # u * total rounded up to the total


def _next_plain(logits: torch.Tensor, banned: torch.Tensor, temperature: float, gen: torch.Generator) -> int | None:
    """The single-stream fast path of ``next_token_logprobs`` + ``_choose`` (no top-k/top-p).

    logits (V,). Same distribution, softmax((logits - max) / T) over the allowed tokens,
    in a third of the tensor operations: one row does not need batched kernels, and
    ``torch.multinomial`` alone validated its input for longer than this whole draw.
    Returns None for a row without a usable logit (the general path handles it).
    """
    x = torch.nan_to_num(logits.float(), nan=-math.inf, posinf=torch.finfo(torch.float32).max, neginf=-math.inf)
    x.masked_fill_(banned, -math.inf)
    best = float(x.max())
    if not math.isfinite(best):
        return None
    if temperature == 0:
        return int(x.argmax())
    weights = x.sub_(best).div_(max(temperature, 1e-30)).exp_().tolist()  # the best allowed token weighs 1.0
    return inverse_cdf(weights, float(torch.rand((), generator=gen, device=gen.device)))


def _generator(seed: int | None, device: torch.device) -> torch.Generator:
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    return gen


def target_lengths(model: CharGRU, cfg: SampleConfig, n: int, gen: torch.Generator) -> torch.Tensor | None:
    """(n,) target lengths for a length-aware model, else None.

    ``cfg.length`` when given (raised to the prime's length if shorter), else drawn from
    the model's corpus length counts, among lengths at least as long as the prime (at
    temperature 0, the most common of them).
    """
    if not model.length_aware:
        return None
    device = next(model.parameters()).device
    floor = max(1, len(cfg.prime))
    if cfg.length is not None:
        return torch.full((n,), max(cfg.length, floor), dtype=torch.long, device=device)
    weights = model.length_probs(floor).tolist()
    if cfg.temperature == 0:  # greedy stays deterministic: the most common length
        return torch.full((n,), max(range(len(weights)), key=weights.__getitem__), dtype=torch.long, device=device)
    draws = torch.rand(n, generator=gen, device=gen.device).tolist()
    return torch.tensor([inverse_cdf(weights, u) for u in draws], dtype=torch.long, device=device)


def _prime(
    model: CharGRU, vocab: CharVocab, prime: str, n: int, lengths: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Feed ``<bos>`` + prime; returns the next-char logits (n, V) and hidden (L, n, H).

    ``lengths`` (n,): the target lengths of a length-aware model; input position t
    (``<bos>`` is 0) then carries ``length - t`` characters remaining.
    """
    device = next(model.parameters()).device
    ids = torch.tensor(vocab.encode(prime, eos=False), device=device).expand(n, -1)  # (n, 1 + len(prime))
    remaining = None
    if lengths is not None:
        remaining = lengths[:, None] - torch.arange(ids.shape[1], device=device)[None, :]  # (n, 1 + len(prime))
    with torch.no_grad():
        logits, hidden = model(ids, None, remaining)  # (n, T, V)
    return logits[:, -1], hidden


def _tokens(model: CharGRU, vocab: CharVocab, cfg: SampleConfig) -> Iterator[tuple[int, float]]:
    """(token id, its probability at T=1) one by one, ``<eos>`` included when drawn; at most ``cfg.max_len`` characters."""
    model.eval()
    device = next(model.parameters()).device
    gen = _generator(cfg.seed, device)
    # Inference mode is entered per step, never held across a yield: it is a thread-wide setting, and
    # streams interleaved in one thread (the app's sweep writes five, a character of each in turn) would
    # otherwise leave it on or off for each other. The first stream to end switched it off under the
    # others, whose next in-place fill_ then raised "Inplace update to inference tensor outside InferenceMode".
    with torch.inference_mode():
        lengths = target_lengths(model, cfg, 1, gen)  # (1,) or None
        logits, hidden = _prime(model, vocab, cfg.prime, 1, lengths)
        step = model.stepper()  # one fast GRU step per character (same function as model.step)
        plain = cfg.top_k == 0 and cfg.top_p >= 1.0
        banned = torch.zeros(logits.shape[-1], dtype=torch.bool, device=device)  # (V,)
        banned[list(NEVER_SAMPLED)] = True
        fed = torch.zeros(1, dtype=torch.long, device=device)  # (1,): the id fed back in, refilled each step
        left = None if lengths is None else lengths - len(cfg.prime)  # (1,): remaining before the next character
    for i in range(cfg.max_len):
        with torch.inference_mode():
            if i:
                if left is not None:
                    left = left - 1
                logits, hidden = step(fed.fill_(token), hidden, left)
            token = _next_plain(logits[0], banned, cfg.temperature, gen) if plain else None
            if token is None:
                token = int(_choose(next_token_logprobs(logits, cfg), cfg, gen))
            prob = float(torch.softmax(torch.nan_to_num(logits[0].float()), dim=-1)[token])
        yield token, prob
        if token == EOS_ID:
            return


def stream(model: CharGRU, vocab: CharVocab, cfg: SampleConfig = SampleConfig()) -> Iterator[SampledChar]:
    """Yield generated characters one by one until ``<eos>`` or ``cfg.max_len``.

    Stop iterating to cancel: no work is done ahead of the consumer.
    """
    for token, prob in _tokens(model, vocab, cfg):
        if token == EOS_ID:
            return
        yield SampledChar(vocab.token(token), prob)


def stream_scored(model: CharGRU, vocab: CharVocab, cfg: SampleConfig = SampleConfig()) -> Iterator[SampledChar]:
    """:func:`stream`'s characters, then, when the model ended the text, one more ``SampledChar("", p)``:
    the ``<eos>`` with its probability at T=1. What :func:`write` scores, for a caller that shows
    the characters as they come and scores the text once it ends (:func:`bits_per_char`)."""
    for token, prob in _tokens(model, vocab, cfg):
        yield SampledChar("" if token == EOS_ID else vocab.token(token), prob)


@dataclass(frozen=True)
class Written:
    """One finished text and what the model thought of it.

    ``ended``: the model chose ``<eos>`` (False: cut at ``max_len``). ``bits_per_char``:
    -log2 of the model's own probability (at T=1, whatever T sampled it) of each written
    character and of the ``<eos>`` when it ended, averaged: how surprising the text is to
    the model that wrote it. ``chars`` keeps each character's probability.
    """

    text: str  # prime included
    ended: bool
    bits_per_char: float
    chars: tuple[SampledChar, ...]


def write(model: CharGRU, vocab: CharVocab, cfg: SampleConfig = SampleConfig()) -> Written:
    """One text as :func:`stream` writes it (the same characters for the same seed), with its score."""
    chars: list[SampledChar] = []
    bits = 0.0
    ended = False
    for token, prob in _tokens(model, vocab, cfg):
        bits -= math.log2(max(prob, 1e-300))
        if token == EOS_ID:
            ended = True
            break
        chars.append(SampledChar(vocab.token(token), prob))
    scored = len(chars) + ended
    return Written(cfg.prime + "".join(c.char for c in chars), ended, bits / scored if scored else 0.0, tuple(chars))


def sample(model: CharGRU, vocab: CharVocab, cfg: SampleConfig = SampleConfig()) -> str:
    """One whole text, prime included."""
    return cfg.prime + "".join(c.char for c in stream(model, vocab, cfg))


def sample_batch(model: CharGRU, vocab: CharVocab, n: int, cfg: SampleConfig = SampleConfig()) -> list[str]:
    """``n`` texts generated side by side in one batch (prime included)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    model.eval()
    device = next(model.parameters()).device
    gen = _generator(cfg.seed, device)
    out = torch.full((n, cfg.max_len), PAD_ID, dtype=torch.long, device=device)  # (n, max_len)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    with torch.inference_mode():
        lengths = target_lengths(model, cfg, n, gen)  # (n,) or None
        logits, hidden = _prime(model, vocab, cfg.prime, n, lengths)
        step = model.stepper()
        for t in range(cfg.max_len):
            idx = _choose(next_token_logprobs(logits, cfg), cfg, gen)  # (n,)
            idx = idx.masked_fill(done, PAD_ID)
            out[:, t] = idx
            done |= idx == EOS_ID
            if bool(done.all()):
                break
            left = None if lengths is None else lengths - len(cfg.prime) - (t + 1)  # (n,)
            logits, hidden = step(idx, hidden, left)
    return [cfg.prime + vocab.decode(row.tolist()) for row in out.cpu()]


def with_seed(cfg: SampleConfig, seed: int | None) -> SampleConfig:
    return replace(cfg, seed=seed)
