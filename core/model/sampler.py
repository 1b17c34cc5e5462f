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

from core import defaults
from core.model.gru import CharGRU
from core.model.links import LinkTable, unfinished
from core.model.scoring import bits_per_char  # noqa: F401 - re-exported: the score of a streamed text
from core.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, CharVocab

NEVER_SAMPLED = (PAD_ID, BOS_ID, UNK_ID)


@dataclass(frozen=True)
class SampleConfig:
    temperature: float = 1.0  # 0 = greedy
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1.0 = off
    max_len: int = defaults.SAMPLE_MAX_LEN  # characters generated after the prime (a hard cut; default_max_len(model) suits the model)
    prime: str = ""
    seed: int | None = None
    length: int | None = None  # target length, prime included; None = drawn from the corpus's lengths (see end_weight)
    # Each streamed SampledChar also carries ``state``: the last layer's hidden state (H,) after the model has
    # read that character (what core.neurons.activations gives for the text), for colouring a live stream by a
    # unit. Off: nothing is copied and the step order is unchanged.
    keep_state: bool = False

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
    state: torch.Tensor | None = None  # (H,) with SampleConfig.keep_state: the last layer's state after reading char


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


LENGTH_TOLERANCE = 0.1  # a target length N is met within N +- 10%
RISE = 4.0  # across the window of a --length the weight of a break rises from 1 to e^4 (x55)...
OVERSHOOT = 2.0  # ...and past it by e^2 with every character, so the next break ends the text
BREAK_GATE = 0.2  # a break counts only where the model expects one this much (not mid-word, not mid-link)
# The model's own <eos> counts only where it gives it at least this (at T=1). Below it an <eos> is the tail of
# the distribution, not a choice: the 10-minute dev model's own ends lie at p >= 0.1 but for one in 200 texts
# at T=1.0, drawn at p = 1.5e-5 mid-word ("...have actremely misrepre"); 2 in 600 held-out tweets end where it
# gives less than this (bench/RESULTS.md, issue 17). Ends through a break (end_weight) are not affected.
EOS_FLOOR = 1e-3
FINAL_MARKS = frozenset("!?\u2026\u3002\uff01\uff1f")  # ! ? ... and the CJK full stop, !, ?: a text may end right after one


def length_window(target: int) -> tuple[int, int]:
    """(shortest, longest) length that counts as ``target`` +- 10% (at least +-1 character)."""
    tol = max(1, round(LENGTH_TOLERANCE * target))
    return max(1, target - tol), target + tol


def end_weight(written: int, target: int | None, longest: int = 0, *, asked: bool = True) -> float | None:
    """How much of the model's break probability becomes ``<eos>`` when ``written`` characters are on the page.

    None: ``<eos>`` is banned. How a model without a length input is steered to a length
    while still ending where a writer would. Forcing ``<eos>`` at a count (what a length
    input learns) cut the last word (issue 17). Instead the sampler lets the text end where
    the model itself expects a break: ``<eos>`` takes ``p(eos) + w * p(break)``, p(break)
    being the model's probability of white space next (1 right after a final ``!``/``?``/
    ``。``, so scripts without spaces end after a sentence), counted only where it is at
    least :data:`BREAK_GATE`. After a word or a complete link p(break) is large, so the
    text ends there; mid-word and mid-link it is small, so nothing is cut. p(eos), the
    model's own, counts only where it is at least :data:`EOS_FLOOR` (:class:`_Steer`).

    ``asked`` (``--length N``, a promise of N +- 10%): banned below N - 10%, then w rises
    from 1 to e^4 across the window, and by e^2 a character after it. A target drawn from
    the corpus's lengths (``asked=False``) only has to make the lengths corpus-like, so it
    leans less: w is e^-3 at N - 10%, 1 at N, e^3 at N + 10%, then the same rise. Without
    a target (a tweetgen 0.1 model has no length counts): 0, the model's own ``<eos>``,
    until the longest text it was trained on (``longest``; 0 = unknown), then that rise.
    """
    if target is not None:
        low, high = length_window(target)
        if written < low:
            return None
        if asked:
            return math.exp(RISE * min(1.0, (written - low) / max(1, high - low)) + OVERSHOOT * max(0, written - high))
        if written <= target:
            return math.exp(-3.0 * (target - written) / max(1, target - low))
        return math.exp(3.0 * min(1.0, (written - target) / max(1, high - target)) + OVERSHOOT * max(0, written - high))
    if longest and written > longest:
        return math.exp(RISE + OVERSHOOT * (written - longest))
    return 0.0


