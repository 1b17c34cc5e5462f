"""The main screen: the tweets being written (left), training and the checkpoints (right).

It owns the work whose results its panels show, and what ties the panels together:

- the ``boot`` worker (:mod:`tui.startup`: the run, the first model, the checkpoint list, the chart's
  history, the corpus), the same for a corpus opened from inside the app (``d``, :meth:`MainScreen.open_corpus`),
  and the ``novelty`` worker that indexes the training texts;
- what the workers and panels report: the run resolved, a model loaded (generate from it), a listing,
  training's end (close the process; quit, or open the corpus chosen meanwhile);
- what the App's keys hand it: training (space), quitting while training (q), the prime (/), the
  sweep and comparison (t, v), and the samples on screen: the source of a copy (o), copy (y), export (e).

The App keeps the state every screen reads (the run, the model, the settings, the services); this
screen sets it as the reports arrive, on the UI thread.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header
from textual.worker import Worker, get_current_worker

from core.store import policy
from tui import format as fmt
from tui import messages as m
from tui.format import one_line
from tui.screens.columns import MAX_COMPARED, ColumnsScreen
from tui.screens.neurons import NeuronScreen
from tui.screens.open_corpus import CorpusChoice, OpenCorpusScreen
from tui.screens.prime import PrimeScreen
from tui.services.generation_stream import setup_torch
from tui.settings import AppSettings, say
from tui.startup import Panels, start_run
from tui.widgets.checkpoint_panel import CheckpointPanel
from tui.widgets.footer import AppFooter
from tui.widgets.generation_panel import GenerationPanel, SampleRecord
from tui.widgets.neuron_watch import NeuronWatch
from tui.widgets.training_panel import TrainingPanel

if TYPE_CHECKING:
    from tui.app import TweetgenApp
    from tui.services.training_session import TrainingSession


class MainScreen(Screen[None]):
    """The app's first screen (the columns, help and the inputs open over it)."""

    def __init__(self, training: TrainingSession) -> None:
        super().__init__(id="_default")  # (Textual's name for the first screen)
        self.training = training
        self.pending_open: CorpusChoice | None = None  # opened while training: opened once that run has stopped
        self.training_soon = False  # a corpus was opened: training starts once its run is resolved

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield GenerationPanel(id="generation")
            with Vertical(id="side"):
                yield TrainingPanel(self.training, id="training")
                yield CheckpointPanel(id="checkpoints")
        yield AppFooter(compact=True)
        yield NeuronWatch(id="neuron-watch")  # the neuron view's finder (key u): invisible, outlives the view

    @property
    def tweetgen(self) -> TweetgenApp:
        return cast("TweetgenApp", self.app)

    def on_mount(self) -> None:
        app = self.tweetgen
        self.generation.show_settings()
        self.query_one(TrainingPanel).set_corpus(app.settings.data_label)
        self._boot(app.settings, self._panels())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.tweetgen.report_worker(event)

    @property
    def checkpoints(self) -> CheckpointPanel:
        return self.query_one(CheckpointPanel)

    @property
    def generation(self) -> GenerationPanel:
        return self.query_one(GenerationPanel)

    def _panels(self) -> Panels:
        """The panels the start-up workers post to (queried here, on the UI thread)."""
        return self.query_one(TrainingPanel), self.query_one(CheckpointPanel), self.query_one(GenerationPanel)

    # ------------------------------------------------------------ start-up, and a corpus opened in the app

    @work(thread=True, group="boot", exit_on_error=False, name="boot")
    def _boot(self, s: AppSettings, panels: Panels) -> None:
        """Start-up, after the first frame: the run (:func:`core.store.policy.plan_boot`), the first model, the
        checkpoint list, the run's history for the chart and the corpus. Nothing here touches the App's
        state: it posts what it found, and the handlers take it on the UI thread."""
        setup_torch(1)
        run_dir = s.run_dir()
        plan = policy.plan_boot(run_dir, checkpoint=s.checkpoint, demo=s.demo_checkpoint)
        start_run(self.post_message, s, plan, panels, None)
        # torch and Textual leave a few hundred thousand long-lived objects; a full collection walking them
        # all took ~200 ms of the UI thread every so often (measured by bench/ui_lag.py). Frozen objects are
        # skipped by the collector from now on.
        gc.freeze()

    def open_run(self, settings: AppSettings, texts: list[str]) -> None:
        """A corpus opened from inside the app: its run is resolved and its model loaded, as at start-up."""
        self.workers.cancel_group(self, "novelty")
        self._open_run(settings, texts, self._panels())

    @work(thread=True, group="boot", exit_on_error=False, name="open the corpus' run")
    def _open_run(self, settings: AppSettings, texts: list[str], panels: Panels) -> None:
        """(The demo is no candidate: the new run generates from its own checkpoints, or from an untrained
        model until it has one.)"""
        run_dir = settings.run_dir()
        plan = policy.plan_boot(run_dir, checkpoint=None, demo=None)
        start_run(self.post_message, settings, plan, panels, texts)
        self.post_message(m.CorpusOpened(run_dir))

    # ------------------------------------------------------------ what the workers and the panels found

    def on_run_resolved(self, message: m.RunResolved) -> None:
        message.stop()
        app = self.tweetgen
        app.run_dir = message.plan.run_dir  # here, on the UI thread: check_action and the handlers read it
        app.run_checkpoints = message.plan.of_run
        self.checkpoints.set_run(app.run_dir)
        app.training.ready()
        app.refresh_bindings()

    def on_checkpoints_listed(self, message: m.CheckpointsListed) -> None:
        """After the CheckpointPanel has shown it (and followed the run)."""
        message.stop()
        app = self.tweetgen
        app.run_checkpoints = self.checkpoints.of_run(message.infos)
        app.refresh_bindings()  # `c` is enabled once there is a checkpoint to go to
        self.generation.show_settings()  # "best" may have moved
        # the run's checkpoints are scored for the neuron view once it has been opened
        self.query_one(NeuronWatch).checkpoints([(i.path, i.step) for i in app.run_checkpoints],
                                                [i.path for i in message.infos])

    def on_model_ready(self, message: m.ModelReady) -> None:
        """After the CheckpointPanel has marked it: generate from it."""
        message.stop()
        app = self.tweetgen
        source = app.source = message.source
        # follow the run (its best, as training writes better ones) from the untrained model, from the run's own
        # choice, and when following already (a follow load is the only one that does not interrupt; the listing
        # may not show its file yet)
        self.checkpoints.follow_best = source.path is None or not message.interrupt or \
            policy.is_choice_of_run(source.path, app.run_checkpoints)
        self.generation.show_settings()
        app.refresh_bindings()
        NeuronScreen.follow(app, source)  # an open neuron view follows the checkpoint generating
        generation = self.generation
        if source.path is None and self.pending_open is None and not self.training_soon:
            generation.note("No checkpoint yet: press space to train. Until then an untrained model writes noise.")
        if message.interrupt or not generation.busy:
            generation.start_sample()

    def on_checkpoint_panel_selected(self, message: CheckpointPanel.Selected) -> None:
        message.stop()
        self.checkpoints.switch_to(message.path)

    @on(CheckpointPanel.MarksChanged)
    def _marks_changed(self) -> None:
        self.tweetgen.refresh_bindings()  # v needs two marked

    def quit(self) -> None:
        """q: quit; while training, stop it first and leave when its final checkpoint is written
        (:meth:`on_training_finished`), or after ``stop_timeout_s``, the process killed."""
        app = self.tweetgen
        process = app.training.process
        if process is None or process.finished:
            app.exit()
            return
        if app.training.quitting:
            self.notify("Still saving the checkpoint…", timeout=2)
            return
        app.training.stop("saving a checkpoint before quitting…", quitting=True)
        self.notify("Saving a checkpoint before quitting…", timeout=app.settings.stop_timeout_s)
        app.set_timer(app.settings.stop_timeout_s, self._give_up_stopping)

    def _give_up_stopping(self) -> None:
        app = self.tweetgen
        if app.training.process is not None:
            app.training.process.close()
        app.exit(message="tweetgen-tui: the training process did not stop in time and was killed")

    def on_training_finished(self, message: m.TrainingFinished) -> None:
        """After the TrainingPanel has shown the step it ended at: the session, the process closed, the
        news; then quit (q while training), or open the corpus chosen while it trained."""
        message.stop()
        app, event = self.tweetgen, message.event
        process = app.training.finished(event)
        if process is not None:
            self.query_one(TrainingPanel).close_process(process)
        if event.reason in ("diverged", "error"):
            app.show_error(say(event.hint or event.message))  # core's hints in this app's flags
        elif not app.training.quitting:
            self.notify(event.message.capitalize(), timeout=5)
        if app.training.quitting:
            app.exit()
        elif self.pending_open is not None:
            self._open_corpus(self.pending_open)

    # ------------------------------------------------------------ the prime (/), the sweep (t), the comparison (v)

    def ask_prime(self) -> None:
        """/: the start of the tweets, typed; the model continues it from the next tweet on."""
        app = self.tweetgen
        if app.source is not None and not isinstance(app.screen, PrimeScreen):
            app.push_screen(PrimeScreen(app.prime), self._prime_chosen)

    def _prime_chosen(self, prime: str | None) -> None:
        app = self.tweetgen
        if prime is None or app.closing:
            return  # escape: nothing changes
        app.prime = prime
        source = app.source
        unseen = sorted({ch for ch in prime if source is not None and ch not in source.vocab})
        if unseen:  # as the CLI does: the model reads them as <unk> and writes on
            shown = fmt.printable("".join(unseen[:10])) + ("…" if len(unseen) > 10 else "")
            self.notify(f"new to this model, read as <unk>: {shown}", title="Prime", severity="warning",
                        timeout=6, markup=False)
        self.generation.start_sample()

    def toggle_columns(self, kind: str) -> None:
        """t (``kind`` "sweep") or v ("compare"): the columns over this screen; t or v again leaves them."""
        app = self.tweetgen
        columns, marked = app.columns_screen, self.checkpoints.marked
        if columns is not None:
            columns.leave()
        elif kind == "sweep" and app.source is not None or kind == "compare" and len(marked) >= 2:
            if len(marked) > MAX_COMPARED and kind == "compare":
                self.notify(f"{len(marked)} marked: comparing the newest {MAX_COMPARED}", timeout=4)
            self.generation.stop_sampling()
            infos = self.checkpoints.marked_infos() if kind == "compare" else ()
            app.push_screen(ColumnsScreen(kind, infos, app.probs_view))

    def resume_single(self) -> None:
        """The columns have closed: the single view writes again."""
        self.tweetgen.refresh_bindings()
        if self.tweetgen.columns_screen is None:
            self.generation.start_sample()

    # ------------------------------------------------------------ training (space), opening another corpus (d)

    def start_training(self) -> None:
        """Train the run (from the TrainingPanel); generation follows it once it has a checkpoint, unless
        what generates now is of that run already."""
        app = self.tweetgen
        run_dir = app.run_dir
        if run_dir is None or not app.training.can("start") or app.closing:
            return  # e.g. a palette command chosen twice: one training process at a time
        if self.query_one(TrainingPanel).start_training(app.settings, run_dir):
            current = app.source.path if app.source else None
            self.checkpoints.follow_new_run = policy.follow_when_trained(current, run_dir)

    def open_corpus(self) -> None:
        """Pick a corpus (:class:`OpenCorpusScreen`); a new run on it trains once the current one has stopped."""
        app = self.tweetgen
        if isinstance(app.screen, OpenCorpusScreen):
            return
        note = f"(stops training {app.run_dir.name} first, with a checkpoint)" \
            if app.training.active and app.run_dir is not None else ""
        app.push_screen(OpenCorpusScreen(Path.cwd(), dict(app.settings.filters), note), self._corpus_chosen)

    def _corpus_chosen(self, choice: CorpusChoice | None) -> None:
        """The open-corpus screen closed: nothing changes on escape; else a new run on the corpus, once the
        run training now (if any) has stopped with its checkpoint."""
        app = self.tweetgen
        if choice is None or app.closing or app.training.quitting:
            return
        if app.training.active:
            self.pending_open = choice
            app.training.stop(f"saving a checkpoint, then opening {fmt.printable(choice.path.name)}…")
            return
        self._open_corpus(choice)

    def _open_corpus(self, choice: CorpusChoice) -> None:
        """Make ``choice`` the app's corpus: its run (named after the file) is resolved and its model loaded
        by a worker, as at start-up; then training starts (:meth:`on_corpus_opened`). The demo stays listed."""
        app = self.tweetgen
        self.pending_open = None
        app.settings = app.settings.opened(choice.path, choice.filters)
        app.run_dir = None  # until the worker has resolved the new one: no training, export or second open
        app.run_checkpoints = []
        self.checkpoints.follow_best = False
        app.samples.reindex()
        app.sub_title = app.settings.data_label
        training = self.query_one(TrainingPanel)
        training.reset()
        training.set_corpus(f"{app.settings.data_label} · {len(choice.texts):,} tweets")
        app.training.opening()
        self.training_soon = True
        app.refresh_bindings()
        self.open_run(app.settings, choice.texts)

    def on_corpus_opened(self, message: m.CorpusOpened) -> None:
        message.stop()
        self.training_soon = False
        app = self.tweetgen
        if app.run_dir is not None and policy.same_file(app.run_dir, message.run_dir):
            self.start_training()

    # ------------------------------------------------------------ the novelty index

    def on_corpus_texts(self, message: m.CorpusTexts) -> None:
        self._build_novelty(message.texts, self.tweetgen.settings.copy_threshold)

    @work(thread=True, group="novelty", exclusive=True, exit_on_error=False, name="novelty index")
    def _build_novelty(self, texts: list[str], threshold: int) -> None:
        from core.model.novelty import BuildCancelled, NoveltyIndex

        worker = get_current_worker()
        try:
            index = NoveltyIndex.build(texts, threshold=threshold, cancelled=lambda: worker.is_cancelled)
        except BuildCancelled:
            return
        except Exception as exc:  # noqa: BLE001 - the app works on without the check, and says so
            self.post_message(m.NoveltyReady(None, one_line(exc)))
            return
        self.post_message(m.NoveltyReady(index))

    def on_novelty_ready(self, message: m.NoveltyReady) -> None:
        message.stop()
        app = self.tweetgen
        waiting = app.samples.index_ready(message.index)  # type: ignore[arg-type]
        if message.index is None and message.error:
            app.show_error(f"the novelty check is off: {message.error}")
        for record in waiting:
            self.check_novelty(record)
        app.refresh_bindings()

    # ------------------------------------------------------------ the samples: novelty, source (o), copy (y), export (e)

    def sample_finished(self, sample_id: int) -> None:
        """A sample finished, here or in the columns (the App hands it on): check its novelty."""
        app = self.tweetgen
        record = app.samples.records.get(sample_id)
        if record is not None and record.complete:
            self.check_novelty(record)
        app.refresh_sample_keys()

    def check_novelty(self, record: SampleRecord) -> None:
        """Check a finished sample against the training texts and draw the result wherever it is shown."""
        app, s = self.tweetgen, self.tweetgen.settings
        applies = policy.novelty_applies(record.checkpoint, run_dir=app.run_dir, demo=s.demo_checkpoint,
                                         demo_corpus=s.is_demo_corpus)  # a shared run with texts it never saw means nothing
        app.samples.check(record, applies=applies)
        self.query_one(GenerationPanel).redraw(record)
        columns = app.columns_screen
        if columns is not None:
            columns.redraw(record)

    def shown_records(self) -> list[SampleRecord]:
        """The samples on screen now: the columns, else the single view's current tweet."""
        columns = self.tweetgen.columns_screen
        if columns is not None:
            return [r for r in columns.records if r.text]
        current = self.query_one(GenerationPanel).current
        return [current] if current is not None and current.text else []

    def show_source(self) -> None:
        """o: the training text that a tweet on screen shares its longest run with (a copy's source)."""
        samples = self.tweetgen.samples
        record = samples.source_record(self.shown_records())
        if samples.novelty is None:
            return
        if record is None:
            self.notify("No finished tweet on screen shares anything with the training texts yet", timeout=4)
            return
        found = record.novelty
        source = samples.novelty.source_text(found.source)
        what = "all of it" if found.whole else f"{found.longest} chars in a row: “{found.match}”"
        kind = "COPIED from training text" if found.copied else "Training text"
        self.notify(fmt.printable(source), title=fmt.printable(f"{kind} #{found.source}: shares {what}"), timeout=15,
                    markup=False)

    def copy_tweet(self) -> None:
        """y: the tweet on screen (or every column's) to the clipboard."""
        records = self.shown_records()
        if not records:
            return
        text = self.tweetgen.samples.copy_text(records)
        self.app.copy_to_clipboard(text)
        what = "the tweet" if len(records) == 1 else f"{len(records)} tweets"
        self.notify(f"Copied {what} to the clipboard ({len(text):,} characters)", timeout=3)

    def export_samples(self) -> None:
        """e: append the session's finished samples not exported yet to <run>/samples.jsonl."""
        app = self.tweetgen
        if app.run_dir is None:
            return
        path = app.run_dir / "samples.jsonl"
        try:
            n = app.samples.export(path)
        except OSError as exc:
            app.show_error(f"could not export to {path}: {exc}")
            return
        if n is None:
            self.notify(f"Nothing new to export; earlier samples are in {path}", timeout=5, markup=False)
        else:
            self.notify(f"Exported {n} sample{'s' if n != 1 else ''} to {path}", title="Export", timeout=8, markup=False)
