"""What start-up finds, posted to the panels that show it: the run, the first model, the checkpoint
list, the chart's history and the corpus (the same for a corpus opened from inside the app).

It runs in the main screen's ``boot`` worker thread (:class:`tui.screens.main.MainScreen`) and touches
no state of the App: it posts what it found (``post_message`` is thread-safe), and the handlers take
it on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.store import policy
from tui import messages as m
from tui.services.generation_stream import checkpoint_source, untrained_source
from tui.settings import APP_WORDS, AppSettings, read_corpus, say
from tui.widgets.checkpoint_panel import CheckpointPanel
from tui.widgets.generation_panel import GenerationPanel
from tui.widgets.training_panel import TrainingPanel

if TYPE_CHECKING:
    from textual.message import Message

CORPUS_PROGRESS_BYTES = 8 * 2**20  # corpus files from this size show how far reading has got
Panels = tuple[TrainingPanel, CheckpointPanel, GenerationPanel]


def start_run(post: Callable[[Message], object], s: AppSettings, plan: policy.BootPlan, panels: Panels,
              texts: list[str] | None) -> None:
    """The run of ``plan``: the first candidate that loads, the checkpoint list, the run's history, the
    corpus (read here unless ``texts`` were read already), an untrained model when no checkpoint loads.
    What only the main screen acts on goes to ``post`` (its ``post_message``). A model goes to the
    checkpoint panel before its listing does, so the list marks it (and puts the cursor on it)."""
    from core.store.checkpoints import CheckpointError, load_checkpoint

    training, checkpoints, generation = panels
    run_dir = plan.run_dir
    post(m.RunResolved(plan))
    for path, problem in plan.problems:
        post(m.ModelFailed(path, problem))
    source = history = None
    for path in plan.candidates:
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as exc:
            post(m.ModelFailed(path, say(exc)))
            continue
        source = checkpoint_source(ckpt, path, policy.label_for(path, run_dir=run_dir, demo=s.demo_checkpoint))
        checkpoints.post_message(m.ModelReady(source, interrupt=True))
        if plan.newest_of_run is not None and policy.same_file(path, plan.newest_of_run.path):
            history = ckpt.metrics.get("history") or []  # the newest is loaded once, not again for its history
        break
    checkpoints.list_now(run_dir)
    if plan.newest_of_run is not None and history is None:
        history = read_history(plan.newest_of_run.path)
    if history is not None or texts is not None:  # (an opened corpus' new run clears the chart)
        training.chart.post_message(m.RunHistory(list(history or [])))
    if texts is None:
        texts = read_corpus_into(s, training)
    if texts:
        post(m.CorpusTexts(texts))  # the main screen indexes them (another worker) for the novelty check
    else:
        post(m.NoveltyReady(None))  # no corpus, no check (the corpus' error is shown already)
    if source is None:
        if texts:
            checkpoints.post_message(m.ModelReady(untrained_source(texts, s.model), interrupt=True))
        else:
            reason = "nothing to generate from: no checkpoint could be loaded and the corpus is unreadable"
            generation.post_message(m.NoModel(reason))


def read_corpus_into(s: AppSettings, panel: TrainingPanel) -> list[str] | None:
    """The corpus' texts; the panel is told how far a large file has been read, then what reading kept
    (or why it could not be read: None)."""
    from core.data.corpus import CorpusError

    def progress(done: int, total: int) -> None:  # core calls it at most ~10 times a second
        if total >= CORPUS_PROGRESS_BYTES:
            panel.post_message(m.CorpusProgress(s.data_label, done, total))

    try:
        texts, report = read_corpus(s.data_path, s.filters, progress=progress)
    except CorpusError as exc:
        panel.post_message(m.CorpusFailed(s.data_path, say(exc)))
        return None
    panel.post_message(m.CorpusLoaded(s.data_path, s.data_label, len(texts), report.summary(APP_WORDS)))
    return texts


def read_history(path: Path) -> list[list[float]] | None:
    """The validation history a checkpoint carries (None: it cannot be read)."""
    from core.store.checkpoints import CheckpointError, load_checkpoint

    try:
        return list(load_checkpoint(path).metrics.get("history") or [])
    except CheckpointError:
        return None
