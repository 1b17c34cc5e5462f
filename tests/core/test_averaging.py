"""core.train.averaging: the averaged model is schedule-free's x, computed into a copy, and a restore gives it back."""

from __future__ import annotations

import torch

from core.data.vocab import CharVocab
from core.model.gru import new_model
from core.train.averaging import Averager
from core.train.trainer import TrainConfig, make_optimizer

TEXTS = ["the cat sat on the mat", "a dog ran", "tweets are short"]


def _trained(steps: int = 5) -> tuple[torch.nn.Module, torch.optim.Optimizer, Averager, CharVocab]:
    torch.manual_seed(0)
    vocab = CharVocab.build(TEXTS)
    model = new_model(vocab, seed=0, hidden_size=16, embed_dim=8)
    opt = make_optimizer(model, TrainConfig(lr=1e-2))
    ids = torch.tensor([vocab.encode(TEXTS[0])])  # (1, T)
    for _ in range(steps):
        logits, _ = model(ids[:, :-1], None, None)  # (1, T-1, V)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, opt, Averager(model, opt, schedulefree=True), vocab


def test_the_average_is_x_of_y_and_z_and_leaves_the_training_weights_alone() -> None:
    model, opt, averager, _ = _trained()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    averaged = averager.model()
    for (name, y), x in zip(model.named_parameters(), averaged.parameters()):
        z = opt.state[y]["z"]
        beta1 = opt.param_groups[0]["betas"][0]
        assert torch.allclose(x, y + (1 - 1 / beta1) * (z - y)), name  # optimizer.eval()'s formula
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # y untouched
    assert not torch.equal(next(averaged.parameters()), next(model.parameters()))  # a copy, and not y


def test_a_restore_from_what_a_checkpoint_holds_gives_the_same_average_and_training_point() -> None:
    model, opt, averager, vocab = _trained()
    weights = {k: v.clone() for k, v in averager.model().state_dict().items()}  # a checkpoint's weights: x
    point, opt_state = averager.training_point(), opt.state_dict()
    model2 = new_model(vocab, seed=1, hidden_size=16, embed_dim=8)
    opt2 = make_optimizer(model2, TrainConfig(lr=1e-2))
    again = Averager(model2, opt2, schedulefree=True)
    assert again.restore(weights, opt_state, point, "schedulefree") is None
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model2.state_dict().values()))  # y
    assert all(torch.equal(a, b) for a, b in zip(weights.values(), again.model().state_dict().values()))  # x


def test_adam_average_is_a_plain_copy_and_has_no_training_point() -> None:
    torch.manual_seed(0)
    vocab = CharVocab.build(TEXTS)
    model = new_model(vocab, seed=0, hidden_size=16, embed_dim=8)
    opt = make_optimizer(model, TrainConfig(optimizer="adam", lr=1e-2))
    ids = torch.tensor([vocab.encode(TEXTS[1])])  # (1, T)
    for _ in range(3):
        logits, _ = model(ids[:, :-1], None, None)  # (1, T-1, V)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    averager = Averager(model, opt, schedulefree=False)
    assert all(torch.equal(a, b) for a, b in zip(averager.model().state_dict().values(), model.state_dict().values()))
    assert averager.training_point() is None


def test_an_optimizer_state_that_does_not_fit_is_a_note_and_the_weights_still_load() -> None:
    model, _opt, averager, _ = _trained(3)
    weights = {k: v.clone() for k, v in averager.model().state_dict().items()}
    point = averager.training_point()
    bad = {"state": {}, "param_groups": [{"params": [0]}]}  # one parameter where the model has many
    assert averager.restore(weights, bad, point, "schedulefree") == "optimizer state did not fit; starting schedulefree afresh"
    assert point is not None and all(torch.equal(point[k], v) for k, v in model.state_dict().items())
