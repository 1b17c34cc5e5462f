"""core.store.policy: what the app loads at start-up, what it calls checkpoints, what space resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import policy
from core.store.checkpoints import save_checkpoint
from core.model.gru import new_model
from core.store.registry import runs_dir
from core.data.vocab import CharVocab

VOCAB = CharVocab.build(["abc def"])
MODEL = new_model(VOCAB, hidden_size=8, embed_dim=4)


def ckpt(path: Path, step: int, val_bpc: float | None = None) -> Path:
    """A tiny real checkpoint (with sidecar) at ``step``; ``val_bpc`` is measured at that step."""
    metrics = {} if val_bpc is None else {"val_bpc": val_bpc, "val_step": step}
    return save_checkpoint(path, model=MODEL, vocab=VOCAB, train_state={"step": step}, metrics=metrics)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run whose best (step 10, 1.5 bits/char) is not its newest (step 20, 2.5)."""
    run = tmp_path / "runs" / "tiny"
    ckpt(run / "step-00000010.pt", 10, 1.5)
    ckpt(run / "step-00000020.pt", 20, 2.5)
    return run


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return ckpt(tmp_path / "demo.pt", 15, 2.0)


# ---------------------------------------------------------------- the run directory


def test_the_run_directory_is_the_run_name_under_the_home(tmp_path: Path) -> None:
    assert policy.run_dir_for("tiny", explicit_run=False, checkpoint=None, home=tmp_path) == runs_dir(tmp_path) / "tiny"


def test_a_checkpoint_directory_is_the_run_directory_unless_run_is_given(tmp_path: Path, run: Path) -> None:
    assert policy.run_dir_for("x", explicit_run=False, checkpoint=run, home=tmp_path) == run
    assert policy.run_dir_for("x", explicit_run=True, checkpoint=run, home=tmp_path) == runs_dir(tmp_path) / "x"
    file = run / "step-00000010.pt"
    assert policy.run_dir_for("x", explicit_run=False, checkpoint=file, home=tmp_path) == runs_dir(tmp_path) / "x"


def test_the_runs_own_checkpoints_leave_out_runs_below_it(run: Path) -> None:
    ckpt(run / "nested" / "step-00000099.pt", 99)
    assert [i.step for i in policy.run_checkpoints(run)] == [10, 20]
    assert policy.run_checkpoints(run / "absent") == []


# ---------------------------------------------------------------- start-up


def test_start_up_loads_the_runs_best_not_its_newest_then_the_demo(run: Path, demo: Path) -> None:
    plan = policy.plan_boot(run, checkpoint=None, demo=demo)
    assert plan.candidates == [run / "step-00000010.pt", demo]
    assert plan.newest_of_run is not None and plan.newest_of_run.step == 20
    assert [i.step for i in plan.of_run] == [10, 20] and plan.problems == []