def longest_trained(model: CharGRU) -> int:
    """The longest training text's length, from the model's length counts (0 when it has none)."""
    if not model.config.max_length:
        return 0
    seen = torch.nonzero(model.length_prior.detach() > 0)
    return int(seen.max()) if seen.numel() else 0


def default_max_len(model: CharGRU, length: int | None = None) -> int:
    """The hard cut for a sample: a quarter past the longest training text (or the target), at least ``defaults.SAMPLE_MAX_LEN``."""
    base = max(longest_trained(model), length or 0) or defaults.SAMPLE_MAX_LEN
    return max(defaults.SAMPLE_MAX_LEN, base + max(1, base // 4))


def break_ids(vocab: CharVocab) -> list[int]:
    """Ids of white-space characters (any script): a text may end where the model expects one next."""
    return [i for i in range(UNK_ID + 1, len(vocab)) if vocab.token(i).isspace()]


def final_ids(vocab: CharVocab) -> list[int]:
    """Ids of :data:`FINAL_MARKS`: right after one, a text may end."""
    return [i for i in range(UNK_ID + 1, len(vocab)) if vocab.token(i) in FINAL_MARKS]


class _Steer:
    """Moves part of each stream's break probability to ``<eos>`` (:func:`end_weight`), and takes the model's
    own ``<eos>`` away where it is below :data:`EOS_FLOOR`."""

    def __init__(self, vocab: CharVocab, targets: list[int | None], longest: int, device: torch.device, *, asked: bool) -> None:
        self.targets, self.longest, self.asked = targets, longest, asked
        self.breaks = torch.tensor(break_ids(vocab), dtype=torch.long, device=device)
        self.finals = torch.tensor(final_ids(vocab), dtype=torch.long, device=device)

    def __call__(self, logits: torch.Tensor, written: int, last: torch.Tensor) -> torch.Tensor:
        """logits (B, V), last (B,) ids just written -> log-weights (B, V) to choose from.

        The model's own logits still score the text; these only choose it."""
        weights = [end_weight(written, t, self.longest, asked=self.asked) for t in self.targets]
        logp = torch.log_softmax(torch.nan_to_num(logits.float(), nan=-math.inf), dim=-1)  # (B, V) at T=1
        if EOS_FLOOR > 0:  # the model's own <eos> where it is only the tail of the distribution: never drawn
            logp[:, EOS_ID] = logp[:, EOS_ID].masked_fill(logp[:, EOS_ID] < math.log(EOS_FLOOR), -math.inf)
        if all(x == 0.0 for x in weights):
            return logp
        w = torch.tensor([0.0 if x is None else x for x in weights], device=logits.device)  # (B,)
        p_break = logp.index_select(-1, self.breaks).exp().sum(-1) if self.breaks.numel() else torch.zeros_like(w)  # (B,)
        if self.finals.numel():
            p_break = torch.where(torch.isin(last, self.finals), torch.ones_like(p_break), p_break)
        w = torch.where(p_break < BREAK_GATE, torch.zeros_like(w), w)
        eos = torch.logaddexp(logp[:, EOS_ID], torch.log(w * p_break))  # (B,): p(eos) + w * p(break)
        banned = torch.tensor([x is None for x in weights], device=logits.device)  # (B,)
        logp[:, EOS_ID] = eos.masked_fill(banned, -math.inf)
        return logp


class _LinkGuard:
    """Keeps each stream from ending (``<eos>``) or leaving (white space) a link it has not finished.

    A link of a fixed-length site (``https://t.co/`` + 10) that stops short reads as cut; the model's
    config carries the lengths its corpus's links have (:mod:`core.model.links`), and while a stream's
    current word is such a link, shorter than any of them, those two choices are taken away. A model
    trained before the table existed has none, and nothing changes for it.
    """

    def __init__(self, vocab: CharVocab, table: LinkTable, prime: str, n: int, device: torch.device) -> None:
        self.vocab, self.table = vocab, table
        self.ends = torch.tensor([EOS_ID, *break_ids(vocab)], dtype=torch.long, device=device)
        last = prime.split()[-1] if prime and not prime[-1].isspace() else ""
        self.words = [last] * n  # each stream's characters since its last white space

    def __call__(self, pick: torch.Tensor) -> torch.Tensor:
        """pick (B, V) log-weights -> the same with ``<eos>`` and white space at -inf for the streams inside an unfinished link."""
        if not self.table:
            return pick
        rows = [i for i, w in enumerate(self.words) if unfinished(w, self.table)]
        if not rows:
            return pick
        pick = pick.clone()
        pick[torch.tensor(rows, device=pick.device)[:, None], self.ends[None, :]] = -math.inf
        return pick

    def wrote(self, ids: Sequence[int]) -> None:
        """Each stream's newly written token id (ids beyond the streams that are done are ignored by the caller)."""
        if not self.table:
            return
        for i, token in enumerate(ids):
            ch = self.vocab.token(token) if token > UNK_ID else ""
            self.words[i] = "" if not ch or ch.isspace() else self.words[i] + ch


def _generator(seed: int | None, device: torch.device) -> torch.Generator:
    gen = torch.Generator(device=device)
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    return gen


def target_lengths(model: CharGRU, cfg: SampleConfig, n: int, gen: torch.Generator) -> torch.Tensor | None:
    """(n,) target lengths, or None for a model without length counts and no ``cfg.length``.

    ``cfg.length`` when given (raised to the prime's length if shorter), else drawn from
    the model's corpus length counts, among lengths at least as long as the prime (at
    temperature 0, the most common of them). A model with a length input is told them;
    the others are steered to them (:func:`end_weight`).
    """
    if not model.config.max_length and cfg.length is None:
        return None
    device = next(model.parameters()).device
    floor = max(1, len(cfg.prime))
    if cfg.length is not None:
        return torch.full((n,), max(cfg.length, floor), dtype=torch.long, device=device)
    if not model.length_aware and not float(model.length_prior.sum()):
        return None  # counts never filled in (a model built outside a trainer): no target to steer to
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


def _tokens(model: CharGRU, vocab: CharVocab, cfg: SampleConfig) -> Iterator[tuple[int, float, torch.Tensor | None]]:
    """(token id, its probability at T=1, state) one by one, ``<eos>`` included when drawn; at most ``cfg.max_len`` characters.

    ``state`` is None unless ``cfg.keep_state``: then the next step (reading the token) is taken before the
    token is yielded, and ``state`` is the last layer's state after it, (H,)."""
    model.eval()
    device = next(model.parameters()).device
    gen = _generator(cfg.seed, device)
    # Inference mode is entered per step, never held across a yield: it is a thread-wide setting, and
    # streams interleaved in one thread (the app's sweep writes five, a character of each in turn) would
    # otherwise leave it on or off for each other. The first stream to end switched it off under the
    # others, whose next in-place fill_ then raised "Inplace update to inference tensor outside InferenceMode".
    with torch.inference_mode():
        lengths = target_lengths(model, cfg, 1, gen)  # (1,) or None
        told = lengths if model.length_aware else None  # a length input is told; the others are steered
        steer = _Steer(vocab, [None if lengths is None else int(lengths[0])], longest_trained(model), device,
                       asked=cfg.length is not None)
        links = _LinkGuard(vocab, model.config.link_lengths, cfg.prime, 1, device)
        logits, hidden = _prime(model, vocab, cfg.prime, 1, told)
        step = model.stepper()  # one fast GRU step per character (same function as model.step)
        plain = cfg.top_k == 0 and cfg.top_p >= 1.0
        banned = torch.zeros(logits.shape[-1], dtype=torch.bool, device=device)  # (V,)
        banned[list(NEVER_SAMPLED)] = True
        last = vocab.encode(cfg.prime, eos=False)[-1]  # <bos>, or the prime's last character
        fed = torch.full((1,), last, dtype=torch.long, device=device)  # (1,): the id fed back in, refilled each step
        left = None if told is None else told - len(cfg.prime)  # (1,): remaining before the next character
    stepped = False  # keep_state: the step for the previous token was already taken
    state = None
    for i in range(cfg.max_len):
        with torch.inference_mode():
            if i and not stepped:
                if left is not None:
                    left = left - 1
                logits, hidden = step(fed.fill_(token), hidden, left)
            pick = links(logits if told is not None else steer(logits, len(cfg.prime) + i, fed))  # (1, V)
            token = _next_plain(pick[0], banned, cfg.temperature, gen) if plain else None
            if token is None:
                token = int(_choose(next_token_logprobs(pick, cfg), cfg, gen))
            prob = float(torch.softmax(torch.nan_to_num(logits[0].float()), dim=-1)[token])
            links.wrote([token])
            if cfg.keep_state and token != EOS_ID:
                if left is not None:
                    left = left - 1
                logits, hidden = step(fed.fill_(token), hidden, left)
                state, stepped = hidden[-1, 0].clone(), True  # (H,)
        yield token, prob, (None if token == EOS_ID else state)
        if token == EOS_ID:
            return


def stream(model: CharGRU, vocab: CharVocab, cfg: SampleConfig = SampleConfig()) -> Iterator[SampledChar]:
    """Yield generated characters one by one until ``<eos>`` or ``cfg.max_len``.

    Stop iterating to cancel: no work is done ahead of the consumer.
    """
    for token, prob, state in _tokens(model, vocab, cfg):
        if token == EOS_ID:
            return
        yield SampledChar(vocab.token(token), prob, state)


def stream_scored(model: CharGRU, vocab: CharVocab, cfg: SampleConfig = SampleConfig()) -> Iterator[SampledChar]:
    """:func:`stream`'s characters, then, when the model ended the text, one more ``SampledChar("", p)``:
    the ``<eos>`` with its probability at T=1. What :func:`write` scores, for a caller that shows
    the characters as they come and scores the text once it ends (:func:`bits_per_char`)."""
    for token, prob, state in _tokens(model, vocab, cfg):
        yield SampledChar("" if token == EOS_ID else vocab.token(token), prob, state)


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


LENGTH_TRIES = 4  # --length N: a finished text outside N +- 10% is written again, up to this many times in all


def _retry_seed(seed: int | None, attempt: int) -> int | None:
    """The seed of the ``attempt``-th retry of a text seeded ``seed`` (None stays random): the same text for the same seed."""
    return None if seed is None else (seed * 1_000_003 + attempt) % 2**63


def _outside(text: str, ended: bool, target: int) -> int:
    """How many characters ``text`` lies outside ``target`` +- 10% (0: within and ended on its own)."""
    low, high = length_window(target)
    if not ended:
        return max(1, len(text) - high)
    return max(0, low - len(text), len(text) - high)


def _retries(model: CharGRU, cfg: SampleConfig) -> int | None:
    """The target a finished text is checked against, or None when it is not (no ``--length``, or a length input)."""
    if cfg.length is None or model.length_aware:
        return None
    return max(cfg.length, len(cfg.prime), 1)


def write(model: CharGRU, vocab: CharVocab, cfg: SampleConfig = SampleConfig()) -> Written:
    """One text as :func:`stream` writes it (the same characters for the same seed), with its score.

    With ``cfg.length`` (``--length N``) a text that ended outside N +- 10% is written again, with a
    seed derived from ``cfg.seed``, up to :data:`LENGTH_TRIES` times, and the one nearest the window
    is kept. Steering alone cannot plan: a link or hashtag begun just before the window runs past
    it (13-16% of texts at N = 40 on the dev model, issue 17). Trying again draws from the model's
    own texts *given* that their length is in the window, rather than cutting one. A streamed
    text (:func:`stream`, ``--stream``, the app) cannot be taken back, so it is steered only.
    """
    target = _retries(model, cfg)
    best: Written | None = None
    for attempt in range(LENGTH_TRIES if target is not None else 1):
        one = _write_once(model, vocab, cfg if attempt == 0 else replace(cfg, seed=_retry_seed(cfg.seed, attempt)))
        if target is None:
            return one
        if best is None or _outside(one.text, one.ended, target) < _outside(best.text, best.ended, target):
            best = one
        if _outside(best.text, best.ended, target) == 0:
            break
    assert best is not None
    return best


def _write_once(model: CharGRU, vocab: CharVocab, cfg: SampleConfig) -> Written:
    chars: list[SampledChar] = []
    bits = 0.0
    ended = False
    for token, prob, state in _tokens(model, vocab, cfg):
        bits -= math.log2(max(prob, 1e-300))
        if token == EOS_ID:
            ended = True
            break
        chars.append(SampledChar(vocab.token(token), prob, state))
    scored = len(chars) + ended
    return Written(cfg.prime + "".join(c.char for c in chars), ended, bits / scored if scored else 0.0, tuple(chars))


def sample(model: CharGRU, vocab: CharVocab, cfg: SampleConfig = SampleConfig()) -> str:
    """One whole text, prime included."""
    return cfg.prime + "".join(c.char for c in stream(model, vocab, cfg))


def sample_batch(model: CharGRU, vocab: CharVocab, n: int, cfg: SampleConfig = SampleConfig()) -> list[str]:
    """``n`` texts generated side by side in one batch (prime included).

    With ``cfg.length``, the texts that ended outside N +- 10% are written again as :func:`write` does
    (a smaller batch each time, up to :data:`LENGTH_TRIES` batches in all).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    texts, ended = _batch_once(model, vocab, n, cfg)
    target = _retries(model, cfg)
    if target is None:
        return texts
    for attempt in range(1, LENGTH_TRIES):
        missed = [i for i in range(n) if _outside(texts[i], ended[i], target)]
        if not missed:
            break
        again, again_ended = _batch_once(model, vocab, len(missed), replace(cfg, seed=_retry_seed(cfg.seed, attempt)))
        for i, text, done in zip(missed, again, again_ended):
            if _outside(text, done, target) < _outside(texts[i], ended[i], target):
                texts[i], ended[i] = text, done
    return texts


def _batch_once(model: CharGRU, vocab: CharVocab, n: int, cfg: SampleConfig) -> tuple[list[str], list[bool]]:
    """``n`` texts side by side, and whether each ended on its own (``<eos>``) within ``cfg.max_len``."""
    model.eval()
    device = next(model.parameters()).device
    gen = _generator(cfg.seed, device)
    out = torch.full((n, cfg.max_len), PAD_ID, dtype=torch.long, device=device)  # (n, max_len)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    with torch.inference_mode():
        lengths = target_lengths(model, cfg, n, gen)  # (n,) or None
        told = lengths if model.length_aware else None  # a length input is told; the others are steered
        steer = _Steer(vocab, [None] * n if lengths is None else lengths.tolist(), longest_trained(model), device,
                       asked=cfg.length is not None)
        links = _LinkGuard(vocab, model.config.link_lengths, cfg.prime, n, device)
        logits, hidden = _prime(model, vocab, cfg.prime, n, told)
        step = model.stepper()
        last = torch.full((n,), vocab.encode(cfg.prime, eos=False)[-1], dtype=torch.long, device=device)  # (n,)
        for t in range(cfg.max_len):
            pick = links(logits if told is not None else steer(logits, len(cfg.prime) + t, last))  # (n, V)
            idx = _choose(next_token_logprobs(pick, cfg), cfg, gen)  # (n,)
            idx = idx.masked_fill(done, PAD_ID)
            links.wrote(idx.tolist())
            out[:, t] = idx
            done |= idx == EOS_ID
            if bool(done.all()):
                break
            left = None if told is None else told - len(cfg.prime) - (t + 1)  # (n,)
            last = idx
            logits, hidden = step(idx, hidden, left)
    return [cfg.prime + vocab.decode(row.tolist()) for row in out.cpu()], done.cpu().tolist()


def with_seed(cfg: SampleConfig, seed: int | None) -> SampleConfig:
    return replace(cfg, seed=seed)
