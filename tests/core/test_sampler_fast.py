"""The sampler's fast single-step path computes the same function as the full-sequence forward."""

from __future__ import annotations

import pytest
import torch

from core.model.gru import CharGRU, ModelConfig
from core.model.sampler import SampleConfig, sample_batch, stream
from core.model.gru import new_model
from core.data.vocab import CharVocab


@pytest.mark.parametrize("max_length", [0, 20])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("batch", [1, 3])
def test_stepper_equals_full_sequence_forward(layers: int, batch: int, max_length: int) -> None:
    """Feeding a sequence one character at a time through ``stepper()`` gives the logits and
    final hidden state of one ``forward`` over the whole sequence (float rounding aside),
    with and without length conditioning (remaining counts that go below 0 and above the table)."""
    torch.manual_seed(0)
    model = CharGRU(ModelConfig(vocab_size=30, embed_dim=12, hidden_size=24, num_layers=layers, dropout=0.2,
                                max_length=max_length, length_input=bool(max_length))).eval()
    if max_length:
        torch.nn.init.normal_(model.length_embed.weight)
    ids = torch.randint(0, 30, (batch, 17))
    remaining = torch.randint(-3, 25, (batch, 17)) if max_length else None
    with torch.no_grad():
        full, full_hidden = model(ids, None, remaining)  # (B, T, V), (L, B, H)
    step = model.stepper()
    hidden = None
    for t in range(ids.shape[1]):
        logits, hidden = step(ids[:, t], hidden, None if remaining is None else remaining[:, t])
        torch.testing.assert_close(logits, full[:, t], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(hidden, full_hidden, rtol=1e-5, atol=1e-5)


def test_stepper_matches_model_step_from_a_given_hidden_state() -> None:
    """Same contract as ``CharGRU.step``: ids (B,), hidden (L, B, H) -> logits (B, V), hidden."""
    torch.manual_seed(1)
    model = CharGRU(ModelConfig(vocab_size=20, embed_dim=8, hidden_size=16, num_layers=2)).eval()
    ids, h0 = torch.tensor([3, 7]), torch.randn(2, 2, 16)
    a_logits, a_hidden = model.step(ids, h0)
    b_logits, b_hidden = model.stepper()(ids, h0)
    torch.testing.assert_close(b_logits, a_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(b_hidden, a_hidden, rtol=1e-5, atol=1e-5)


def test_streamed_text_is_the_one_model_step_would_give(monkeypatch: pytest.MonkeyPatch) -> None:
    """Greedy generation through the fast path and through ``model.step`` produce the same text."""
    vocab = CharVocab.build(["hello world", "the cat sat", "a b c d e f g"])
    model = new_model(vocab, seed=3, hidden_size=32).eval()
    cfg = SampleConfig(temperature=0, max_len=60, prime="th")
    fast = "".join(c.char for c in stream(model, vocab, cfg))
    monkeypatch.setattr(CharGRU, "stepper", lambda self: self.step)
    slow = "".join(c.char for c in stream(model, vocab, cfg))
    assert fast == slow
    assert sample_batch(model, vocab, 4, cfg) == [cfg.prime + slow] * 4


def test_stepper_is_a_snapshot_of_the_weights() -> None:
    """Training after ``stepper()`` does not change that stepper (a new one sees the new weights)."""
    torch.manual_seed(2)
    model = CharGRU(ModelConfig(vocab_size=10, embed_dim=4, hidden_size=8)).eval()
    step = model.stepper()
    before, _ = step(torch.tensor([1]))
    with torch.no_grad():
        model.decoder.bias += 1.0
    after, _ = step(torch.tensor([1]))
    torch.testing.assert_close(after, before)
    fresh, _ = model.stepper()(torch.tensor([1]))
    torch.testing.assert_close(fresh, before + 1.0)


def test_inverse_cdf_draws_by_weight_and_never_a_zero_weight() -> None:
    from core.model.sampler import inverse_cdf

    weights = [0.0, 1.0, 0.0, 3.0, 0.0]
    assert inverse_cdf(weights, 0.0) == 1
    assert inverse_cdf(weights, 0.2499) == 1
    assert inverse_cdf(weights, 0.25) == 3
    assert inverse_cdf(weights, 0.999999) == 3
    assert inverse_cdf(weights, 1.0) == 3  # u * total rounded up to the total: the last drawable index
    assert inverse_cdf([2.0], 0.5) == 0


@pytest.mark.parametrize("temperature", [0.3, 1.0, 2.5])
def test_single_stream_draws_follow_the_tempered_softmax(temperature: float) -> None:
    """The fast single-stream draw samples softmax((logits - max) / T) over allowed tokens:
    20,000 draws land within 0.015 of every probability; banned tokens never come."""
    from core.model.sampler import _next_plain

    logits = torch.tensor([9.0, 0.5, 1.0, -2.0, 0.0, 2.0, float("nan"), 1.5])
    banned = torch.zeros(8, dtype=torch.bool)
    banned[[0, 3]] = True  # the largest logit is banned: it must not shift or leak into the draw
    allowed = logits.masked_fill(banned, float("-inf")).nan_to_num(nan=float("-inf"))
    expected = torch.softmax(allowed / temperature, dim=-1)
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(8)
    n = 20_000
    for _ in range(n):
        counts[_next_plain(logits, banned, temperature, gen)] += 1
    assert counts[[0, 3, 6]].sum() == 0
    assert (counts / n - expected).abs().max() < 0.015, (counts / n, expected)


def test_single_stream_fast_path_edge_cases() -> None:
    from core.model.sampler import _next_plain

    gen = torch.Generator().manual_seed(0)
    banned = torch.tensor([True, False, False])
    assert _next_plain(torch.tensor([5.0, 1.0, 3.0]), banned, 0.0, gen) == 2  # greedy among allowed
    assert _next_plain(torch.tensor([0.0, float("inf"), 1.0]), banned, 1e-3, gen) == 1  # inf is a huge number, no NaN
    assert _next_plain(torch.tensor([1.0, float("nan"), float("-inf")]), banned, 1.0, gen) is None  # nothing usable
