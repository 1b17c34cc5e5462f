"""Training panel: state line, progress bar, speed/time/validation figures and the loss chart.

The training process' events arrive here as messages (:mod:`tui.messages`), one per
event, posted by the process handle's pump thread. The panel shows what they say and
feeds the app's :class:`tui.services.training_session.TrainingSession` (the one place
where training's state is kept, drawn on the state line) the start and pauses; the end
goes on to the main screen (the process closed, quitting, a corpus opened meanwhile),
a checkpoint written on to the App, which hands it to the checkpoint panel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static
from textual.worker import Worker

from core.events import BackgroundEvent, EvalEvent, GuardEvent, StartEvent, StepEvent, TrainingState
from core.store import policy
from core.train.process import TrainingProcess, TrainJob
from tui import format as fmt
from tui import messages as m
from tui.lifecycle import start_resource_tracker_immune_to_sighup
from tui.widgets.loss_chart import LossChart

if TYPE_CHECKING:
    from pathlib import Path

    from tui.app import TweetgenApp
    from tui.services.training_session import TrainingSession
    from tui.settings import AppSettings

# the line's colour comes from app.tcss (#train-status.state-NAME)
STATE_ICONS: dict[TrainingState, str] = {
    "idle": "○", "starting": "◌", "running": "●", "paused": "‖", "stopping": "◌", "error": "✗",
}


class TrainingPanel(Vertical):
    """What the training process is doing, updated from its events."""

    def __init__(self, session: TrainingSession, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.session = session  # where training stands: drawn on the status line
        self.step: int | None = None
        self.epoch: int | None = None
        self.total_steps: int | None = None
        self.chars_per_s: float | None = None
        self.elapsed: float | None = None
        self.eta_s: float | None = None
        self.val_bpc: float | None = None
        self.best_val_bpc: float | None = None
        self.best_step: int | None = None
        self.overfit_since: int | None = None  # the guard found the model overfitting: the best step it kept
        self.corpus = ""

    def compose(self) -> ComposeResult:
        yield Static(id="train-status")
        yield ProgressBar(total=1, show_eta=False, id="train-progress")
        yield Static(id="train-stats")
        yield LossChart(id="loss-chart")

    def on_mount(self) -> None:
        self.border_title = "Training"
        self._render_status()
        self._render_stats()

    @property
    def chart(self) -> LossChart:
        return self.query_one(LossChart)

    # ------------------------------------------------------------ messages

    def on_corpus_loaded(self, message: m.CorpusLoaded) -> None:
        message.stop()
        self.set_corpus(f"{message.label} · {message.n_texts:,} tweets")

    def on_corpus_progress(self, message: m.CorpusProgress) -> None:
        message.stop()
        share = message.done / message.total if message.total else 0.0
        self.set_corpus(f"reading {message.label}… {share:.0%} of {message.total / 2**20:,.0f} MB")

    def on_corpus_failed(self, message: m.CorpusFailed) -> None:
        message.stop()
        self.session.corpus_failed(message.error)
        self.tweetgen.show_error(message.error)

    def on_training_started(self, message: m.TrainingStarted) -> None:
        message.stop()
        self.started(message.event)
        self.session.started(message.event)

    def on_training_paused(self, message: m.TrainingPaused) -> None:
        message.stop()
        self.session.paused(message.event)

    def on_training_progress(self, message: m.TrainingProgress) -> None:
        message.stop()
        self.progress(message.event)

    def on_training_evaluated(self, message: m.TrainingEvaluated) -> None:
        message.stop()
        self.evaluated(message.event)

    def on_training_logged(self, message: m.TrainingLogged) -> None:
        message.stop()
        self.log.info(f"training at step {getattr(message.event, 'step', '?')}: {message.event!r}")

    def on_training_guarded(self, message: m.TrainingGuarded) -> None:
        """Validation stayed worse than its best: overfitting (training goes on; the panel shows it) is news,
        a rollback or a stop is a warning."""
        message.stop()
        event = message.event
        self.guarded(event)
        if event.action == "overfit":
            self.notify(event.message, title="Overfitting", timeout=10)
        else:
            self.notify(event.message, title="Validation got worse", severity="warning", timeout=10)

    def on_training_finished(self, message: m.TrainingFinished) -> None:
        self.reached(message.event.step)  # and on to the main screen: the session, the news, quitting

    # ------------------------------------------------------------ the training process

    def deliver(self, batch: list[BackgroundEvent]) -> None:
        """The training process' pump thread: one message per event to this panel, a burst coalesced,
        in order. The end and the checkpoints written go on up from here (see the module docstring)."""
        try:
            for event in m.coalesce(batch):
                self.post_message(m.training_message(event))
        except Exception as exc:  # noqa: BLE001 - the pump would keep it in callback_error, unseen: say it
            self.post_message(m.Failed("training events", fmt.one_line(exc)))

    def start_training(self, settings: AppSettings, run_dir: Path) -> bool:
        """Start a training process on ``run_dir`` (continuing it, or from a ``--checkpoint`` file:
        :func:`core.store.policy.resume_from`); its events come to :meth:`deliver`. False, and the
        error shown, when it could not start."""
        s = settings
        resume = policy.resume_from(run_dir, checkpoint=s.checkpoint)
        job = TrainJob(s.data_path, run_dir, resume_from=resume, train=dict(s.train), model=dict(s.model),
                       filters=dict(s.filters), threads=s.threads, log_path=run_dir / "train.log")
        process = TrainingProcess(job, on_events=self.deliver)
        try:
            start_resource_tracker_immune_to_sighup()
            process.start()
        except Exception as exc:  # noqa: BLE001 - whatever it is, the app keeps running and says why
            process.close()
            self.tweetgen.show_error(f"could not start the training process: {fmt.one_line(exc)}")
            return False
        self.session.launch(process)
        return True

    @work(thread=True, group="training", exit_on_error=False, name="close the training process")
    def close_process(self, process: TrainingProcess) -> None:
        process.wait(15.0)  # the child exits right after its last event
        process.close()

    @property
    def tweetgen(self) -> TweetgenApp:
        return cast("TweetgenApp", self.app)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.tweetgen.report_worker(event)

    # ------------------------------------------------------------ updates from the App

    def show_state(self) -> None:
        """The session's state changed: draw the status line again."""
        self._render_status()

    def reset(self) -> None:
        """Forget the figures of the run shown (another run is about to start: a corpus opened in the app)."""
        self.step = self.epoch = self.total_steps = None
        self.chars_per_s = self.elapsed = self.eta_s = None
        self.val_bpc = self.best_val_bpc = None
        self.best_step = None
        self._render_stats()

    def set_corpus(self, label: str) -> None:
        self.corpus = label
        self.border_subtitle = label
        self._render_status()

    def started(self, event: StartEvent) -> None:
        self.overfit_since = None
        self.step = event.step
        self.total_steps = event.total_steps
        self._render_stats()

    def progress(self, event: StepEvent) -> None:
        self.step, self.epoch = event.step, event.epoch
        self.total_steps = event.total_steps
        self.chars_per_s, self.elapsed, self.eta_s = event.chars_per_s, event.elapsed, event.eta_s
        self.chart.add_train_loss(event.step, event.loss)
        self._render_stats()

    def reached(self, step: int) -> None:
        """The run ended at ``step``: the step and progress shown end there (progress events are
        throttled, so the last one can be a few steps short of the end)."""
        self.step = step if self.step is None else max(self.step, step)
        self._render_stats()

    def evaluated(self, event: EvalEvent) -> None:
        self.val_bpc, self.best_val_bpc = event.val_bpc, event.best_val_bpc
        self.best_step = event.best_step if event.best_step >= 0 else None
        if self.overfit_since is not None and event.best_step > self.overfit_since:
            self.overfit_since = None  # a new best: learning again
        self.chart.add_val_bpc(event.step, event.val_bpc)
        self._render_stats()

    def guarded(self, event: GuardEvent) -> None:
        """Overfitting (training goes on, the best is kept) is a state worth a line; a rollback ends it."""
        self.overfit_since = event.best_step if event.action in ("overfit", "early stop") else None
        self._render_stats()

    # ------------------------------------------------------------ drawing

    def _render_status(self) -> None:
        status = self.query_one("#train-status", Static)
        state, detail = self.session.state, self.session.detail
        status.set_classes(f"state-{state}")
        status.update(fmt.visible(f"{STATE_ICONS.get(state, '?')} {detail or state}"))

    def _render_stats(self) -> None:
        bar = self.query_one("#train-progress", ProgressBar)
        if self.total_steps:
            bar.display = True
            bar.update(total=self.total_steps, progress=min(self.step or 0, self.total_steps))
        else:
            bar.display = False
        step = "-" if self.step is None else f"{self.step:,}"
        if self.total_steps:
            step += f"/{self.total_steps:,}"
        epoch = "-" if self.epoch is None else str(self.epoch + 1)
        # three short lines: they must fit the 36 columns the panel has in an 80-column terminal
        lines = Text()
        lines.append(f"step {step} · epoch {epoch} · ETA {fmt.duration(self.eta_s)}\n")
        lines.append(f"{fmt.rate(self.chars_per_s)} chars/s · {fmt.duration(self.elapsed)} elapsed\n")
        worse = worse_by(self.val_bpc, self.best_val_bpc)
        if worse is None:
            lines.append(f"val {fmt.bpc(self.val_bpc)} · best {fmt.bpc(self.best_val_bpc)} bits/char")
        else:  # validation got worse than its best: say so, and where the best was
            lines.append(f"val {fmt.bpc(self.val_bpc)} ", style="bold")
            lines.append(f"▲{worse:.2f} worse", style="bold red")  # 34 columns: fits the 80-column layout
            lines.append(f" · best {fmt.bpc(self.best_val_bpc)}")
        if self.overfit_since is not None:  # 36 columns at most, like the lines above
            lines.append(f"\noverfitting since step {self.overfit_since:,}", style="bold yellow")
        self.query_one("#train-stats", Static).update(lines)


WORSE_SHOWN = 0.01  # bits/char above the best before the panel says validation got worse


def worse_by(val: float | None, best: float | None) -> float | None:
    """How much worse than its best the last validation is, when that is worth showing (else None)."""
    if val is None or best is None or val - best < WORSE_SHOWN:
        return None
    return val - best
