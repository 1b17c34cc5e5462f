"""The notebook's sanity checks: masked loss is right, and a model can memorise a tweet."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.data.batching import make_batch
from core.model.sampler import SampleConfig, sample
from core.train.trainer import TrainConfig, Trainer
from core.train.evaluate import masked_loss_sum
from core.model.gru import new_model
from core.data.vocab import CharVocab


def test_masked_loss_equals_per_tweet_losses_without_padding() -> None:
    texts = ["hi", "hello there", "a much longer tweet than the others"]
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=1, hidden_size=32)
    encoded = [vocab.encode(t) for t in texts]
    batch = make_batch(encoded)
    logits, _ = model(batch.inputs, None, batch.remaining)
    batched_sum, n_chars = masked_loss_sum(logits.detach(), batch.targets)

    per_tweet_sum, per_tweet_chars = 0.0, 0
    for ids in encoded:  # one tweet at a time, no padding at all
        x = torch.tensor(ids[:-1])[None]
        y = torch.tensor(ids[1:])
        remaining = torch.arange(len(ids) - 2, -1, -1)[None]  # length, length - 1, ..., 0
        with torch.no_grad():
            out, _ = model(x, None, remaining)
        per_tweet_sum += float(F.cross_entropy(out[0], y, reduction="sum"))
        per_tweet_chars += len(ids) - 1
    assert n_chars == per_tweet_chars  # <eos> counted, <pad> not
    assert abs(float(batched_sum) - per_tweet_sum) < 1e-3
    assert abs(float(batched_sum) / n_chars - per_tweet_sum / per_tweet_chars) < 1e-5
    # an unmasked loss would differ: padding positions bias it
    unmasked = float(F.cross_entropy(logits.detach().reshape(-1, logits.shape[-1]), batch.targets.reshape(-1)))
    assert abs(unmasked - per_tweet_sum / per_tweet_chars) > 1e-3


def test_step_matches_full_sequence_forward() -> None:
    vocab = CharVocab.build(["abcdef"])
    model = new_model(vocab, seed=2, hidden_size=24, num_layers=2).eval()
    ids = torch.tensor([vocab.encode("fadebc")])
    remaining = torch.tensor([[9, 8, 7, 6, 5, 4, 3, 2]])
    full, _ = model(ids, None, remaining)
    hidden = None
    for t in range(ids.shape[1]):
        step_logits, hidden = model.step(ids[:, t], hidden, remaining[:, t])
        assert torch.allclose(step_logits, full[:, t], atol=1e-5)


def test_overfits_one_tweet_and_greedy_reproduces_it(tmp_path) -> None:
    tweet = "the cat sat on the warm laundry again!"
    vocab = CharVocab.build([tweet])
    model = new_model(vocab, seed=0, embed_dim=16, hidden_size=64)
    config = TrainConfig(batch_size=1, lr=1e-2, max_steps=300, val_every=0, ckpt_every=0, warmup_steps=0,
                         lr_schedule="constant", divergence_factor=100.0)
    trainer = Trainer(model, vocab, [tweet], [], config, tmp_path / "run")
    events = list(trainer.run())
    assert events[-1].reason == "finished"
    model = trainer.averaged_model()
    with torch.no_grad():
        batch = make_batch([vocab.encode(tweet)])
        logits, _ = model(batch.inputs, None, batch.remaining)
        total, n = masked_loss_sum(logits, batch.targets)
    assert float(total) / n < 0.05
    assert sample(model, vocab, SampleConfig(temperature=0, max_len=200)) == tweet  # stopped by <eos>
