"""Issue 16: the guard tells overfitting (training loss still falling, validation rising) from
divergence (training loss rising too), and a checkpoint's name and step match its weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from corehelpers import TINY_TWEETS, run_all

from core.store import registry
from core.store.checkpoints import load_checkpoint
from core.cli.main import main
from core.data.corpus import split_texts
from core.events import CheckpointEvent, DoneEvent, EvalEvent, GuardEvent, StartEvent
from core.model.gru import new_model
from core.model.sampler import SampleConfig, sample
from core.train.trainer import TrainConfig, Trainer
from core.data.vocab import CharVocab

# Three texts, as a newcomer's first try: the split holds one out, so there IS a validation set.
THREE = ["the bakery opens at seven", "rain again and the cat stays in", "new bread on the shelf by noon"]


def _train_three(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[Path, str]:
    data = tmp_path / "three.txt"
    data.write_text("\n".join(THREE) + "\n")
    code = main(["train", str(data), "--out", str(tmp_path / "run"), "--max-steps", "400", "--lr", "0.01",
                 "--hidden", "64", "--embed", "16", "--threads", "1", *extra])
    assert code == 0
    out, err = capsys.readouterr()
    return Path(out.strip().splitlines()[-1]), err


def test_a_tiny_corpus_trained_to_memorisation_ends_with_its_memorising_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's run: 2 train + 1 validation text, 400 steps at lr 0.01. Validation rises as the model
    memorises; the guard says "overfitting" (not degraded, no rollback) and the final checkpoint, named
    step 400, holds the trained weights: greedy sampling writes a training text back."""
    final, err = _train_three(tmp_path, capsys)
    assert final.name == "step-00000400.pt"
    ckpt = load_checkpoint(final)
    assert ckpt.train_state["step"] == 400
    train, _val = split_texts(THREE, 0.1, seed=0)  # the CLI's seeded split: two train, one held out
    model, vocab = ckpt.model(), ckpt.vocab
    written = {sample(model, vocab, SampleConfig(temperature=0.0, length=len(t), prime=t[:1])) for t in train}
    assert written & set(train), f"greedy samples {written} reproduce no training text of {train}"
    assert "overfitting" in err and "memorises" in err
    assert "degraded" not in err and "restored the weights" not in err and "rollbacks" not in err
    # the best checkpoint is kept, marked best by its score, and it is not the final one
    best = registry.best_checkpoint(tmp_path / "run")
    assert best is not None and best.path != final and best.val_bpc is not None
    assert load_checkpoint(best.path).train_state["step"] == best.step


