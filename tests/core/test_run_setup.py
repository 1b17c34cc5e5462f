"""The one run set-up (core.train.setup): both front ends, one budget rule, one set of defaults,
unknown settings refused from a caller and tolerated only from an old checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from corehelpers import TINY_TWEETS

from core import defaults
from core.train.process import TrainJob, prepare_job
from core.store.checkpoints import load_checkpoint
from core.cli.main import main
from core.store.registry import latest_checkpoint
from core.train.setup import RunRequest, prepare_run, train_config
from core.train.device import resolve_device
from core.train.trainer import TrainConfig

TINY = {"hidden_size": 8, "embed_dim": 8}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(TINY_TWEETS) + "\n", encoding="utf-8")
    return path


def _finish(run) -> int:  # type: ignore[no-untyped-def]
    """Train a prepared run to its end; the last step."""
    try:
        for _event in run.trainer.run():
            pass
    finally:
        run.lock.release()
    return run.trainer.progress.step


def _trained(corpus: Path, run_dir: Path, steps: int) -> Path:
    run = prepare_run(RunRequest(corpus, run_dir=run_dir, model=TINY, train={"max_steps": steps, "threads": 1}))
    assert _finish(run) == steps
    info = latest_checkpoint(run_dir)
    assert info is not None and info.step == steps
    return info.path


def test_a_budget_counts_from_where_the_run_starts_in_both_front_ends(corpus: Path, tmp_path: Path) -> None:
    """Resumed at step 5 with a budget of 4 steps: the CLI and the app both end at step 9."""
    start = _trained(corpus, tmp_path / "start", 5)
    assert main(["train", str(corpus), "--resume", str(start), "--out", str(tmp_path / "cli"), "--max-steps", "4",
                 "--quiet", "--threads", "1"]) == 0
    cli_end = latest_checkpoint(tmp_path / "cli")
    with prepare_job(TrainJob(corpus, tmp_path / "app", resume_from=start, train={"max_steps": 4}, threads=1)) as app:
        for _event in app.trainer.run():
            pass
    assert cli_end is not None and cli_end.step == 9
    assert app.trainer.progress.step == 9


def test_without_a_budget_a_resumed_run_finishes_its_own_and_a_finished_one_trains_the_default_epochs() -> None:
    stored = TrainConfig(max_steps=100).to_dict()
    assert train_config(stored, {}, until_stopped=False, start=(40, 1, 0.5)).max_steps == 100, "60 steps of its budget left"
    done = train_config(stored, {}, until_stopped=False, start=(100, 3, 1.0))
    assert done.epochs == 3 + defaults.EPOCHS_WITHOUT_BUDGET and done.max_steps is None
    fresh = train_config(None, {}, until_stopped=False)
    assert fresh.epochs == defaults.EPOCHS_WITHOUT_BUDGET
    assert train_config(stored, {}, until_stopped=True, start=(40, 1, 0.5)).max_steps is None, "until stopped: no end"
    minutes = train_config(stored, {"minutes": 2.0}, until_stopped=False, start=(40, 1, 3.0))
    assert (minutes.minutes, minutes.max_steps) == (5.0, None), "a new budget replaces the stored one, from the start point"


def test_one_set_of_defaults_for_every_run(corpus: Path, tmp_path: Path) -> None:
    """A budgeted CLI run, an open-ended one and the app's child train with the same settings
    apart from the budget; the defaults are core.defaults'."""
    configs = []
    for until_stopped in (False, True):
        run = prepare_run(RunRequest(corpus, run_dir=tmp_path / f"cli-{until_stopped}", model=TINY, until_stopped=until_stopped))
        configs.append(run.trainer.config)
        run.lock.release()
    app = prepare_job(TrainJob(corpus, tmp_path / "app", model=TINY, threads=1))
    app.release()
    configs.append(app.trainer.config)
    budgetless = [{**c.to_dict(), "epochs": None, "threads": None} for c in configs]
    assert budgetless[0] == budgetless[1] == budgetless[2]
    c = configs[2]
    sized = defaults.corpus_settings(len(TINY_TWEETS))["train"]  # a corpus this small: the small-corpus batch
    assert (c.val_every, c.ckpt_every, c.lr, c.batch_size) == (defaults.VAL_EVERY, defaults.CKPT_EVERY, defaults.LR,
                                                               sized.get("batch_size", defaults.BATCH_SIZE))
    assert app.trainer.model.config.hidden_size == 8 and app.trainer.model.config.max_length == defaults.MAX_TWEET_LEN


@pytest.mark.parametrize("field,value", [("train", {"learning_rate": 0.1}), ("filters", {"max_length": 90}),
                                         ("model", {"hidden": 8})])
