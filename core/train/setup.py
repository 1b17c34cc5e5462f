"""One run set-up for both front ends: a :class:`RunRequest` becomes a ready trainer.

``tweetgen train`` and the app's training process both call :func:`prepare_run`, so they
resolve a resume, read the corpus, pick the settings, split, build the vocabulary and
model, and lock the run directory the same way (as harlequin's ``query.py`` serves its
app and its CLI alike).

**The budget rule** (one, for both): a budget counts from where the run starts.
``max_steps=100`` trains 100 steps, whether the run is fresh or resumed at step 900
(it then ends at 1,000); ``epochs`` and ``minutes`` likewise. Without a budget:

- ``until_stopped`` (the app, ``tweetgen train --until-stopped``): no end;
- otherwise a resumed run finishes the budget it was started with, if any of it is
  left, and a fresh run (or a finished one) trains ``EPOCHS_WITHOUT_BUDGET`` epochs.

**Settings**: a caller's settings must all be known (an unknown one is a ``ValueError``);
only a stored checkpoint's settings, written by another version, are filtered to the
known ones. The defaults are :mod:`core.defaults`'s, the same for every run except those
that follow the corpus's size (``corpus_settings``: a new run on a small corpus); a resumed
run keeps its stored settings except the device and threads, which belong to the
machine it runs on now.

**Processes** (``torchrun``, :mod:`core.train.distributed`): ``batch_size`` is per process, so
the global batch is ``batch_size`` times the processes. A run resumed on another number
of processes keeps its global batch when no batch size is given (2 x 16 resumes on one
process as 1 x 32), so it continues as it would have. Every rank prepares the same run;
only rank 0 locks the run directory (and so creates it), and a new run's directory
name is rank 0's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import defaults
from core.defaults import known_fields
from core.errors import Hint, SettingError, hint

if TYPE_CHECKING:
    from core.store.checkpoints import Checkpoint
    from core.data.corpus import LoadReport
    from core.store.runlock import RunLock
    from core.train.trainer import TrainConfig, Trainer

BUDGET_KEYS = ("epochs", "max_steps", "minutes")
MODEL_KEYS = ("embed_dim", "hidden_size", "num_layers", "dropout", "length_input")  # what a caller may choose for a new run
MEMORY_HINT = hint("use a smaller {hidden_size}, {embed_dim}, {num_layers} or {batch_size}, or a lower {max_tweet_len}")


@dataclass(frozen=True)
class RunRequest:
    """What to train. Plain values only (it crosses into the app's training process).

    ``train``/``model``/``filters`` hold the settings the caller chose, by their
    ``TrainConfig``/``ModelConfig``/``FilterConfig`` names; ``None`` values count as not
    chosen. ``model`` applies to a new run only.
    """

    data: Path | tuple[Path, ...]  # one corpus file (or archive), or several read as one corpus
    run_dir: Path | None = None  # None: a new directory under the home, or the resumed checkpoint's
    run_name: str | None = None  # the directory's name under ``home``/runs (default: DATA's name + time)
    home: Path | None = None
    resume: Path | None = None  # a checkpoint file, or a run directory (its newest checkpoint)
    train: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)
    filters: Mapping[str, Any] = field(default_factory=dict)
    until_stopped: bool = False
    val_fraction: float | None = None  # None: the default (a resumed run keeps its own)
    fmt: str = "auto"
    column: str | None = None
    allow_unknown: bool = False  # resume even when much of the corpus is unknown to the checkpoint
    allow_unknown_hint: str | Hint = hint("add {allow_unknown}")  # how the caller's user says so
    other_dir_hint: str | Hint = hint("choose another {run} or {run_dir}")  # how the caller's user picks another run directory

    @property
    def paths(self) -> tuple[Path, ...]:
        """The corpus files, as a tuple even when one was given."""
        return tuple(Path(p) for p in self.data) if isinstance(self.data, (tuple, list)) else (Path(self.data),)


@dataclass
class PreparedRun:
    """A run ready to go: ``trainer.run()`` trains it. The run owns ``lock``, which holds the run
    directory for this process from :func:`prepare_run` until :meth:`release` (or ``with run:``,
    or this object or the process ending): keep the run, not only its trainer, while it trains."""

    trainer: Trainer
    run_dir: Path
    resumed: Checkpoint | None
    report: LoadReport
    lock: RunLock

    def release(self) -> None:
        """Free the run directory for other runs (idempotent)."""
        self.lock.release()

    def __enter__(self) -> PreparedRun:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def check_settings(cls: type, given: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The caller's chosen settings (``None`` dropped); an unknown name is a ``ValueError``."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ValueError(f"unknown {what} setting(s): {', '.join(unknown)}")
    return {k: v for k, v in given.items() if v is not None}


def train_config(stored: Mapping[str, Any] | None, given: Mapping[str, Any], *, until_stopped: bool,
                 start: tuple[int, int, float] = (0, 0, 0.0), worlds: tuple[int, int] = (1, 1)) -> TrainConfig:
    """The settings a run trains with: defaults, then a resumed run's stored ones, then ``given``.

    ``start`` is where the run starts: (step, epoch, minutes of training so far); budgets
    in ``given`` count from it (the module's budget rule). ``worlds`` is (the processes
    the stored run trained with, the processes this one trains with): without a given
    batch size, the stored global batch is kept, divided among the processes (rounded up).
    """
    from core.train.trainer import TrainConfig

    chosen = check_settings(TrainConfig, given, "training")
    budget = {k: chosen.pop(k) for k in BUDGET_KEYS if k in chosen}
    if until_stopped and budget:
        raise SettingError(hint("{until_stopped} trains without a budget; leave out {budget}"))
    settings = TrainConfig.from_stored(dict(stored or {}))
    stored_budget = {k: settings.pop(k, None) for k in BUDGET_KEYS}
    settings.pop("threads", None)  # the machine's, not the checkpoint's
    settings["device"] = "auto"  # a stored "cuda" must not break a CPU-only machine
    old_world, world = worlds
    if stored and "batch_size" not in chosen and old_world != world and isinstance(settings.get("batch_size"), int):
        settings["batch_size"] = max(1, -(-settings["batch_size"] * old_world // world))
    settings.update(chosen)
    step, epoch, minutes = start
    if budget:
        ends = {"epochs": epoch, "max_steps": step, "minutes": minutes}
        settings.update({k: ends[k] + v for k, v in budget.items()})
    elif not until_stopped:
        left = {k: v for k, v in stored_budget.items() if v is not None and v > {"epochs": epoch, "max_steps": step,
                                                                                  "minutes": minutes}[k]}
        settings.update(left or {"epochs": epoch + defaults.EPOCHS_WITHOUT_BUDGET})
    return TrainConfig(**settings)


def new_run_dir(request: RunRequest) -> Path:
    """Where a new run's checkpoints go when the request names no directory."""
    from core.store.registry import runs_dir

    name = request.run_name or f"{request.paths[0].stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    return runs_dir(request.home) / name


def prepare_run(request: RunRequest, *, on_report: Callable[[LoadReport, int], None] | None = None,
                on_note: Callable[[str, int], None] | None = None) -> PreparedRun:
    """Resolve, read, configure, build and lock: the one set-up of a training run.

    Raises ``CorpusError``, ``CheckpointError``, ``ValueError`` (bad settings, and
    ``LimitError`` / ``RunDirError``, its subclasses) with one-line messages a user can
    act on. ``on_report`` gets the corpus load report as soon as it exists; ``on_note``
    each line worth showing (unknown characters, what a resume restored); both also get
    the step the run starts from.
    """
    from core.train import distributed
    from core.store import provenance
    from core.store.checkpoints import load_checkpoint
    from core.data.corpus import load_corpora, split_texts
    from core.store.registry import resolve_checkpoint
    from core.train.limits import check_unknown
    from core.train.trainer import Trainer

    # What each rank does alone (read the checkpoint and DATA, check memory): under torchrun a failure on
    # one rank stops every rank here, before the first collective (core.train.distributed.together).
    with distributed.together():
        train_config(None, request.train, until_stopped=request.until_stopped)  # bad settings fail before any reading
        resume = load_checkpoint(resolve_checkpoint(request.resume)) if request.resume is not None else None
        stored = resume.train_state if resume is not None else {}
        start_step = int(stored.get("step", 0))

        def note(text: str) -> None:
            if on_note is not None:
                on_note(text, start_step)

        filters = _filters(request, resume)
        paths = request.paths
        texts, report = load_corpora(paths, filters, fmt=request.fmt, column=request.column)
        if on_report is not None:
            on_report(report, start_step)
        if resume is not None:
            unknown = check_unknown(resume.vocab, texts, paths[0] if len(paths) == 1 else report.path, resume.path,
                                    allow=request.allow_unknown, insist=request.allow_unknown_hint)
            if unknown:
                note(unknown)

        if resume is None:
            request = _sized(request, len(texts))
        start = (start_step, int(stored.get("epoch", 0)), float(stored.get("elapsed", 0.0)) / 60.0)
        rank, world = distributed.rank_world()
        stored_world = stored.get("world_size", 1)
        stored_world = stored_world if isinstance(stored_world, int) and not isinstance(stored_world, bool) and stored_world >= 1 else 1
        config = train_config(stored.get("train_config"), request.train, until_stopped=request.until_stopped, start=start,
                              worlds=(stored_world, world))
        if resume is not None:
            val_fraction = float(stored.get("val_fraction", defaults.VAL_FRACTION))
        else:
            val_fraction = defaults.VAL_FRACTION if request.val_fraction is None else float(request.val_fraction)
        train_texts, val_texts = split_texts(texts, val_fraction, seed=config.seed)
        vocab, model = _vocab_and_model(request, resume, config.seed, config.batch_size, train_texts, max(map(len, texts)),
                                        filters.max_len)

    if request.run_dir is not None:
        run_dir = Path(request.run_dir)
    elif resume is not None and request.run_name is None:
        run_dir = resume.path.parent  # continue where the checkpoint is (refused unless it is that run's newest)
    else:
        run_dir = new_run_dir(request)  # a new run, or a resume branching into the named run
    run_dir = distributed.broadcast_object(run_dir)  # a new run's name holds the time: rank 0's counts
    files = provenance.record(paths)  # absolute paths and fingerprints: --check-novelty finds the same files
    extra = {"data_path": files[0]["path"], "data_paths": [f["path"] for f in files], "data_files": files,
             "filter_config": asdict(filters), "val_fraction": val_fraction}
    trainer = Trainer(model, vocab, train_texts, val_texts, config, run_dir, resume_from=resume, extra_state=extra)
    lock = _lock(run_dir, fresh=resume is None, hint=request.other_dir_hint, rank=rank, world=world,
                 resumed=(resume.path, resume.step) if resume is not None else None)
    for line in trainer.notes:
        note(line)
    return PreparedRun(trainer, run_dir, resume, report, lock)


def _sized(request: RunRequest, n_texts: int) -> RunRequest:
    """The request with the corpus-size defaults (:func:`core.defaults.corpus_settings`) under the settings it chose."""
    from dataclasses import replace

    sized = defaults.corpus_settings(n_texts)
    chosen = {part: {k: v for k, v in getattr(request, part).items() if v is not None} for part in ("model", "train")}
    return replace(request, model={**sized["model"], **chosen["model"]}, train={**sized["train"], **chosen["train"]})


def _filters(request: RunRequest, resume: Checkpoint | None) -> Any:
    """A resumed run's stored corpus filters (those this version knows), with the request's on top."""
    from core.store.checkpoints import CheckpointError
    from core.data.corpus import FilterConfig

    stored = resume.train_state.get("filter_config") if resume is not None else None
    settings = {**known_fields(FilterConfig, stored), **check_settings(FilterConfig, request.filters, "corpus filter")}
    try:
        return FilterConfig(**settings)
    except TypeError:  # only a damaged checkpoint stores filters of the wrong type
        raise CheckpointError(f"{resume.path if resume else request.paths[0]}: the stored corpus filters are damaged "
                              f"({stored!r})", hint("pass {length_filters}")) from None


def _vocab_and_model(request: RunRequest, resume: Checkpoint | None, seed: int, batch_size: int,
                     train_texts: list[str], longest: int, max_len: int) -> tuple[Any, Any]:
    """The resumed checkpoint's vocabulary and model, or new ones; refused first if training would not fit in memory."""
    from core.model.gru import ModelConfig, new_model
    from core.train.limits import check_memory, training_bytes
    from core.data.vocab import CharVocab

    if resume is not None:
        check_memory(training_bytes(resume.model_config, batch_size, longest), "training this model", MEMORY_HINT)
        return resume.vocab, resume.model()
    chosen = check_settings(ModelConfig, request.model, "model")
    if set(chosen) - set(MODEL_KEYS):
        raise ValueError(f"a new run's model settings are {', '.join(MODEL_KEYS)}; got {', '.join(sorted(chosen))}")
    vocab = CharVocab.build(train_texts)
    check_memory(training_bytes(ModelConfig(vocab_size=len(vocab), **chosen), batch_size, longest), "training this model",
                 MEMORY_HINT)
    return vocab, new_model(vocab, seed=seed, max_length=max_len, **chosen)


def _lock(run_dir: Path, *, fresh: bool, hint: str | Hint, rank: int, world: int,
          resumed: tuple[Path, int] | None = None) -> RunLock:
    """The run directory for this run alone: writable, not in use, and free of checkpoints this run
    would replace (``fresh``: any; ``resumed``: another run's, or a later branch's,
    :func:`core.store.runlock.branch_conflict`). Under torchrun rank 0 alone locks and writes; its refusal stops every rank."""
    from core.train import distributed
    from core.store import runlock

    if world == 1:
        return runlock.acquire(run_dir, fresh=fresh, hint=hint, resumed=resumed)
    refusal, lock = None, runlock.RunLock(run_dir, None)
    if rank == 0:
        try:
            lock = runlock.acquire(run_dir, fresh=fresh, hint=hint, resumed=resumed)
        except runlock.CheckpointError as exc:  # unwritable, in use, or another run's
            refusal = str(exc)
    refusal = distributed.broadcast_object(refusal)
    if refusal is not None:  # rank 0 says why; the others stop without repeating it
        raise runlock.RunDirError(refusal) if rank == 0 else distributed.PeerFailed(f"stopped: rank 0 refused {run_dir}")
    return lock