def test_early_stop_ends_an_overfitting_run_and_names_the_best(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Asked for (--early-stop), the guard ends an overfitting run; stdout names the best checkpoint."""
    printed, err = _train_three(tmp_path, capsys, "--early-stop", "--val-every", "20", "--ckpt-every", "40")
    best = registry.best_checkpoint(tmp_path / "run")
    assert best is not None and printed == best.path
    newest = registry.latest_checkpoint(tmp_path / "run")
    assert newest is not None and newest.step < 400  # it stopped early
    assert err.count("Stopped early") == 1 and "degraded" not in err


def _diverging_trainer(run_dir: Path, **cfg: object) -> Trainer:
    """Adam at rate 1.0 on a 32-unit GRU: the training loss itself climbs far above where it started."""
    torch.set_num_threads(1)
    vocab = CharVocab.build(TINY_TWEETS)
    model = new_model(vocab, seed=0, embed_dim=8, hidden_size=32)
    settings: dict[str, object] = dict(batch_size=5, optimizer="adam", lr=1.0, max_steps=200, val_every=10, ckpt_every=10,
                                       warmup_steps=0, guard_patience=2, guard_max_rollbacks=2, divergence_factor=100.0)
    settings.update(cfg)
    return Trainer(model, vocab, TINY_TWEETS[:10], TINY_TWEETS[10:], TrainConfig(**settings), run_dir)  # type: ignore[arg-type]


def test_a_diverging_run_is_still_rolled_back(tmp_path: Path) -> None:
    """Training loss rising with validation: the guard calls it divergence and rolls back, lowering the rate."""
    events = run_all(_diverging_trainer(tmp_path / "run"))
    guards = [e for e in events if isinstance(e, GuardEvent)]
    assert guards and guards[0].action == "rollback", [g.action for g in guards]
    assert "diverging" in guards[0].message and "restored the weights of step 0" in guards[0].message
    assert guards[0].lr == pytest.approx(0.5)
    evals = [e for e in events if isinstance(e, EvalEvent) and e.step <= guards[0].step]
    assert evals[-1].train_bpc > evals[0].val_bpc  # the training loss itself rose above the untrained model's


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).model_state


def test_a_checkpoint_name_and_step_match_the_weights_inside(tmp_path: Path) -> None:
    """The run ends on the step the guard rolled back at (checkpoints every validation): nothing holds the
    restored weights under that step's name. Every file's step is its name's, and no two files hold the
    same weights; the last checkpoint is the best step's own file."""
    trainer = _diverging_trainer(tmp_path / "run")
    first = next(e for e in run_all(_diverging_trainer(tmp_path / "probe")) if isinstance(e, GuardEvent))
    trainer.config.max_steps = first.step  # end right at the rollback
    events = run_all(trainer)
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "finished"
    assert any(isinstance(e, GuardEvent) and e.action == "rollback" and e.step == first.step for e in events)
    files = registry.list_checkpoints(tmp_path / "run")
    assert files
    for info in files:
        assert load_checkpoint(info.path).train_state["step"] == info.step
    names = [info.path.name for info in files]
    for i, a in enumerate(files):
        for b in files[i + 1:]:
            same = all(torch.equal(x, y) for x, y in zip(_weights(a.path).values(), _weights(b.path).values()))
            assert not same, f"{a.path.name} and {b.path.name} hold the same weights ({names})"
    assert done.last_checkpoint is not None and done.last_checkpoint.name == f"step-{first.best_step:08d}.pt"
    saved = [e for e in events if isinstance(e, CheckpointEvent)]
    assert all(e.path.name == f"step-{e.step:08d}.pt" for e in saved)


def test_the_best_file_written_at_a_rollback_resumes_with_the_lowered_rate(tmp_path: Path) -> None:
    """A best the guard wrote from its snapshot is a real checkpoint: it loads, and a run resumed from it
    keeps the rate the guard lowered."""
    trainer = _diverging_trainer(tmp_path / "run", val_every=10, ckpt_every=1000)  # no periodic file holds the best
    first = next(e for e in run_all(_diverging_trainer(tmp_path / "probe", ckpt_every=1000)) if isinstance(e, GuardEvent))
    trainer.config.max_steps = first.step
    run_all(trainer)
    best = load_checkpoint(tmp_path / "run" / f"step-{first.best_step:08d}.pt")
    assert best.train_state["step"] == first.best_step and best.train_state["lr_scale"] == pytest.approx(0.5)
    resumed = Trainer(best.model(), best.vocab, TINY_TWEETS[:10], TINY_TWEETS[10:],
                      TrainConfig(**{**trainer.config.to_dict(), "max_steps": first.best_step + 5}), tmp_path / "run",
                      resume_from=best)
    assert resumed.lr_at(first.best_step + 1, 0.0) == pytest.approx(0.5)
    assert isinstance(run_all(resumed)[-1], DoneEvent)


def test_the_degraded_stop_is_printed_once(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard's stop line is the run's last word, said once (it was printed by the GuardEvent and again at the end)."""
    message = "validation stayed worse than its best (9.000 vs best 5.000 bits/char at step 10) after 3 rollbacks; stopped."

    def fake_run(self: Trainer):  # type: ignore[no-untyped-def]
        yield StartEvent(0, self.run_dir, "cpu", 10, 2, 100, None, None)
        yield GuardEvent(30, 9.0, 5.0, 10, "stop", 0.001, None, message)
        yield DoneEvent(30, "degraded", message, None, None)

    monkeypatch.setattr(Trainer, "run", fake_run)
    data = tmp_path / "t.txt"
    data.write_text("\n".join(TINY_TWEETS) + "\n")
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--hidden", "8", "--embed", "8", "--max-steps", "5"]) == 0
    assert capsys.readouterr().err.count("after 3 rollbacks") == 1
