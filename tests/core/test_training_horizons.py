"""Issue 8: training that never silently gets worse, one open-ended set-up, and length conditioning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from corehelpers import REPO, TINY_TWEETS, run_all, tiny_trainer

from core.store import checkpoints

from core.store import registry
from core import defaults
from core.train.process import TrainJob, prepare_job
from core.store.checkpoints import load_checkpoint, save_checkpoint
from core.cli.main import main
from core.data.batching import make_batch
from core.events import DoneEvent, EvalEvent, GuardEvent
from core.model.gru import CharGRU
from core.model.sampler import SampleConfig, sample_batch, stream
from core.train.trainer import TrainConfig, Trainer
from core.train.evaluate import evaluate_bpc, length_cost_bpc
from core.model.gru import new_model
from core.data.vocab import EOS_ID, CharVocab


# ---------------------------------------------------------------- the degradation guard


def _high_rate_trainer(run_dir: Path, **cfg: object) -> Trainer:
    """A 32-unit GRU on ten tweets, validated on two others. At rate 1.0 (the default here) it diverges: the
    training loss itself climbs within 10 steps. At 0.03 it memorises instead (tests/core/test_guard.py)."""
    torch.set_num_threads(1)
    vocab = CharVocab.build(TINY_TWEETS)
    model = new_model(vocab, seed=0, embed_dim=8, hidden_size=32)
    settings: dict[str, object] = dict(batch_size=5, optimizer="adam", lr=1.0, max_steps=400, val_every=10, ckpt_every=10,
                                       warmup_steps=0, guard_patience=2, guard_max_rollbacks=2, divergence_factor=100.0)
    settings.update(cfg)
    return Trainer(model, vocab, TINY_TWEETS[:10], TINY_TWEETS[10:], TrainConfig(**settings), run_dir)  # type: ignore[arg-type]


def test_the_guard_rolls_back_then_stops_naming_an_intact_best_checkpoint(tmp_path: Path) -> None:
    """Divergence (validation and training loss climbing past their bests) is answered (rollback + lower rate,
    then a stop), never carried on with. (Between rollbacks the model may overfit: that is said, not undone.)"""
    trainer = _high_rate_trainer(tmp_path / "run")
    events = run_all(trainer)
    evals = [e for e in events if isinstance(e, EvalEvent)]
    guards = [e for e in events if isinstance(e, GuardEvent) and e.action != "overfit"]
    done = events[-1]
    assert isinstance(done, DoneEvent)

    assert [g.action for g in guards] == ["rollback", "rollback", "stop"]
    first = guards[0]
    assert first.val_bpc > first.best_val_bpc + trainer.config.guard_margin
    assert first.lr == pytest.approx(1.0 * 0.5) and guards[1].lr == pytest.approx(1.0 * 0.25)
    # after a rollback the weights are the best ones again: the next validation is back near the best
    after = next(e for e in evals if e.step > first.step)
    assert after.val_bpc < first.val_bpc - 0.2

    assert done.reason == "degraded" and done.step < 400
    assert done.best_checkpoint is not None and str(done.best_checkpoint) in done.message
    best = load_checkpoint(done.best_checkpoint)  # intact, and it scores what it says
    assert best.metrics["val_bpc"] == pytest.approx(min(e.val_bpc for e in evals))
    val_ids = [best.vocab.encode(t) for t in TINY_TWEETS[10:]]
    model = best.model()
    assert evaluate_bpc(model, val_ids) + length_cost_bpc(model, val_ids) == pytest.approx(best.metrics["val_bpc"], abs=1e-4)
    # nothing was written after the run gave up
    newest = registry.latest_checkpoint(tmp_path / "run")
    assert newest is not None and newest.step < done.step and newest.path == done.last_checkpoint


def test_noise_below_the_margin_does_not_trigger_the_guard(tmp_path: Path) -> None:
    """A healthy run (a sane rate) reaches its budget with no guard event."""
    trainer = _high_rate_trainer(tmp_path / "run", lr=0.003, max_steps=60)
    events = run_all(trainer)
    assert not [e for e in events if isinstance(e, GuardEvent)]
    assert events[-1].reason == "finished"


def test_the_cli_prints_the_best_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "t.txt"
    data.write_text("\n".join(TINY_TWEETS) + "\n")
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--max-steps", "20", "--val-every", "10",
                 "--ckpt-every", "10", "--hidden", "8", "--embed", "8", "--val-fraction", "0.2"]) == 0
    err = capsys.readouterr().err
    line = next(line for line in err.splitlines() if line.startswith("best checkpoint: "))
    path = Path(line.split()[2])
    assert path.exists() and path.parent == tmp_path / "run"
    assert registry.best_checkpoint(tmp_path / "run").path == path


# ---------------------------------------------------------------- one open-ended set-up


def test_until_stopped_and_the_app_share_the_schedule_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tweetgen train --until-stopped` and the app's training child set up their runs with one
    function (core.train.setup.prepare_run), and the schedules they get are the same, step for step."""

    data = tmp_path / "t.txt"
    data.write_text("\n".join(TINY_TWEETS) + "\n")
    import core.train.setup

    real = core.train.setup.prepare_run
    calls: list[str] = []
    configs: list[TrainConfig] = []

    def spy(request: core.train.setup.RunRequest, **kwargs: object) -> core.train.setup.PreparedRun:
        calls.append("called")
        run = real(request, **kwargs)  # type: ignore[arg-type]
        configs.append(run.trainer.config)
        return run

    monkeypatch.setattr(core.train.setup, "prepare_run", spy)
    original_run = Trainer.run
    trainers: list[Trainer] = []

    def capture(self: Trainer):  # type: ignore[no-untyped-def]
        trainers.append(self)
        self.stop()  # stop before the first step: only the set-up is compared
        return original_run(self)

    monkeypatch.setattr(Trainer, "run", capture)
    assert main(["train", str(data), "--until-stopped", "--out", str(tmp_path / "cli"), "--hidden", "8", "--embed", "8",
                 "--quiet", "--threads", "1"]) == 0
    app_run = prepare_job(TrainJob(data, tmp_path / "app", train={}, model={"hidden_size": 8, "embed_dim": 8}, threads=1))
    app_trainer = app_run.trainer
    assert len(calls) == 2  # one call from each front end
    cli_config, app_config = configs
    for config in configs:
        assert (config.epochs, config.max_steps, config.minutes) == (None, None, None)
    assert {**cli_config.to_dict(), "device": None} == {**app_config.to_dict(), "device": None}
    cli_trainer = trainers[0]
    schedule = [(s, cli_trainer.lr_at(s, s * 0.1)) for s in range(0, 5000, 7)]
    assert schedule == [(s, app_trainer.lr_at(s, s * 0.1)) for s in range(0, 5000, 7)]
    assert type(cli_trainer.optimizer) is type(app_trainer.optimizer)
    assert schedule[-1][1] == cli_config.lr  # no budget: after warm-up the rate stays where it is