def test_start_up_without_validation_loads_the_newest(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ckpt(run / "step-00000010.pt", 10)
    ckpt(run / "step-00000020.pt", 20)
    assert policy.plan_boot(run, checkpoint=None, demo=None).candidates == [run / "step-00000020.pt"]


def test_a_checkpoint_file_comes_first_even_when_broken(tmp_path: Path, run: Path, demo: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    plan = policy.plan_boot(run, checkpoint=broken, demo=demo)
    assert plan.candidates == [broken, run / "step-00000010.pt", demo]  # loading it reports why; the rest are fallbacks


def test_a_checkpoint_directory_gives_its_choice_and_an_empty_one_a_problem(tmp_path: Path, run: Path, demo: Path) -> None:
    other = tmp_path / "other"
    ckpt(other / "a.pt", 5, 3.0)
    assert policy.plan_boot(run, checkpoint=other, demo=demo).candidates[0] == other / "a.pt"
    empty = tmp_path / "empty"
    empty.mkdir()
    plan = policy.plan_boot(run, checkpoint=empty, demo=demo)
    assert plan.problems == [(empty, f"{empty}: no checkpoints in this directory")]
    assert plan.candidates == [run / "step-00000010.pt", demo]


def test_a_candidate_is_tried_once_and_an_absent_demo_not_at_all(tmp_path: Path, run: Path) -> None:
    best = run / "step-00000010.pt"
    plan = policy.plan_boot(run, checkpoint=best, demo=tmp_path / "gone.pt")
    assert plan.candidates == [best]


def test_a_new_run_has_only_the_demo(tmp_path: Path, demo: Path) -> None:
    plan = policy.plan_boot(tmp_path / "new", checkpoint=None, demo=demo)
    assert plan.candidates == [demo] and plan.of_run == [] and plan.newest_of_run is None


# ---------------------------------------------------------------- labels, choice, listing


def test_labels(tmp_path: Path, run: Path, demo: Path) -> None:
    assert policy.label_for(demo, run_dir=run, demo=demo) == "demo"
    assert policy.label_for(run / "step-00000010.pt", run_dir=run, demo=demo) == "tiny"
    assert policy.label_for(run / ".." / "tiny" / "step-00000010.pt", run_dir=run, demo=demo) == "tiny"
    assert policy.label_for(tmp_path / "elsewhere.pt", run_dir=run, demo=demo) == "elsewhere.pt"
    assert policy.label_for(tmp_path / "elsewhere.pt", run_dir=None, demo=None) == "elsewhere.pt"


def test_the_choice_of_the_run_is_its_best_and_following_switches_only_when_it_moves(run: Path) -> None:
    infos = policy.run_checkpoints(run)
    best, newest = run / "step-00000010.pt", run / "step-00000020.pt"
    assert policy.is_choice_of_run(best, infos) and not policy.is_choice_of_run(newest, infos)
    assert policy.is_best_of_run(best, infos) and not policy.is_best_of_run(newest, infos)
    assert not policy.is_choice_of_run(None, infos) and not policy.is_choice_of_run(best, [])
    assert policy.follow_target(best, infos) is None
    assert policy.follow_target(newest, infos) == best
    assert policy.follow_target(None, infos) == best  # the untrained model follows the run
    assert policy.follow_target(None, []) is None


def test_the_listing_has_the_run_the_demo_and_a_checkpoint_file_once_each(tmp_path: Path, run: Path, demo: Path) -> None:
    other = ckpt(tmp_path / "other.pt", 7)
    steps = sorted(i.step for i in policy.listing(run, demo=demo, checkpoint=other))
    assert steps == [7, 10, 15, 20]
    # a --checkpoint that is the demo, or one of the run's files, is not listed twice; a directory is not an extra
    assert sorted(i.step for i in policy.listing(run, demo=demo, checkpoint=demo)) == [10, 15, 20]
    assert sorted(i.step for i in policy.listing(run, demo=demo, checkpoint=run / "step-00000010.pt")) == [10, 15, 20]
    assert policy.listed_extras(demo=demo, checkpoint=run) == [demo]


def test_a_broken_extra_is_left_out_of_the_listing(tmp_path: Path, run: Path, demo: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert sorted(i.step for i in policy.listing(run, demo=demo, checkpoint=broken)) == [10, 15, 20]
    assert sorted(i.step for i in policy.listing(tmp_path / "new", demo=None, checkpoint=None)) == []


# ---------------------------------------------------------------- the space key


def test_space_resumes_the_run_when_it_has_a_checkpoint(run: Path, demo: Path) -> None:
    assert policy.resume_from(run, checkpoint=demo) == run


def test_space_resumes_a_run_whose_checkpoint_is_not_step_named(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ckpt(run / "keep-this.pt", 30)
    assert policy.resume_from(run, checkpoint=None) == run


def test_space_starts_from_a_checkpoint_file_else_fresh(tmp_path: Path, demo: Path) -> None:
    new = tmp_path / "new"
    assert policy.resume_from(new, checkpoint=demo) == demo
    assert policy.resume_from(new, checkpoint=None) is None
    unreadable = tmp_path / "run"
    unreadable.mkdir()
    (unreadable / "step-00000001.pt").write_bytes(b"cut off")  # not resumable: the run starts fresh
    assert policy.resume_from(unreadable, checkpoint=None) is None
    assert policy.resume_from(new, checkpoint=tmp_path) is None  # a directory is not a file to start from
