"""Load: an 8-hour session compressed, and readers racing the writer.

10,000 steps of a tiny model with a checkpoint every 10 steps and retention (keep-last 3,
keep-best 2): the number of files and bytes on disk stay bounded, the best checkpoints
survive, and the registry stays fast. Then readers load checkpoints while the trainer
writes and prunes them: every load is one whole checkpoint or one clear error.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest
import torch
from corehelpers import TINY_TWEETS, tiny_trainer

from core.store import checkpoints
from core.store.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from core.store.registry import latest_checkpoint, list_checkpoints
from core.events import CheckpointEvent, DoneEvent
from core.model.gru import CharGRU, ModelConfig
from core.data.vocab import CharVocab

KEEP_LAST, KEEP_BEST = 3, 2


def _weights_hash(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(bytes(state[key].detach().cpu().contiguous().view(torch.uint8).flatten().tolist()))
    return h.hexdigest()


def _no_unpickling(*args: object, **kwargs: object) -> None:
    raise AssertionError("the registry unpickled a checkpoint")


@pytest.mark.slow
def test_ten_thousand_steps_with_retention_stay_bounded_and_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 checkpoints written, never more than keep-last + keep-best on disk; the best survive; listing reads
    the sidecars, never a weight file (how fast it lists is measured by `python -m bench.listing`).

    fsync is switched off for speed: this test is about retention and the registry, not durability
    (which test_reliability_crash.py covers with real SIGKILLs).
    """
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    torch.set_num_threads(1)
    run = tmp_path / "run"
    texts = [f"{w} {i}" for i in range(3) for w in ("hi", "ok", "yes", "no")]  # short: a step is about a millisecond
    trainer = tiny_trainer(run, texts, max_steps=10_000, ckpt_every=10, val_every=50, batch_size=4, keep_last=KEEP_LAST,
                           keep_best=KEEP_BEST, log_interval_s=60.0, model_kwargs={"embed_dim": 4, "hidden_size": 8})
    trainer.val_ids = trainer.val_ids[:2]
    written: dict[int, float | None] = {}
    max_files = max_bytes = 0
    list_sizes: list[int] = []
    done = None
    for event in trainer.run():
        if isinstance(event, CheckpointEvent):
            written[event.step] = event.val_bpc
            files = list(run.glob("*.pt"))
            max_files = max(max_files, len(files))
            max_bytes = max(max_bytes, sum(p.stat().st_size for p in run.iterdir()))
            if event.step % 1000 == 0:
                with monkeypatch.context() as patched:
                    patched.setattr(torch, "load", _no_unpickling)
                    listed = list_checkpoints(run)
                list_sizes.append(len(listed))
        elif isinstance(event, DoneEvent):
            done = event
    assert done is not None and done.reason == "finished" and done.step == 10_000
    assert len(written) == 1000
    assert max_files <= KEEP_LAST + KEEP_BEST
    one = (run / "step-00010000.pt").stat().st_size
    assert max_bytes <= (KEEP_LAST + KEEP_BEST) * (one + 4096), (max_bytes, one)
    infos = list_checkpoints(run)
    kept = {i.step for i in infos}
    assert {9980, 9990, 10_000} <= kept and len(kept) <= KEEP_LAST + KEEP_BEST
    # retention keeps the best *validated* checkpoints: those whose score measures their own weights
    # (validation every 50 steps; the others carry the score of the validation before them)
    best_ever = sorted(v for step, v in written.items() if v is not None and step % 50 == 0)[:KEEP_BEST]
    best_kept = sorted(i.val_bpc for i in infos if i.val_bpc is not None)[:KEEP_BEST]
    assert best_kept == pytest.approx(best_ever)
    assert not list(run.glob(f".*{checkpoints.TMP_SUFFIX}"))
    assert len(list_sizes) == 10 and all(1 <= n <= KEEP_LAST + KEEP_BEST for n in list_sizes), list_sizes
    print(f"\n1,000 checkpoints written; at most {max_files} files / {max_bytes:,} bytes on disk")