def test_until_stopped_refuses_a_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "t.txt"
    data.write_text("\n".join(TINY_TWEETS) + "\n")
    assert main(["train", str(data), "--until-stopped", "--epochs", "2", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--until-stopped" in err[0] and "--epochs" in err[0]


@pytest.mark.slow
def test_until_stopped_trains_until_sigterm_then_saves_and_exits_0(tmp_path: Path) -> None:
    data = tmp_path / "t.txt"
    data.write_text("\n".join(TINY_TWEETS) + "\n")
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli.main", "train", str(data), "--until-stopped", "--out", str(out), "--hidden", "8",
         "--embed", "8", "--ckpt-every", "50", "--threads", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not list(out.glob("step-*.pt")):
        time.sleep(0.2)
    time.sleep(1.0)
    assert proc.poll() is None, "an open-ended run ended on its own"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    last = load_checkpoint(Path(stdout.strip()))
    assert last.step > 50
    assert "stop" in registry.read_info(last.path).tags  # written by the stop, not a periodic one
    stored = last.train_state["train_config"]
    assert (stored["epochs"], stored["max_steps"], stored["minutes"]) == (None, None, None)
    assert stored["optimizer"] == "schedulefree"


# ---------------------------------------------------------------- length conditioning


def test_remaining_length_is_right_at_every_position_with_padding() -> None:
    vocab = CharVocab.build(["abcdef"])
    texts = ["ab", "abcdef", "", "abc"]
    batch = make_batch([vocab.encode(t) for t in texts])
    width = batch.inputs.shape[1]
    for row, text in enumerate(texts):
        n = len(text)
        expected = [n - t for t in range(n + 1)] + [0] * (width - n - 1)  # <bos>..last char, then padding
        assert batch.remaining[row].tolist() == expected
        assert batch.targets[row, n].item() == EOS_ID  # remaining 0 is where <eos> is the target
    assert batch.remaining.shape == batch.inputs.shape
    assert bool((batch.remaining[~batch.mask] == 0).all())


class _Recorder:
    """Wraps a model's forward and stepper to record the remaining counts the sampler passes."""

    def __init__(self, model: CharGRU) -> None:
        self.seen: list[list[int]] = []
        forward, make_stepper = model.forward, model.stepper

        def recording_forward(ids, hidden=None, remaining=None):  # type: ignore[no-untyped-def]
            self.seen.append(remaining[0].tolist())
            return forward(ids, hidden, remaining)

        def recording_stepper():  # type: ignore[no-untyped-def]
            step = make_stepper()

            def call(ids, hidden=None, remaining=None):  # type: ignore[no-untyped-def]
                self.seen.append(remaining.tolist())
                return step(ids, hidden, remaining)

            return call

        model.forward = recording_forward  # type: ignore[method-assign]
        model.stepper = recording_stepper  # type: ignore[method-assign]


@pytest.mark.parametrize("prime", ["", "the "])
def test_the_sampler_counts_down_from_the_target_length_through_the_prime(prime: str) -> None:
    vocab = CharVocab.build(TINY_TWEETS)
    model = new_model(vocab, seed=0, embed_dim=8, hidden_size=16, max_length=40, length_input=True).eval()
    recorder = _Recorder(model)
    text = "".join(c.char for c in stream(model, vocab, SampleConfig(length=12, prime=prime, max_len=30, seed=3)))
    primed, *steps = recorder.seen
    assert primed == [12 - t for t in range(len(prime) + 1)]  # <bos> and the prime's characters
    flat = [s[0] for s in steps]
    assert flat == [12 - len(prime) - 1 - k for k in range(len(flat))]  # one less for every character written
    assert len(flat) == len(text)  # one step after every character written
    # a batch counts down per row, each from its own drawn length
    model2 = new_model(vocab, seed=0, embed_dim=8, hidden_size=16, max_length=40, length_input=True).eval()
    model2.set_length_prior([5, 9, 30])
    rec2 = _Recorder(model2)
    sample_batch(model2, vocab, 3, SampleConfig(prime=prime, max_len=4, seed=1))
    assert {rec2.seen[0][0]} <= {5, 9, 30}


def test_lengths_are_drawn_from_the_corpus_counts_and_greedy_takes_the_mode() -> None:
    vocab = CharVocab.build(TINY_TWEETS)
    model = new_model(vocab, seed=0, embed_dim=8, hidden_size=16, max_length=50, length_input=True).eval()
    model.set_length_prior([10] * 30 + [20] * 10)
    from core.model.sampler import target_lengths

    gen = torch.Generator().manual_seed(0)
    draws = target_lengths(model, SampleConfig(), 4000, gen).tolist()
    assert set(draws) == {10, 20}
    assert 0.7 < draws.count(10) / len(draws) < 0.8
    assert target_lengths(model, SampleConfig(temperature=0), 3, gen).tolist() == [10, 10, 10]
    assert set(target_lengths(model, SampleConfig(prime="x" * 15), 50, gen).tolist()) == {20}  # no shorter than the prime
    assert target_lengths(model, SampleConfig(length=7), 2, gen).tolist() == [7, 7]


def test_resume_keeps_the_length_prior_and_the_length_limit(tmp_path: Path) -> None:
    first = tiny_trainer(tmp_path / "run", max_steps=6, ckpt_every=3)
    run_all(first)
    ckpt = load_checkpoint(first.last_checkpoint)
    assert ckpt.model_config.max_length == defaults.MAX_TWEET_LEN
    counts = ckpt.model_state["length_prior"]
    assert int(counts.sum()) == len(TINY_TWEETS) and int(counts[len(TINY_TWEETS[0])]) >= 1
    second = tiny_trainer(tmp_path / "run", max_steps=9, resume_from=ckpt)
    run_all(second)
    assert torch.equal(second.model.length_prior, counts)


def test_honest_bits_per_char_adds_the_length_cost() -> None:
    vocab = CharVocab.build(TINY_TWEETS)
    model = new_model(vocab, seed=0, embed_dim=8, hidden_size=16, max_length=60, length_input=True)
    model.set_length_prior([len(t) for t in TINY_TWEETS])
    ids = [vocab.encode(t) for t in TINY_TWEETS[:3]]
    probs = model.length_probs(smooth=True)
    expected = float(sum(-torch.log2(probs[len(t)]) for t in TINY_TWEETS[:3])) / sum(len(s) - 1 for s in ids)
    assert length_cost_bpc(model, ids) == pytest.approx(expected)
    assert length_cost_bpc(new_model(vocab, max_length=0), ids) == 0.0
    assert length_cost_bpc(new_model(vocab, max_length=60), ids) == 0.0  # counts lengths, is not told them: free


# ---------------------------------------------------------------- checkpoints of tweetgen 0.1


def _old_checkpoint(tmp_path: Path) -> Path:
    """A checkpoint as tweetgen 0.1 wrote it: no max_length, Adam with cosine, no optimizer name."""
    vocab = CharVocab.build(TINY_TWEETS)
    model = new_model(vocab, seed=0, embed_dim=8, hidden_size=16, max_length=0)
    adam = torch.optim.Adam(model.parameters(), lr=8e-3)
    path = save_checkpoint(tmp_path / "old" / "step-00000010.pt", model=model, vocab=vocab, optimizer=adam,
                           train_state={"step": 10, "epoch": 0, "batch_in_epoch": 10, "elapsed": 3.0,
                                        "train_config": {"lr": 8e-3, "lr_schedule": "cosine", "batch_size": 4,
                                                         "max_steps": 10, "val_every": 0, "ckpt_every": 0}},
                           metrics={"val_bpc": 4.0})
    payload = torch.load(path, weights_only=True)
    del payload["model_config"]["max_length"]
    torch.save(payload, path)
    return path


def test_an_old_checkpoint_loads_samples_and_resumes_with_adam(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _old_checkpoint(tmp_path)
    ckpt = load_checkpoint(path)
    assert ckpt.model_config.max_length == 0 and not ckpt.model().length_aware
    assert main(["sample", str(path), "-n", "2", "--seed", "1", "--max-len", "20"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    # no length input and no length counts: --length still steers it, through <eos> (core.model.sampler.eos_bias)
    assert main(["sample", str(path), "--length", "12", "-n", "3", "--seed", "2"]) == 0
    texts = capsys.readouterr().out.splitlines()
    assert len(texts) == 3 and all(len(t) >= 11 for t in texts)  # <eos> is banned below 12 - 10%

    data = tmp_path / "t.txt"
    data.write_text("\n".join(TINY_TWEETS) + "\n")
    assert main(["train", str(data), "--resume", str(path), "--max-steps", "4", "--quiet"]) == 0  # 4 more: 10 -> 14
    err = capsys.readouterr().err
    assert "did not fit" not in err  # it goes on with the optimizer it was trained with
    resumed = registry.latest_checkpoint(tmp_path / "old")
    assert resumed is not None and resumed.step == 14
    assert load_checkpoint(resumed.path).train_state["train_config"]["optimizer"] == "adam"


def test_sample_length_beyond_a_length_input_model_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model told the remaining length has a table up to its limit: a longer --length is refused in one line."""
    vocab = CharVocab.build(TINY_TWEETS)
    model = new_model(vocab, seed=0, embed_dim=8, hidden_size=16, max_length=140, length_input=True)
    path = save_checkpoint(tmp_path / "run" / "step-00000001.pt", model=model, vocab=vocab, optimizer=None,
                           train_state={"step": 1}, metrics={})
    assert main(["sample", str(path), "--length", "500"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "140" in err[0]
    assert main(["sample", str(path), "--length", "30", "-n", "2", "--seed", "4"]) == 0


def test_a_stop_checkpoint_scores_its_own_weights_so_it_can_be_the_best(tmp_path: Path) -> None:
    """Quitting between validations must not leave the best weights unscored (and so never chosen)."""
    from core.events import StepEvent

    trainer = tiny_trainer(tmp_path / "run", max_steps=50, val_every=5, ckpt_every=5, log_interval_s=0.0)
    for event in trainer.run():
        if isinstance(event, StepEvent) and event.step == 7:
            trainer.stop()
    info = registry.read_info(trainer.last_checkpoint)
    assert info.step == 7 and info.val_step == 7 and info.validated
    scored = {i.step: i.val_bpc for i in registry.list_checkpoints(tmp_path / "run")}
    assert registry.best_checkpoint(tmp_path / "run").step == min(scored, key=lambda s: (scored[s], -s))
