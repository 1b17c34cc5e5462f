"""The main screen: the tweets being written (left), training and the checkpoints (right).

It owns the start-up work, whose results its panels show: the ``boot`` worker (the
run, the first model, the checkpoint list, the chart's history, the corpus), the same for a
corpus opened from inside the app (:meth:`MainScreen.open_run`), and the ``novelty`` worker
that indexes the training texts. The workers post what they found to the panel that shows
it, or to this screen; what the App must know (the run, a model, the index) bubbles on to it.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header
from textual.worker import Worker, get_current_worker

from core.store import policy
from tui import format as fmt
from tui import messages as m
from tui.format import one_line
from tui.screens.neurons import NeuronScreen
from tui.screens.open_corpus import CorpusChoice, OpenCorpusScreen
from tui.services.generation_stream import checkpoint_source, setup_torch, untrained_source
from tui.settings import APP_WORDS, AppSettings, read_corpus, say
from tui.widgets.checkpoint_panel import CheckpointPanel
from tui.widgets.footer import AppFooter
from tui.widgets.generation_panel import GenerationPanel, SampleRecord
from tui.widgets.neuron_watch import NeuronWatch
from tui.widgets.training_panel import TrainingPanel

if TYPE_CHECKING:
    from tui.app import TweetgenApp
    from tui.services.training_session import TrainingSession

CORPUS_PROGRESS_BYTES = 8 * 2**20  # corpus files from this size show how far reading has got
Panels = tuple[TrainingPanel, CheckpointPanel, GenerationPanel]


class MainScreen(Screen[None]):
    """The app's first screen (the columns, help and the inputs open over it)."""

    def __init__(self, training: TrainingSession) -> None:
        super().__init__(id="_default")  # (Textual's name for the first screen)
        self.training = training

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
        app.show_generation_status()
        self.query_one(TrainingPanel).set_corpus(app.settings.data_label)
        self._boot(app.settings, self._panels())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.tweetgen.report_worker(event)

    def on_checkpoints_listed(self, message: m.CheckpointsListed) -> None:
        """(On to the App.) The run's checkpoints are scored for the neuron view once it has been opened."""
        if self.query(NeuronWatch):  # (gone while the app closes)
            of_run = self.query_one(CheckpointPanel).of_run(message.infos)
            self.query_one(NeuronWatch).checkpoints([(i.path, i.step) for i in of_run], [i.path for i in message.infos])

    def on_model_ready(self, message: m.ModelReady) -> None:
        """(On to the App.) An open neuron view follows the checkpoint generating."""
        NeuronScreen.follow(self.tweetgen, message.source)

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
        self._start_run(s, plan, panels, None)
        # torch and Textual leave a few hundred thousand long-lived objects; a full collection walking them
        # all took ~200 ms of the UI thread every so often (measured by bench/ui_lag.py). Frozen objects are
        # skipped by the collector from now on.
        gc.freeze()

    # ------------------------------------------------------------ opening a corpus (d)

    def open_corpus_dialog(self) -> None:
        """Key d: the open-corpus screen; what is chosen there is opened by :meth:`open_corpus`."""
        app = self.tweetgen
        if app.check_action("open_corpus", ()) is not True or isinstance(app.screen, OpenCorpusScreen):
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
            app._pending_open = choice
            app.training.stop(f"saving a checkpoint, then opening {fmt.printable(choice.path.name)}…")
            return
        self.open_corpus(choice)

    def open_corpus(self, choice: CorpusChoice) -> None:
        """Make ``choice`` the app's corpus: its run (named after the file) is resolved and its model loaded
        by a worker, as at start-up; then training starts (the App's ``on_corpus_opened``). The demo stays listed."""
        app = self.tweetgen
        app._pending_open = None
        app.settings = app.settings.opened(choice.path, choice.filters)
        app.run_dir = None  # until the worker has resolved the new one: no training, export or second open
        app.run_checkpoints = []
        self.query_one(CheckpointPanel).follow_best = False
        app.novelty, app.novelty_note = None, "indexing…"
        app.sub_title = app.settings.data_label
        panel = self.query_one(TrainingPanel)
        panel.reset()
        panel.set_corpus(f"{app.settings.data_label} · {len(choice.texts):,} tweets")
        app.training.opening()
        app._training_soon = True
        app.refresh_bindings()
        self.open_run(app.settings, choice.texts)

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
        self._start_run(settings, plan, panels, texts)
        self.post_message(m.CorpusOpened(run_dir))

    def _start_run(self, s: AppSettings, plan: policy.BootPlan, panels: Panels, texts: list[str] | None) -> None:
        """(A worker's) the run of ``plan``: the first candidate that loads, the checkpoint list, the run's
        history, the corpus (read here unless ``texts`` were read already), an untrained model when no
        checkpoint loads. Posts what it found; the handlers take it on the UI thread. A model goes to the
        checkpoint panel before its listing does, so the list marks it (and puts the cursor on it)."""
        from core.store.checkpoints import CheckpointError, load_checkpoint

        training, checkpoints, generation = panels
        run_dir = plan.run_dir
        self.post_message(m.RunResolved(plan))
        for path, problem in plan.problems:
            self.post_message(m.ModelFailed(path, problem))
        source = history = None
        for path in plan.candidates:
            try:
                ckpt = load_checkpoint(path)
            except CheckpointError as exc:
                self.post_message(m.ModelFailed(path, say(exc)))
                continue
            source = checkpoint_source(ckpt, path, policy.label_for(path, run_dir=run_dir, demo=s.demo_checkpoint))
            checkpoints.post_message(m.ModelReady(source, interrupt=True))
            if plan.newest_of_run is not None and policy.same_file(path, plan.newest_of_run.path):
                history = ckpt.metrics.get("history") or []  # the newest is loaded once, not again for its history
            break
        checkpoints.list_now(run_dir)
        if plan.newest_of_run is not None and history is None:
            history = self._read_history(plan.newest_of_run.path)
        if history is not None or texts is not None:  # (an opened corpus' new run clears the chart)
            training.chart.post_message(m.RunHistory(list(history or [])))
        if texts is None:
            texts = self._read_corpus(s, training)
        if texts:
            self.post_message(m.CorpusTexts(texts))  # this screen indexes them (another worker) for the novelty check
        else:
            self.post_message(m.NoveltyReady(None))  # no corpus, no check (the corpus' error is shown already)
        if source is None:
            if texts:
                checkpoints.post_message(m.ModelReady(untrained_source(texts, s.model), interrupt=True))
            else:
                reason = "nothing to generate from: no checkpoint could be loaded and the corpus is unreadable"
                generation.post_message(m.NoModel(reason))

    @staticmethod
    def _read_corpus(s: AppSettings, panel: TrainingPanel) -> list[str] | None:
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

    @staticmethod
    def _read_history(path: Path) -> list[list[float]] | None:
        from core.store.checkpoints import CheckpointError, load_checkpoint

        try:
            return list(load_checkpoint(path).metrics.get("history") or [])
        except CheckpointError:
            return None

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

    # ------------------------------------------------------------ novelty (o), copy (y), export (e)

    def on_novelty_ready(self, message: m.NoveltyReady) -> None:
        app = self.tweetgen
        app.novelty = message.index  # type: ignore[assignment]
        if app.novelty is None:
            app.novelty_note = "no training texts to check against"
            if message.error:
                app._error(f"the novelty check is off: {message.error}")
        for record in app.session:
            if record.complete and record.novelty is None:
                self.check_novelty(record)
        app.refresh_bindings()

    def check_novelty(self, record: SampleRecord) -> None:
        """A finished sample: checked against the training texts (or told why not), and redrawn."""
        app = self.tweetgen
        if not policy.novelty_applies(record.checkpoint, run_dir=app.run_dir, demo=app.settings.demo_checkpoint,
                                      demo_corpus=app.settings.is_demo_corpus):
            record.novelty_note = policy.NOT_TRAINED_ON_IT  # a shared run with texts it never saw means nothing
        elif app.novelty is None:
            record.novelty_note = app.novelty_note
        else:
            record.novelty = app.novelty.check(record.text)
        self._redraw(record)

    def _redraw(self, record: SampleRecord) -> None:
        self.query_one(GenerationPanel).redraw(record)
        screen = self.tweetgen.columns_screen
        if screen is not None:
            screen.redraw(record)

    def _shown_records(self) -> list[SampleRecord]:
        """The samples on screen now: the columns, else the single view's current tweet."""
        screen = self.tweetgen.columns_screen
        if screen is not None:
            return [r for r in screen.records if r.text]
        current = self.query_one(GenerationPanel).current
        return [current] if current is not None and current.text else []

    def _source_record(self) -> SampleRecord | None:
        """The tweet on screen whose source o shows: one flagged as copied, else the longest shared run."""
        checked = [r for r in self._shown_records() if r.novelty is not None and r.novelty.source is not None]
        return max(checked, key=lambda r: (r.novelty.copied, r.novelty.longest), default=None)

    def show_source(self) -> None:
        """The training text that a tweet on screen shares its longest run with (a copy's source)."""
        record = self._source_record()
        novelty = self.tweetgen.novelty
        if novelty is None:
            return
        if record is None:
            self.app.notify("No finished tweet on screen shares anything with the training texts yet", timeout=4)
            return
        found = record.novelty
        source = novelty.source_text(found.source)
        what = "all of it" if found.whole else f"{found.longest} chars in a row: “{found.match}”"
        kind = "COPIED from training text" if found.copied else "Training text"
        self.app.notify(fmt.printable(source), title=fmt.printable(f"{kind} #{found.source}: shares {what}"), timeout=15,
                    markup=False)

    def copy_tweet(self) -> None:
        records = self._shown_records()
        if not records:
            return
        if len(records) == 1:
            text = records[0].text
        else:
            text = "\n".join(f"{r.label or r.settings()}: {r.text}" for r in records)
        self.app.copy_to_clipboard(text)
        what = "the tweet" if len(records) == 1 else f"{len(records)} tweets"
        self.app.notify(f"Copied {what} to the clipboard ({len(text):,} characters)", timeout=3)

    def export(self) -> None:
        """Append the session's finished samples not exported yet to <run>/samples.jsonl."""
        from core.store.export import append_jsonl, sample_record
        from core.model.sampler import Written

        app = self.tweetgen
        run_dir = app.run_dir
        if run_dir is None:
            return
        todo = [r for r in app.session if r.complete and not r.exported and r.cfg is not None]
        path = run_dir / "samples.jsonl"
        if not todo:
            self.app.notify(f"Nothing new to export; earlier samples are in {path}", timeout=5, markup=False)
            return
        records = [sample_record(Written(r.text, r.eos_prob is not None, r.bits_per_char, ()), r.cfg,
                                 checkpoint=r.checkpoint, step=r.step, novelty=r.novelty) for r in todo]
        try:
            n = append_jsonl(path, records)
        except OSError as exc:
            app._error(f"could not export to {path}: {exc}")
            return
        for r in todo:
            r.exported = True
        self.app.notify(f"Exported {n} sample{'s' if n != 1 else ''} to {path}", title="Export", timeout=8, markup=False)
