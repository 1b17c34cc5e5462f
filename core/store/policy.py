"""What the app decides about runs and checkpoints, without Textual: the policy it renders.

Which run directory a session trains into, which checkpoint it generates from at
start-up (and in what order to fall back), what each checkpoint is called on screen,
which files are listed beside the run, and what the space key resumes. The app calls
these from its workers and handlers and only shows the results; the rules can be read
and unit-tested here.

Paths are compared resolved (:func:`path_key`): ``runs/tiny/step-1.pt`` and
``./runs/../runs/tiny/step-1.pt`` are one checkpoint. ``core.store.registry`` (which imports
torch) is imported inside the functions that list checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.store.registry import CheckpointInfo

DEMO_LABEL = "demo"


def path_key(path: str | Path) -> str:
    """One spelling per file: the resolved path (the checkpoint table keys its rows by it)."""
    return str(Path(path).resolve())


def same_file(a: str | Path | None, b: str | Path | None) -> bool:
    return a is not None and b is not None and path_key(a) == path_key(b)


# ---------------------------------------------------------------- the run


def run_dir_for(run_name: str, *, explicit_run: bool, checkpoint: Path | None, home: Path | None) -> Path:
    """Where a session's checkpoints go: ``--run NAME`` under the home, else a ``--checkpoint``
    directory itself (training continues there), else ``run_name`` (from the corpus) under the home."""
    if not explicit_run and checkpoint is not None and checkpoint.is_dir():
        return checkpoint
    from core.store.registry import runs_dir

    return runs_dir(home) / run_name


def run_checkpoints(run_dir: Path) -> list[CheckpointInfo]:
    """The run's own checkpoints (the registry also lists runs one level down: those are not this run's)."""
    from core.store.registry import list_checkpoints

    if not run_dir.is_dir():
        return []
    return [i for i in list_checkpoints(run_dir) if i.path.parent == run_dir]


def newest(infos: Sequence[CheckpointInfo]) -> CheckpointInfo | None:
    """The highest step (the latest written on a tie): where training left off."""
    return max(infos, key=lambda i: (i.step, i.created)) if infos else None


def choice_of_run(infos: Sequence[CheckpointInfo]) -> CheckpointInfo | None:
    """What the run generates from: its best validated checkpoint, else its newest (see
    :func:`core.store.registry.checkpoint_to_use`)."""
    from core.store.registry import checkpoint_to_use

    return checkpoint_to_use(list(infos))


def is_choice_of_run(path: Path | None, infos: Sequence[CheckpointInfo]) -> bool:
    choice = choice_of_run(infos)
    return choice is not None and same_file(choice.path, path)


def is_best_of_run(path: Path | None, infos: Sequence[CheckpointInfo]) -> bool:
    """Whether ``path`` is the run's best validated checkpoint (the generation status says so)."""
    from core.store.registry import best_of

    best = best_of(list(infos))
    return best is not None and same_file(best.path, path)


def follow_target(current: Path | None, infos: Sequence[CheckpointInfo]) -> Path | None:
    """While following the run: the checkpoint to switch to, or None when ``current`` is it already."""
    choice = choice_of_run(infos)
    if choice is None or same_file(choice.path, current):
        return None
    return choice.path


def of_run(path: Path | None, run_dir: Path | None) -> bool:
    """Whether ``path`` is one of the run directory's own checkpoints."""
    return path is not None and run_dir is not None and Path(path).resolve().parent == run_dir.resolve()


def follow_when_trained(current: Path | None, run_dir: Path) -> bool:
    """Whether generation should move to the run being trained once it has a checkpoint: yes when
    what generates now is not of that run (the demo, a file from elsewhere), whose tweets say
    nothing about this training. (The untrained model and the run's own choice follow already.)"""
    return current is not None and not of_run(current, run_dir)


def novelty_applies(current: Path | None, *, run_dir: Path | None, demo: Path | None, demo_corpus: bool) -> bool:
    """Whether a tweet of ``current`` is checked for copies against the session's corpus: only when the
    corpus is what that model learned from. The demo checkpoint learned the demo corpus, so its tweets
    are checked only on it; the run's checkpoints and the untrained model (its characters are the
    corpus') always; a ``--checkpoint`` file is taken as trained on ``--data``, as training goes on from it."""
    if same_file(current, demo) and not of_run(current, run_dir):
        return demo_corpus
    return True