def test_prune_keeps_what_a_resumed_run_writes(tmp_path: Path) -> None:
    """Resuming from an early checkpoint next to later ones: retention keeps the new files, not the old high steps."""
    from corehelpers import run_all

    run = tmp_path / "run"
    run_all(tiny_trainer(run, max_steps=8, ckpt_every=2))
    early = load_checkpoint(run / "step-00000002.pt")
    resumed = tiny_trainer(run, max_steps=6, ckpt_every=1, keep_last=2, keep_best=0, resume_from=early)
    events = run_all(resumed)
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.last_checkpoint is not None and done.last_checkpoint.exists()
    assert sorted(i.step for i in list_checkpoints(run)) == [5, 6]


def test_readers_loading_while_the_trainer_writes_and_prunes_see_whole_checkpoints(tmp_path: Path) -> None:
    """Two reader threads load the newest checkpoint non-stop while training writes one every step and prunes.

    Each successful load must be exactly the weights the trainer had at that step; the only
    acceptable failure is a clear 'removed' error for a file retention deleted meanwhile.
    """
    run = tmp_path / "run"
    trainer = tiny_trainer(run, max_steps=80, ckpt_every=1, keep_last=2, keep_best=0)
    saved: dict[int, str] = {}
    loaded: list[tuple[int, str]] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            info = latest_checkpoint(run)
            if info is None:
                continue
            try:
                ckpt = load_checkpoint(info.path)
            except CheckpointError as exc:
                errors.append(str(exc))
                continue
            assert info.path.name == checkpoints.checkpoint_name(ckpt.step)
            loaded.append((ckpt.step, _weights_hash(ckpt.model_state)))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for event in trainer.run():
            if isinstance(event, CheckpointEvent):
                saved[event.step] = _weights_hash(trainer.averaged_model().state_dict())  # what a checkpoint holds
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert loaded, "the readers never got a checkpoint"
    for step, digest in loaded:
        assert saved[step] == digest, f"step {step}: loaded weights differ from what was saved"
    assert all("removed" in e or "no such checkpoint" in e for e in errors), errors[:3]


def test_loading_a_path_while_it_is_rewritten_never_mixes_two_checkpoints(tmp_path: Path) -> None:
    """One path written over and over with two different checkpoints; every load is wholly one or the other."""
    vocab = CharVocab.build(TINY_TWEETS)
    torch.manual_seed(1)
    a = CharGRU(ModelConfig(len(vocab), 8, 16))
    torch.manual_seed(2)
    b = CharGRU(ModelConfig(len(vocab), 8, 16))
    expected = {1: _weights_hash(a.state_dict()), 2: _weights_hash(b.state_dict())}
    path = tmp_path / "step-00000001.pt"
    save_checkpoint(path, model=a, vocab=vocab, train_state={"step": 1})
    stop = threading.Event()
    seen: list[tuple[int, str]] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            model, step = (a, 1) if i % 2 else (b, 2)
            save_checkpoint(path, model=model, vocab=vocab, train_state={"step": step})
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:  # until both versions were read (and a few hundred loads raced the writer), however slow the machine
        deadline = time.monotonic() + 120
        while len(seen) < 200 or {s for s, _ in seen} != {1, 2}:
            assert time.monotonic() < deadline, f"{len(seen)} loads in 120 s saw steps {sorted({s for s, _ in seen})}"
            ckpt = load_checkpoint(path)
            seen.append((ckpt.step, _weights_hash(ckpt.model_state)))
    finally:
        stop.set()
        thread.join()
    assert {s for s, _ in seen} == {1, 2}, "the test must see both versions"
    for step, digest in seen:
        assert expected[step] == digest, "a load mixed two checkpoints"


def test_registry_of_a_thousand_checkpoints_lists_from_sidecars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Listing 1,000 checkpoints (retention off) reads the small sidecars, never unpickles a weight file."""
    from corehelpers import many_checkpoints

    run = tmp_path / "run"
    many_checkpoints(run)

    monkeypatch.setattr(torch, "load", _no_unpickling)
    infos = list_checkpoints(run)  # how fast: `python -m bench.listing`
    assert [i.step for i in infos] == list(range(1, 1001))
