"""Trainer: exact resume, events, checkpoints, divergence guard, pause/stop."""

from __future__ import annotations

import re
import threading

import pytest
import torch
from corehelpers import TINY_TWEETS, run_all, tiny_trainer

from core.model import gru_bf16
from core.store.checkpoints import load_checkpoint

from core.store.registry import list_checkpoints
from core.events import CheckpointEvent, DoneEvent, EvalEvent, PauseEvent, StartEvent, StepEvent
from core.train.trainer import Trainer, TrainConfig


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_resume_gives_the_same_weights_as_one_run(tmp_path, monkeypatch, precision: str) -> None:
    # bf16: forced on (the bench CPU has no bf16 arithmetic; torch's reference kernels still run it)
    monkeypatch.setattr(gru_bf16, "cpu_has_native_bf16", lambda: True)
    torch.set_num_threads(1)
    n = 24  # 3 batches per epoch: step 13 falls inside an epoch
    model = {"embed_dim": 8, "hidden_size": 16, "num_layers": 2, "dropout": 0.3}  # dropout draws from the RNG
    one = tiny_trainer(tmp_path / "one", max_steps=n, model_kwargs=model, precision=precision)
    assert one.model.precision == precision
    run_all(one)

    first = tiny_trainer(tmp_path / "two", max_steps=n, model_kwargs=model, log_interval_s=0.0, precision=precision)
    for event in first.run():
        if isinstance(event, StepEvent) and event.step == 13:
            first.stop()
    ckpt = load_checkpoint(first.last_checkpoint)
    assert ckpt.step == 13 and ckpt.train_state["batch_in_epoch"] == 1

    torch.manual_seed(12345)  # a fresh process would not share the first run's RNG state
    second = tiny_trainer(tmp_path / "two", max_steps=n, model_kwargs=model, resume_from=ckpt, precision=precision)
    run_all(second)
    assert second.progress.step == n
    resumed = weights(second)
    for key, value in weights(one).items():
        assert torch.equal(value, resumed[key]), key
    assert not torch.equal(weights(one)["decoder.weight"], ckpt.model_state["decoder.weight"])  # it did train on


def test_event_stream_and_checkpoints(tmp_path) -> None:
    trainer = tiny_trainer(tmp_path / "run", max_steps=12, val_every=5, ckpt_every=5, log_interval_s=0.0)
    events = run_all(trainer)
    assert isinstance(events[0], StartEvent) and isinstance(events[-1], DoneEvent)
    assert events[-1].reason == "finished"
    steps = [e.step for e in events if isinstance(e, StepEvent)]
    assert steps == list(range(1, 13))
    evals = [e for e in events if isinstance(e, EvalEvent)]
    assert [e.step for e in evals] == [0, 5, 10, 12]
    assert all(e.val_bpc > 0 for e in evals) and evals[-1].best_val_bpc == min(e.val_bpc for e in evals)
    saved = [e.step for e in events if isinstance(e, CheckpointEvent)]
    assert saved == [5, 10, 12]
    assert [i.step for i in list_checkpoints(tmp_path / "run")] == [5, 10, 12]
    first = [e for e in events if isinstance(e, StepEvent)][0]
    assert first.chars_per_s > 0 and first.total_steps == 12 and 0 < first.progress <= 1


def test_divergence_stops_and_keeps_last_good_checkpoint(tmp_path) -> None:
    """A checkpoint every step, so that some are written before the loss blows up (at lr 50 that takes a
    step or two): those stay, every one of them finite, and the diverged step is not saved."""
    trainer = tiny_trainer(tmp_path / "run", max_steps=400, ckpt_every=1, lr=50.0, warmup_steps=0,
                           lr_schedule="constant", clip=1e6)
    events = run_all(trainer)
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "diverged"
    assert "lower the learning rate" in done.message
    infos = list_checkpoints(tmp_path / "run")
    saved = [e.step for e in events if isinstance(e, CheckpointEvent)]
    assert infos and saved, "no checkpoint was written before the divergence: the loop below would check nothing"
    diverged_at = int(re.search(r"diverged at step (\d+)", done.message)[1])  # type: ignore[index]
    assert [i.step for i in infos] == saved and max(saved) < diverged_at, (saved, done.message)
    assert done.last_checkpoint is not None and load_checkpoint(done.last_checkpoint).step == max(saved)
    for info in infos:  # everything on disk is a good checkpoint
        ckpt = load_checkpoint(info.path)
        assert all(torch.isfinite(t).all() for t in ckpt.model_state.values())


def test_pause_resume_and_stop_from_another_thread(tmp_path) -> None:
    trainer = tiny_trainer(tmp_path / "run", max_steps=100000, log_interval_s=0.0)
    seen: list[object] = []

    def drive() -> None:
        for event in trainer.run():
            seen.append(event)
            if isinstance(event, StepEvent) and event.step == 5:
                trainer.pause()
            if isinstance(event, PauseEvent) and event.paused:
                trainer.request_save()
                trainer.resume()
            if isinstance(event, StepEvent) and event.step == 9:
                trainer.stop()

    thread = threading.Thread(target=drive)
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    pauses = [e.paused for e in seen if isinstance(e, PauseEvent)]
    assert pauses == [True, False]
    done = seen[-1]
    assert isinstance(done, DoneEvent) and done.reason == "stopped" and done.step == 9
    assert load_checkpoint(done.last_checkpoint).step == 9  # no completed step lost


def test_time_budget_ends_run(tmp_path) -> None:
    trainer = tiny_trainer(tmp_path / "run", max_steps=None, epochs=None, minutes=0.02)
    done = run_all(trainer)[-1]
    assert done.reason == "time" and trainer.progress.elapsed >= 1.2


def test_bad_config_values_are_rejected() -> None:
    import pytest

    for bad in ({"lr": 0}, {"batch_size": 0}, {"max_steps": 0}, {"minutes": -1}, {"lr_schedule": "zigzag"}):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