NOT_TRAINED_ON_IT = "not checked (the demo model never saw this corpus)"


# ---------------------------------------------------------------- start-up


@dataclass
class BootPlan:
    """What start-up loads: ``candidates`` in order, the first that loads wins (the others are
    fallbacks for a broken file); ``problems`` are (path, message) pairs to report at once."""

    run_dir: Path
    of_run: list[CheckpointInfo]
    candidates: list[Path]
    newest_of_run: CheckpointInfo | None
    problems: list[tuple[Path, str]] = field(default_factory=list)


def plan_boot(run_dir: Path, *, checkpoint: Path | None, demo: Path | None) -> BootPlan:
    """The checkpoints to try at start-up, in order: ``--checkpoint`` (a file as given, a
    directory's choice), the run's choice (its best, not blindly its newest), the demo.

    A ``--checkpoint`` file is a candidate even when it is broken: loading it reports why.
    """
    from core.store.registry import list_checkpoints

    candidates: list[Path] = []
    problems: list[tuple[Path, str]] = []
    if checkpoint is not None:
        if checkpoint.is_dir():
            chosen = choice_of_run(list_checkpoints(checkpoint))
            if chosen is None:
                problems.append((checkpoint, f"{checkpoint}: no checkpoints in this directory"))
            else:
                candidates.append(chosen.path)
        else:
            candidates.append(checkpoint)
    of_run = run_checkpoints(run_dir)
    choice = choice_of_run(of_run)
    if choice is not None:
        candidates.append(choice.path)
    if demo is not None and demo.exists():
        candidates.append(demo)
    unique = list(dict.fromkeys(candidates))
    return BootPlan(run_dir, of_run, unique, newest(of_run), problems)


# ---------------------------------------------------------------- labels and listing


def label_for(path: Path, *, run_dir: Path | None, demo: Path | None) -> str:
    """What the screen calls a checkpoint: ``demo``, the run's name for one of its files, else the file name."""
    if same_file(path, demo):
        return DEMO_LABEL
    if run_dir is not None and Path(path).resolve().parent == run_dir.resolve():
        return run_dir.name
    return Path(path).name


def listed_extras(*, demo: Path | None, checkpoint: Path | None) -> list[Path]:
    """Files listed beside the run's checkpoints: the demo, and a ``--checkpoint`` file (not a directory)."""
    extras = [p for p in (demo, checkpoint) if p is not None and p.is_file()]
    return list({path_key(p): p for p in extras}.values())


def listing(run_dir: Path, *, demo: Path | None, checkpoint: Path | None) -> list[CheckpointInfo]:
    """Everything the checkpoint table shows: the run's checkpoints plus :func:`listed_extras`
    (each once; an unreadable extra is left out, and reported when it is selected)."""
    from core.store.registry import list_checkpoints

    infos = run_checkpoints(run_dir)
    seen = {path_key(i.path) for i in infos}
    for extra in listed_extras(demo=demo, checkpoint=checkpoint):
        if path_key(extra) in seen:
            continue
        try:
            infos.extend(list_checkpoints(extra))
        except Exception:  # noqa: BLE001 - whatever is wrong with it, the rest of the list still shows
            continue
        seen.add(path_key(extra))
    return infos


# ---------------------------------------------------------------- training


def resume_from(run_dir: Path, *, checkpoint: Path | None) -> Path | None:
    """What the space key continues: the run directory when it has a checkpoint (the trainer takes
    its newest), else a ``--checkpoint`` file (a new run starts from its weights), else nothing (fresh).

    Any readable checkpoint of the run counts, whatever its name (not only ``step-*.pt``); an
    unreadable one does not (resuming it would fail).
    """
    if run_checkpoints(run_dir):
        return run_dir
    if checkpoint is not None and checkpoint.is_file():
        return checkpoint
    return None