def test_an_unknown_setting_from_a_caller_is_an_error(corpus: Path, tmp_path: Path, field: str, value: dict) -> None:
    request = RunRequest(corpus, run_dir=tmp_path / "run", **{field: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown .*setting"):
        prepare_run(request)
    with pytest.raises(ValueError, match="unknown .*setting"):
        prepare_job(TrainJob(corpus, tmp_path / "app", threads=1, **{field: value}))  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists(), "refused before anything was written"


def test_a_checkpoint_from_another_version_may_carry_unknown_settings(corpus: Path, tmp_path: Path) -> None:
    """Stored fields this version does not know are ignored; the device it trained on is not inherited."""
    path = _trained(corpus, tmp_path / "run", 3)
    payload = torch.load(path, weights_only=True)
    ts = payload["train_state"]
    # a device other than the one this machine's "auto" gives, on a GPU machine and on a CPU-only one alike
    elsewhere = "cpu" if resolve_device("auto").type != "cpu" else "cuda:7"
    ts["train_config"] = {**ts["train_config"], "a_setting_from_the_future": 1, "device": elsewhere}
    ts["filter_config"] = {**ts["filter_config"], "another_one": True}
    older = tmp_path / "older" / "step-00000003.pt"
    older.parent.mkdir()
    torch.save(payload, older)
    assert load_checkpoint(older).train_state["train_config"]["a_setting_from_the_future"] == 1
    run = prepare_run(RunRequest(corpus, resume=older.parent, train={"max_steps": 1, "threads": 1}))
    assert run.run_dir == older.parent and run.trainer.config.device == "auto"
    assert run.trainer.device.type == resolve_device("auto").type != torch.device(elsewhere).type, (run.trainer.device, elsewhere)
    assert _finish(run) == 4


def test_until_stopped_with_a_budget_is_refused_before_reading_anything(tmp_path: Path) -> None:
    missing = tmp_path / "not-there.csv"
    with pytest.raises(ValueError, match="--until-stopped trains without a budget"):
        prepare_run(RunRequest(missing, until_stopped=True, train={"max_steps": 3}))


def test_several_data_files_train_as_one_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`tweetgen train A B`: both read, repeats across files dropped once, both recorded in the checkpoint."""
    a, b = tmp_path / "a.txt", tmp_path / "b.csv"
    a.write_text("\n".join(TINY_TWEETS[:8]) + "\n", encoding="utf-8")
    b.write_text("text\n" + "\n".join(f'"{t}"' for t in TINY_TWEETS[6:]) + "\n", encoding="utf-8")  # 2 repeats
    assert main(["train", str(a), str(b), "--out", str(tmp_path / "run"), "--max-steps", "2", "--hidden", "8", "--embed", "8",
                 "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "12 of 14 items kept from 2 files (text, csv" in " ".join(err.split()) and "duplicate 2" in err
    info = latest_checkpoint(tmp_path / "run")
    assert info is not None
    ts = load_checkpoint(info.path).train_state
    assert ts["data_paths"] == [str(a), str(b)] and ts["data_path"] == str(a)
    bad = tmp_path / "empty.txt"
    bad.write_text("\n", encoding="utf-8")
    assert main(["train", str(a), str(bad), "--out", str(tmp_path / "run2"), "--max-steps", "2", "--quiet"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0]


# ---------------------------------------------------------------- issue 16: defaults that follow the corpus's size


def test_a_small_corpus_gets_the_small_corpus_defaults_and_a_large_one_todays(corpus: Path, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Below SMALL_CORPUS texts a new run gets the measured small-corpus dropout and batch (both front ends:
    prepare_run); at or above it, exactly the defaults it always had; what the caller chose always wins."""
    assert defaults.corpus_settings(defaults.SMALL_CORPUS) == {"model": {}, "train": {}}
    assert defaults.corpus_settings(1000)["model"]["dropout"] == defaults.SMALL_DROPOUT > 0
    run = prepare_run(RunRequest(corpus, run_dir=tmp_path / "small", model=TINY, train={"max_steps": 1}))
    run.lock.release()
    assert run.trainer.model.config.dropout == defaults.SMALL_DROPOUT
    assert run.trainer.config.batch_size == defaults.SMALL_BATCH_SIZE
    assert run.trainer.config.weight_decay == defaults.SMALL_WEIGHT_DECAY == 0.0
    chosen = prepare_run(RunRequest(corpus, run_dir=tmp_path / "chosen", model={**TINY, "dropout": 0.1},
                                    train={"max_steps": 1, "batch_size": 8}))
    chosen.lock.release()
    assert (chosen.trainer.model.config.dropout, chosen.trainer.config.batch_size) == (0.1, 8)
    monkeypatch.setattr(defaults, "SMALL_CORPUS", len(TINY_TWEETS))  # this corpus now counts as large
    large = prepare_run(RunRequest(corpus, run_dir=tmp_path / "large", model=TINY, train={"max_steps": 1}))
    large.lock.release()
    assert large.trainer.model.config.dropout == defaults.DROPOUT == 0.0
    assert large.trainer.config.batch_size == defaults.BATCH_SIZE
    assert large.trainer.config.weight_decay == defaults.WEIGHT_DECAY == 0.1  # issue 17


def test_the_hidden_size_follows_the_corpus_size_unless_chosen(corpus: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: a new run on a large corpus gets the bigger default model (512); a small corpus keeps the 256
    its small-corpus settings were measured with; a chosen --hidden wins on both."""
    assert defaults.SMALL_HIDDEN_SIZE < defaults.HIDDEN_SIZE

    def hidden(name: str, **model: int) -> int:
        run = prepare_run(RunRequest(corpus, run_dir=tmp_path / name, model={"embed_dim": 8, **model}, train={"max_steps": 1}))
        run.lock.release()
        return run.trainer.model.config.hidden_size

    assert hidden("small") == defaults.SMALL_HIDDEN_SIZE
    assert hidden("small-chosen", hidden_size=24) == 24
    monkeypatch.setattr(defaults, "SMALL_CORPUS", len(TINY_TWEETS))
    assert hidden("large") == defaults.HIDDEN_SIZE
    assert hidden("large-chosen", hidden_size=24) == 24


def test_a_checkpoint_of_todays_defaults_still_loads_samples_and_resumes_with_its_own_settings(corpus: Path, tmp_path: Path) -> None:
    """A run started before issue 16 (no dropout, batch 32) on a small corpus resumes as it was: the
    small-corpus defaults are for new runs only."""
    from core.model.sampler import SampleConfig, sample

    old = prepare_run(RunRequest(corpus, run_dir=tmp_path / "old", model={**TINY, "dropout": 0.0},
                                 train={"max_steps": 4, "batch_size": 32, "threads": 1}))
    _finish(old)
    path = latest_checkpoint(tmp_path / "old").path
    ckpt = load_checkpoint(path)
    assert isinstance(sample(ckpt.model(), ckpt.vocab, SampleConfig(seed=0, max_len=20)), str)
    resumed = prepare_run(RunRequest(corpus, resume=path, train={"max_steps": 2, "threads": 1}))
    assert resumed.trainer.model.config.dropout == 0.0 and resumed.trainer.config.batch_size == 32
    assert _finish(resumed) == 6


def test_a_prepared_run_owns_its_lock_for_as_long_as_it_is_held(corpus: Path, tmp_path: Path) -> None:
    """The app's child keeps the prepared run (not a lock hung on its trainer): the directory is refused to
    a second run while the run is held, and free once it is released (``with`` releases it)."""
    from core.store import runlock

    run_dir = tmp_path / "app"
    with prepare_job(TrainJob(corpus, run_dir, model=TINY, threads=1)) as run:
        assert not hasattr(run.trainer, "run_lock"), "the trainer carries no lock: the run owns it"
        with pytest.raises(runlock.RunDirError, match="in use by another training run"):
            runlock.acquire(run_dir, fresh=False)
    runlock.acquire(run_dir, fresh=False).release()


def test_a_run_trained_without_weight_decay_resumes_without_it_and_a_chosen_one_wins(corpus: Path, tmp_path: Path,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17 made 0.1 the default for new runs on large corpora; a checkpoint of the old default (0) resumes with
    0, and the optimizer gets what the config says (tweetgen train --weight-decay reaches it)."""
    monkeypatch.setattr(defaults, "SMALL_CORPUS", len(TINY_TWEETS))  # this corpus counts as large
    old = prepare_run(RunRequest(corpus, run_dir=tmp_path / "old", model=TINY,
                                 train={"max_steps": 2, "threads": 1, "weight_decay": 0.0}))
    _finish(old)
    path = latest_checkpoint(tmp_path / "old").path
    resumed = prepare_run(RunRequest(corpus, resume=path, train={"max_steps": 1, "threads": 1}))
    assert resumed.trainer.config.weight_decay == 0.0
    assert {g["weight_decay"] for g in resumed.trainer.optimizer.param_groups} == {0.0}
    resumed.lock.release()
    new = prepare_run(RunRequest(corpus, run_dir=tmp_path / "new", model=TINY, train={"max_steps": 1, "threads": 1}))
    assert {g["weight_decay"] for g in new.trainer.optimizer.param_groups} == {defaults.WEIGHT_DECAY}
    new.lock.release()
    from core.cli.main import main
    assert main(["train", str(corpus), "--out", str(tmp_path / "cli"), "--max-steps", "1", "--hidden", "8", "--embed", "4",
                 "--threads", "1", "--quiet", "--weight-decay", "0.3"]) == 0
    assert load_checkpoint(latest_checkpoint(tmp_path / "cli").path).train_state["train_config"]["weight_decay"] == 0.3


def test_the_weight_decay_default_is_schedule_free_s_and_adam_keeps_none() -> None:
    """0.1 was measured with schedule-free AdamW (decoupled); with "adam" torch's weight_decay is an L2 term the classic
    recipe never had, so its default stays 0. A chosen value wins for both."""
    from core.train.trainer import TrainConfig

    assert TrainConfig().weight_decay == defaults.WEIGHT_DECAY == 0.1
    assert TrainConfig(optimizer="adam").weight_decay == 0.0
    assert TrainConfig(optimizer="adam", weight_decay=0.2).weight_decay == 0.2
    assert TrainConfig(weight_decay=0.0).weight_decay == 0.0
