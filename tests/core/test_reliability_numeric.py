"""Numerical faults: divergence stops cleanly and keeps the last good checkpoint; sampling is stable at any setting.

The app staying usable after a diverged run is in tests/tui/test_app_reliability.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from corehelpers import TINY_TWEETS, run_all, tiny_trainer

from core.store.checkpoints import load_checkpoint

from core.store.registry import list_checkpoints
from core.cli.main import main
from core.events import CheckpointEvent, DoneEvent
from core.model.sampler import NEVER_SAMPLED, SampleConfig, next_token_logprobs, sample_batch, stream
from core.data.vocab import SPECIALS


def _snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def test_divergence_mid_run_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    """The learning rate jumps to 500 after step 4: the run ends 'diverged', step 4's file is the last and is intact."""
    run = tmp_path / "run"
    trainer = tiny_trainer(run, max_steps=200, ckpt_every=2)
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, CheckpointEvent) and event.step == 4:
            before = _snapshot(run)
            trainer.config.lr, trainer.config.clip, trainer.config.lr_schedule = 500.0, 1e9, "constant"
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "diverged"
    assert done.last_checkpoint == run / "step-00000004.pt"
    assert "lower the learning rate" in done.message and str(done.last_checkpoint) in done.message
    assert "\n" not in done.message
    assert _snapshot(run) == before, "nothing is written or changed after the divergence"
    ckpt = load_checkpoint(done.last_checkpoint)
    assert ckpt.step == 4 and all(torch.isfinite(v).all() for v in ckpt.model_state.values())
    assert [i.step for i in list_checkpoints(run)] == [2, 4]


def test_diverging_resume_names_the_checkpoint_it_started_from(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`tweetgen train --resume` with a learning rate that diverges: exit 1, one line naming the kept checkpoint."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TINY_TWEETS * 2))
    run = tmp_path / "run"
    common = ["--hidden", "8", "--embed", "8", "--batch-size", "4", "--val-every", "0", "--quiet"]
    assert main(["train", str(corpus), "--out", str(run), "--max-steps", "6", "--ckpt-every", "3", *common]) == 0
    capsys.readouterr()
    before = _snapshot(run)
    code = main(["train", str(corpus), "--resume", str(run), "--lr", "500", "--clip", "1e9", "--lr-schedule", "constant",
                 "--max-steps", "300", *common])
    err = capsys.readouterr().err.splitlines()
    assert code == 1 and len(err) == 1, err
    assert "diverged" in err[0] and f"Last good checkpoint kept: {run / 'step-00000006.pt'}" in err[0], err[0]
    assert _snapshot(run) == before
    assert load_checkpoint(run / "step-00000006.pt").step == 6


def test_a_diverged_run_can_be_resumed_with_a_sane_learning_rate(tmp_path: Path) -> None:
    run = tmp_path / "run"
    trainer = tiny_trainer(run, max_steps=4, ckpt_every=4)
    run_all(trainer)
    bad = tiny_trainer(run, max_steps=50, lr=500.0, clip=1e9, lr_schedule="constant", resume_from=load_checkpoint(run / "step-00000004.pt"))
    assert run_all(bad)[-1].reason == "diverged"  # type: ignore[attr-defined]
    good = tiny_trainer(run, max_steps=8, resume_from=load_checkpoint(run / "step-00000004.pt"))
    done = run_all(good)[-1]
    assert isinstance(done, DoneEvent) and done.reason == "finished" and load_checkpoint(done.last_checkpoint).step == 8  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("numeric") / "run"
    trainer = tiny_trainer(run, max_steps=60, model_kwargs={"embed_dim": 8, "hidden_size": 16})
    run_all(trainer)
    assert trainer.last_checkpoint is not None
    return trainer.last_checkpoint


TEMPERATURES = [0.0, 1e-3, 1.0, 100.0, 1e-30, 1e-45, 5e-324]


@pytest.mark.parametrize("scale", [1.0, 1e30], ids=["normal-weights", "enormous-weights"])
@pytest.mark.parametrize("top_k", [0, 1, 3])
@pytest.mark.parametrize("top_p", [1.0, 0.5, 1e-6])
@pytest.mark.parametrize("temperature", TEMPERATURES)
def test_sampling_never_yields_nan_errors_or_specials(trained: Path, temperature: float, top_p: float, top_k: int, scale: float) -> None:
    """Streams and batches at extreme settings: finite probabilities, only vocabulary characters, no exception."""
    ckpt = load_checkpoint(trained)
    model = ckpt.model()
    if scale != 1.0:  # finite but huge weights: logits overflow float32 to inf
        with torch.no_grad():
            model.decoder.weight.mul_(scale)
            model.decoder.bias.mul_(scale)
    cfg = SampleConfig(temperature=temperature, top_p=top_p, top_k=top_k, max_len=40, seed=3, prime="the ")
    chars = list(stream(model, ckpt.vocab, cfg))
    for c in chars:
        assert c.char in ckpt.vocab and c.char not in SPECIALS, c
        assert math.isfinite(c.prob) and 0.0 <= c.prob <= 1.0, c
    for text in sample_batch(model, ckpt.vocab, 4, cfg):
        assert text.startswith("the ") and all(ch in ckpt.vocab for ch in text[4:]), text


def test_logprobs_of_nan_or_inf_logits_are_a_distribution_over_allowed_tokens() -> None:
    rows = torch.tensor([[float("nan")] * 8, [float("inf")] * 8, [0.0, 0.0, 0.0, 0.0, float("inf"), 1.0, float("-inf"), 2.0]])
    for temperature in (0.0, 1e-45, 1.0, 100.0):
        logp = next_token_logprobs(rows, SampleConfig(temperature=temperature, top_p=1e-6 if temperature else 1.0))
        probs = logp.exp()
        assert not torch.isnan(logp).any()
        assert torch.allclose(probs.sum(dim=-1), torch.ones(3))
        assert (probs[:, list(NEVER_SAMPLED)] == 0).all()
    assert int(next_token_logprobs(rows, SampleConfig(temperature=0.0))[2].argmax()) == 4


@pytest.mark.parametrize("args", [["-t", "0"], ["-t", "1e-3"], ["-t", "100"], ["--top-p", "1e-6"], ["-t", "1e-45", "--stream"]])
def test_cli_sample_at_extreme_settings(trained: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(trained), "-n", "3", "--seed", "1", "--max-len", "30", *args]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and len(captured.out.splitlines()) == 3
    assert not any(s in captured.out for s in SPECIALS)
