"""Sampler: stops, never emits specials, deterministic when asked, temperature behaves."""

from __future__ import annotations

import math

import pytest
import torch

from core.model.sampler import SampleConfig, next_token_logprobs, sample, sample_batch, stream
from core.model.gru import new_model
from core.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, CharVocab

TEXTS = ["abc def", "the quick brown fox", "zzz!? [ok] 123"]


@pytest.fixture(scope="module")
def model_vocab():
    vocab = CharVocab.build(TEXTS)
    return new_model(vocab, seed=5, hidden_size=32).eval(), vocab


def test_stops_at_max_len_or_eos(model_vocab) -> None:
    model, vocab = model_vocab
    for seed in range(10):
        chars = list(stream(model, vocab, SampleConfig(max_len=7, seed=seed)))
        assert 0 <= len(chars) <= 7
    # force <eos> to be the greedy choice: generation ends immediately
    with torch.no_grad():
        model.decoder.bias[EOS_ID] += 100.0
    try:
        assert sample(model, vocab, SampleConfig(temperature=0)) == ""
    finally:
        with torch.no_grad():
            model.decoder.bias[EOS_ID] -= 100.0


def test_never_yields_special_tokens_even_when_they_dominate(model_vocab) -> None:
    model, vocab = model_vocab
    with torch.no_grad():
        saved = model.decoder.bias.clone()
        model.decoder.bias[[PAD_ID, BOS_ID, UNK_ID]] += 50.0
    try:
        for temperature in (0.0, 1.0, 5.0):
            for ch in stream(model, vocab, SampleConfig(temperature=temperature, max_len=30, seed=1)):
                assert ch.char in vocab.chars and 0.0 <= ch.prob <= 1.0
    finally:
        with torch.no_grad():
            model.decoder.bias.copy_(saved)


def test_greedy_is_deterministic_and_seed_reproduces(model_vocab) -> None:
    model, vocab = model_vocab
    assert sample(model, vocab, SampleConfig(temperature=0)) == sample(model, vocab, SampleConfig(temperature=0))
    a = [sample(model, vocab, SampleConfig(seed=s)) for s in range(5)]
    assert a == [sample(model, vocab, SampleConfig(seed=s)) for s in range(5)]
    assert len(set(a)) > 1  # different seeds, different texts


def test_prime_with_unknown_characters_does_not_crash(model_vocab) -> None:
    model, vocab = model_vocab
    text = sample(model, vocab, SampleConfig(prime="the ☕ ", seed=0, max_len=5))
    assert text.startswith("the ☕ ")


def entropy(logp: torch.Tensor) -> float:
    p = logp.exp()
    return float(-(p * torch.where(p > 0, logp, torch.zeros_like(logp))).sum())


def test_temperature_concentrates_and_spreads_measurably() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0, 2.0, 1.0, 0.5, -1.0]])
    h = {t: entropy(next_token_logprobs(logits, SampleConfig(temperature=t))) for t in (0.5, 1.0, 2.0, 5.0)}
    assert h[1.0] - h[0.5] > 0.1 and h[2.0] - h[1.0] > 0.1 and h[5.0] - h[2.0] > 0.05
    top = {t: float(next_token_logprobs(logits, SampleConfig(temperature=t)).exp()[0, 4]) for t in (0.5, 1.0, 5.0)}
    assert top[0.5] > 0.75 > top[1.0] > 0.4 > top[5.0]
    assert h[5.0] <= math.log(5) + 1e-6  # <eos> and the 4 characters share the mass; pad/bos/unk get none


@pytest.mark.parametrize("temperature", [0.0, 1e-3, 0.05, 1.0, 10.0, 100.0])
def test_no_nan_at_extreme_temperatures(model_vocab, temperature: float) -> None:
    model, vocab = model_vocab
    huge = torch.tensor([[1e4, -1e4, 3e4, -3e4, 5.0, 1e4, -2.0]])
    logp = next_token_logprobs(huge, SampleConfig(temperature=temperature))
    assert not torch.isnan(logp).any() and abs(float(logp.exp().sum()) - 1) < 1e-4
    text = sample(model, vocab, SampleConfig(temperature=temperature, seed=3, max_len=40))
    assert all(c in vocab.chars for c in text)


def test_top_k_and_top_p_restrict_support() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0, 3.0, 2.0, 1.0, 0.0]])
    top2 = next_token_logprobs(logits, SampleConfig(top_k=2)).exp()
    assert int((top2 > 0).sum()) == 2 and float(top2[0, 4]) > float(top2[0, 5]) > 0
    tiny_p = next_token_logprobs(logits, SampleConfig(top_p=1e-6)).exp()
    assert int((tiny_p > 0).sum()) == 1 and float(tiny_p[0, 4]) == pytest.approx(1.0)


def test_batch_sampling_matches_count_and_respects_seed(model_vocab) -> None:
    model, vocab = model_vocab
    texts = sample_batch(model, vocab, 16, SampleConfig(seed=9, max_len=30))
    assert len(texts) == 16 and all(len(t) <= 30 for t in texts)
    assert texts == sample_batch(model, vocab, 16, SampleConfig(seed=9, max_len=30))
    greedy = sample_batch(model, vocab, 4, SampleConfig(temperature=0, max_len=30))
    assert len(set(greedy)) == 1 and greedy[0] == sample(model, vocab, SampleConfig(temperature=0, max_len=30))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_stream_scored_is_what_write_scores(model_vocab, seed: int) -> None:
    """The app scores a streamed text itself: stream_scored's characters (and <eos>) give write's bits/char."""
    from core.model.sampler import bits_per_char, stream_scored, write

    model, vocab = model_vocab
    cfg = SampleConfig(temperature=1.0, max_len=30, seed=seed)
    scored = list(stream_scored(model, vocab, cfg))
    written = write(model, vocab, cfg)
    chars = [c for c in scored if c.char]
    eos = scored[-1].prob if scored and scored[-1].char == "" else None
    assert "".join(c.char for c in chars) == written.text and (eos is not None) == written.ended
    assert [c.prob for c in chars] == [c.prob for c in written.chars]
    assert bits_per_char([c.prob for c in chars], eos) == pytest.approx(written.bits_per_char, abs=1e-12)
    assert bits_per_char([]) == 0.0


def test_interleaved_streams_survive_one_ending_first(model_vocab) -> None:
    """The app's sweep writes several streams in one thread, a character of each in turn. The first
    stream ending before the others used to switch inference mode off under them (it was held across
    each yield), and their next step raised "Inplace update to inference tensor outside InferenceMode".
    Each stream must write exactly what it writes alone, and the thread's grad mode is left as it was."""
    model, vocab = model_vocab
    short, long = SampleConfig(seed=1, max_len=3), SampleConfig(seed=2, max_len=40)
    alone = [[c.char for c in stream(model, vocab, cfg)] for cfg in (short, long)]
    its = [iter(stream(model, vocab, short)), iter(stream(model, vocab, long))]
    got: list[list[str]] = [[], []]
    live = [True, True]
    while any(live):
        for i, it in enumerate(its):
            if live[i]:
                ch = next(it, None)
                if ch is None:
                    live[i] = False
                else:
                    got[i].append(ch.char)
                    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled(), "a suspended stream leaks its mode"
    assert got == alone and len(got[0]) < len(got[1]), "the first stream ended first"
