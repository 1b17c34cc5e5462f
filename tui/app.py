"""The tweetgen App: it wires the services, the screens and the keys together.

Keys are in :mod:`tui.keys` (``KEYS``); ``check_action`` here decides which are enabled right now
(a disabled key is still shown in the Footer, greyed out), and the ``action_*`` methods hand each
to its owner. The App keeps the services and the settings every screen reads: the reactive
sampling settings (temperature, top-k, top-p, prime, the probability view), the model in use
(``source``), the run (``run_dir``), the training session (:class:`TrainingSession`, the one
state machine of training), the session's samples with the novelty index, and one error handler
(:meth:`TweetgenApp.report_worker`, where every worker's failure ends up).

The work is done where its output is shown (each worker has a group, ``exit_on_error=False``):

- :class:`tui.screens.main.MainScreen`: start-up (``boot``: the run, the first model, the corpus),
  opening a corpus (d), the novelty index and what reads it: the source (o), copy (y), export (e);
- :class:`tui.widgets.generation_panel.GenerationPanel`: the ``sample`` thread worker, checked for
  cancellation before every character, and the prime input (i);
- :class:`tui.screens.columns.ColumnsScreen`: the sweep and the comparison (``columns``; opened by t, v);
- :class:`tui.widgets.checkpoint_panel.CheckpointPanel`: ``listing`` and the ``model`` loads
  (picked by hand, or following the run's best);
- :class:`tui.widgets.training_panel.TrainingPanel`: starting training (space), the process' events (a spawned
  process, drained in bursts by its pump thread, coalesced).
- :class:`tui.widgets.neuron_watch.NeuronWatch` (on the main screen): the unit finder per checkpoint, and
  :class:`tui.screens.neurons.NeuronScreen`: the neuron view (u) and the states of the texts it colours.

What the App acts on bubbles up to it from there. The run/checkpoint decisions are
:mod:`core.store.policy`'s: the App calls it and shows the results.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.actions import parse as parse_action
from textual.app import App, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.driver import Driver
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from core import defaults
from core.store import policy
from core.events import TrainingState
from tui import format as fmt
from tui import messages as m
from tui.format import one_line
from tui.keys import KEYS, TOP_K_STEPS, TOP_P_STEPS
from tui.lifecycle import handle_stop_signals, hangup_safe
from tui.screens.columns import ColumnsScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.neurons import NeuronScreen
from tui.screens.open_corpus import CorpusChoice
from tui.screens.palette import SafeCommandPalette
from tui.services.generation_stream import GeneratorSource
from tui.services.training_session import TrainingSession
from tui.settings import TEMPERATURE_MAX, TEMPERATURE_MIN, AppSettings, clamp_temperature, say
from tui.widgets.checkpoint_panel import CheckpointPanel
from tui.widgets.footer import AppFooter, fit_footer
from tui.widgets.generation_panel import GenerationPanel, SampleRecord
from tui.widgets.training_panel import TrainingPanel

if TYPE_CHECKING:
    from core.model.novelty import NoveltyIndex
    from core.store.registry import CheckpointInfo

MAX_SESSION = 10_000  # samples kept for export (e); the oldest go first


class TweetgenApp(App[None]):
    """Train a character GRU in the background and watch it write tweets."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "tweetgen"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]

    BINDINGS = KEYS  # every key of the app: tui/keys.py


    temperature: reactive[float] = reactive(defaults.TEMPERATURE, bindings=True, init=False)
    probs_view: reactive[bool] = reactive(False, init=False)
    """Colour streamed characters by the model's probability of them (key p)."""
    top_k: reactive[int] = reactive(0, init=False)
    top_p: reactive[float] = reactive(1.0, init=False)
    prime: reactive[str] = reactive("", init=False)

    def __init__(self, settings: AppSettings) -> None:
        super().__init__()
        self.settings = settings
        self.set_reactive(TweetgenApp.temperature, settings.temperature)
        self.source: GeneratorSource | None = None
        self.run_dir: Path | None = None
        self.run_checkpoints: list[CheckpointInfo] = []
        self.training = TrainingSession(self._training_changed, word=say)  # the one training state machine
        self.errors: list[str] = []  # every error shown, newest last
        self._exiting = False  # exit() called: every key is disabled from then on
        self.records: dict[int, SampleRecord] = {}  # every sample of the session by id (single view and columns)
        self.session: list[SampleRecord] = []  # the same, in the order they started (export: e)
        self.novelty: NoveltyIndex | None = None
        self.novelty_note = "indexing…"  # why there is no index (yet)
        self._pending_open: CorpusChoice | None = None  # opened while training: started once that run has stopped
        self._training_soon = False  # a corpus was opened: training starts once its run is resolved

    # ------------------------------------------------------------ layout

    def get_default_screen(self) -> MainScreen:
        self.main_screen = MainScreen(self.training)
        return self.main_screen

    @property
    def generation(self) -> GenerationPanel:
        return self.query_one(GenerationPanel)

    @property
    def training_panel(self) -> TrainingPanel:
        return self.query_one(TrainingPanel)

    @property
    def checkpoint_panel(self) -> CheckpointPanel:
        return self.query_one(CheckpointPanel)

    def on_resize(self, event: events.Resize) -> None:
        # the palette hint costs 11 columns: the keys come first in an 80-column terminal
        for screen in self.screen_stack:
            for footer in screen.query(AppFooter):
                fit_footer(footer, event.size.width)  # (self.size can still be the size before this event)

    def on_mount(self) -> None:
        self.sub_title = self.settings.data_label
        handle_stop_signals(self._on_stop_signal, True)

    def _on_stop_signal(self, name: str) -> None:
        self.log.warning(f"{name}: quitting")
        if not self._exiting and not self.training.quitting:
            self.call_later(self.action_quit)

    # ------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """True: enabled. None: shown disabled. False: hidden (the other `space` bindings)."""
        if self._exiting:
            return None  # keys typed while the app closes must not touch its widgets
        training = self.training
        if action == "resample":
            return True if self.source is not None else None
        if action == "temperature":
            delta = float(parameters[0]) if parameters else 0.0  # type: ignore[arg-type]
            blocked = self.temperature >= TEMPERATURE_MAX if delta > 0 else self.temperature <= TEMPERATURE_MIN
            return None if blocked else True
        if action == "start_training":
            if training.state in ("idle", "error", "stopping"):
                return True if training.can("start") and self.run_dir is not None else None
            return False
        if action == "pause_training":
            return training.can("pause")
        if action == "resume_training":
            return training.can("resume")
        if action == "save_checkpoint":
            return True if training.can("save") else None
        columns = self.columns_screen
        if action == "focus_checkpoints":
            return True if self.checkpoint_panel.infos and columns is None else None
        if action in ("sweep", "prime"):
            if columns is not None:
                return True if action == "sweep" and columns.kind == "sweep" else None
            return True if self.source is not None else None
        if action == "compare":
            if columns is not None:
                return True if columns.kind == "compare" else None
            return True if len(self.checkpoint_panel.marked) >= 2 else None
        if action == "show_source":  # (not "is flagged now": the footer would recompose as each tweet starts and ends)
            return True if self.novelty is not None else None
        if action == "copy_tweet":  # (not "has text yet": the footer would recompose as each tweet starts)
            return True if self.columns_screen is not None or self.generation.current is not None else None
        if action == "export":
            return True if self.run_dir is not None and any(r.complete for r in self.session) else None
        if action in ("neurons", "unit_off"):
            return NeuronScreen.enabled(self, action)
        if action == "open_corpus":
            busy = not training.can("open") or self._pending_open is not None
            return None if busy or columns is not None or self.run_dir is None else True
        return True

    def action_resample(self) -> None:
        columns = self.columns_screen
        if columns is not None:
            columns.restart()
        else:
            self.generation.start_sample()

    def action_temperature(self, delta: float) -> None:
        self.temperature = clamp_temperature(self.temperature + delta)

    def watch_temperature(self) -> None:
        self.show_generation_status()

    def action_start_training(self) -> None:
        self.training_panel.start_training()

    def action_pause_training(self) -> None:
        if self.training.process is not None:
            self.training.process.pause()

    def action_resume_training(self) -> None:
        if self.training.process is not None:
            self.training.process.resume()

    def action_save_checkpoint(self) -> None:
        if self.training.process is not None:
            self.training.process.request_save()
            self.notify("Saving a checkpoint…", timeout=2)

    def action_focus_checkpoints(self) -> None:
        self.checkpoint_panel.table.focus()

    # ------------------------------------------------------------ opening a corpus (d)

    def action_open_corpus(self) -> None:
        self.main_screen.open_corpus_dialog()

    def on_corpus_opened(self, message: m.CorpusOpened) -> None:
        self._training_soon = False
        if self.run_dir is not None and policy.same_file(self.run_dir, message.run_dir):
            self.action_start_training()

    def action_neurons(self) -> None:
        NeuronScreen.open(self)

    def action_unit_off(self) -> None:
        self.generation.set_unit_view(None)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self._key_bindings()))

    async def action_quit(self) -> None:
        """Quit; while training, stop it first and leave when its final checkpoint is written."""
        process = self.training.process
        if process is None or process.finished:
            self.exit()
            return
        if self.training.quitting:
            self.notify("Still saving the checkpoint…", timeout=2)
            return
        self.training.stop("saving a checkpoint before quitting…", quitting=True)
        self.notify("Saving a checkpoint before quitting…", timeout=self.settings.stop_timeout_s)
        self.set_timer(self.settings.stop_timeout_s, self._give_up_stopping)

    def get_driver_class(self) -> type[Driver]:
        return hangup_safe(super().get_driver_class())  # a closed terminal must not hang the app

    @property
    def closing(self) -> bool:
        """exit() was called: nothing new starts (every key is disabled)."""
        return self._exiting

    def exit(self, result: None = None, return_code: int = 0, message: Any = None) -> None:
        self._exiting = True
        super().exit(result, return_code, message)

    def _give_up_stopping(self) -> None:
        if self.training.process is not None:
            self.training.process.close()
        self.exit(message="tweetgen-tui: the training process did not stop in time and was killed")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette offers every key's action that is enabled right now."""
        yield from super().get_system_commands(screen)
        for binding in self._key_bindings():
            _, name, params = parse_action(binding.action)
            if self.check_action(name, params) is True:
                key = binding.key_display or binding.key
                yield SystemCommand(f"{binding.description} ({key})", binding.tooltip or binding.description,
                                    functools.partial(self._run_if_enabled, binding.action))

    def action_command_palette(self) -> None:
        if self.use_command_palette and not self._exiting and not isinstance(self.screen, SafeCommandPalette):
            self.push_screen(SafeCommandPalette())

    def pop_screen(self) -> AwaitComplete:
        """Textual's pop, except that popping the last screen (a second dismiss of a closing
        screen) is ignored instead of ending the app with ScreenStackError."""
        if len(self.screen_stack) <= 1:
            self.log.warning("pop_screen with one screen on the stack: ignored")
            return AwaitComplete.nothing()
        return super().pop_screen()

    async def _run_if_enabled(self, action: str) -> None:
        """Run a palette command if its key is enabled *now* (the palette lists what was enabled when it opened)."""
        _, name, params = parse_action(action)
        if self.check_action(name, params) is True:
            await self.run_action(action)

    def _key_bindings(self) -> list[Binding]:
        return [b if isinstance(b, Binding) else Binding(*b) for b in self.BINDINGS]

    # ------------------------------------------------------------ sampling

    def sample_config(self, temperature: float, seed: int | None) -> Any:
        """The :class:`core.model.sampler.SampleConfig` of a new sample: the app's settings now.

        The hard cut is --max-len, else a quarter past the current model's longest training text
        (a model trained on 280-character tweets gets room for them; the model ends on its own first)."""
        from core.model.sampler import SampleConfig, default_max_len

        max_len = self.settings.max_len or (default_max_len(self.source.model) if self.source is not None else defaults.SAMPLE_MAX_LEN)
        return SampleConfig(temperature=temperature, top_k=self.top_k, top_p=self.top_p, max_len=max_len,
                            prime=self.prime, seed=seed)

    def keep(self, record: SampleRecord) -> None:
        """Every sample of the session, for the novelty check and export (e)."""
        self.records[record.sample_id] = record
        self.session.append(record)
        if len(self.session) > MAX_SESSION:
            old = self.session.pop(0)
            self.records.pop(old.sample_id, None)

    def on_sample_finished(self, message: m.SampleFinished) -> None:
        """After the widget showing it has (and, in the single view, scheduled the next): check its novelty."""
        record = self.records.get(message.sample_id)
        if record is not None and record.complete:
            self.main_screen.check_novelty(record)
        self.refresh_sample_keys()

    _SAMPLE_KEYS = ("copy_tweet", "export", "show_source")

    def refresh_sample_keys(self) -> None:
        """y, e and o depend on the samples shown: refresh the footer only when one of them changes
        (a refresh recomposes the footer: five columns finishing together must not cost five)."""
        states = tuple(self.check_action(a, ()) for a in self._SAMPLE_KEYS)
        if states != getattr(self, "_sample_key_states", None):
            self._sample_key_states = states
            self.refresh_bindings()

    # ------------------------------------------------------------ probability view, prime, top-k, top-p

    def action_toggle_probs(self) -> None:
        self.probs_view = not self.probs_view

    def watch_probs_view(self, on: bool) -> None:
        self.generation.set_probs_view(on)
        for screen in self.screen_stack:
            if isinstance(screen, ColumnsScreen):
                screen.set_probs_view(on)

    def action_cycle_top_k(self) -> None:
        steps = TOP_K_STEPS
        self.top_k = steps[(steps.index(self.top_k) + 1) % len(steps)] if self.top_k in steps else steps[0]
        self.notify(f"top-k {self.top_k or 'off'} from the next tweet", timeout=2)

    def action_cycle_top_p(self) -> None:
        steps = TOP_P_STEPS
        self.top_p = steps[(steps.index(self.top_p) + 1) % len(steps)] if self.top_p in steps else steps[0]
        self.notify(f"top-p {self.top_p:g} from the next tweet" if self.top_p < 1 else "top-p off from the next tweet",
                    timeout=2)

    def watch_top_k(self) -> None:
        self.show_generation_status()

    def watch_top_p(self) -> None:
        self.show_generation_status()

    def watch_prime(self) -> None:
        self.show_generation_status()

    def action_prime(self) -> None:
        self.generation.ask_prime()

    # ------------------------------------------------------------ the sweep (t) and the comparison (v)

    @property
    def columns_screen(self) -> ColumnsScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, ColumnsScreen):
                return screen
        return None

    def action_sweep(self) -> None:
        if self.columns_screen is not None:
            self.action_leave_columns()
        elif self.source is not None:
            ColumnsScreen.open(self, "sweep")

    def action_compare(self) -> None:
        if self.columns_screen is not None:
            self.action_leave_columns()
        elif len(self.checkpoint_panel.marked) >= 2:
            ColumnsScreen.open(self, "compare")

    def action_leave_columns(self) -> None:
        screen = self.columns_screen
        if screen is not None:
            screen.leave()

    def resume_single(self) -> None:
        """The columns have closed: the single view writes again."""
        self.refresh_bindings()
        if self.columns_screen is None:
            self.generation.start_sample()

    # ------------------------------------------------------------ novelty (o), copy (y), export (e): MainScreen's

    def action_show_source(self) -> None:
        self.main_screen.show_source()

    def action_copy_tweet(self) -> None:
        self.main_screen.copy_tweet()

    def action_export(self) -> None:
        self.main_screen.export()

    def show_generation_status(self) -> None:
        source = self.source.describe() if self.source is not None else None
        if source is not None and self.source is not None and self.source.step is not None and \
                policy.is_best_of_run(self.source.path, self.run_checkpoints):
                # says which checkpoint generates and that it is the run's best; the run name last, where a
                # narrow terminal cuts it
                source = f"best step {self.source.step:,} · {self.source.label}"
        self.generation.set_status(self.temperature, source, self.settings.pace, top_k=self.top_k, top_p=self.top_p,
                                   prime=self.prime)

    # ------------------------------------------------------------ models and checkpoints

    def label_for(self, path: Path) -> str:
        return policy.label_for(path, run_dir=self.run_dir, demo=self.settings.demo_checkpoint)

    @on(CheckpointPanel.MarksChanged)
    def _marks_changed(self) -> None:
        self.refresh_bindings()  # v needs two marked

    def _main_gone(self) -> bool:
        """The main screen's panels are gone: the app is closing, and a message that bubbled up from a
        panel (or a worker's) before that is still in the App's queue (NoMatches failed a test at load)."""
        return not self.query(CheckpointPanel)

    def on_checkpoint_panel_selected(self, message: CheckpointPanel.Selected) -> None:
        if self._main_gone():
            return
        self.checkpoint_panel.switch_to(message.path)

    def on_run_resolved(self, message: m.RunResolved) -> None:
        self.run_dir = message.plan.run_dir  # here, on the UI thread: check_action and the handlers read it
        self.run_checkpoints = message.plan.of_run
        if self._main_gone():
            return
        self.checkpoint_panel.set_run(self.run_dir)
        self.training.ready()
        self.refresh_bindings()

    def on_corpus_failed(self, message: m.CorpusFailed) -> None:
        self.training.corpus_failed(message.error)
        self._error(message.error)

    def on_checkpoints_listed(self, message: m.CheckpointsListed) -> None:
        """After the CheckpointPanel has shown it (and followed the run)."""
        if self._main_gone():
            return
        self.run_checkpoints = self.checkpoint_panel.of_run(message.infos)
        self.refresh_bindings()  # `c` is enabled once there is a checkpoint to go to
        self.show_generation_status()  # "best" may have moved

    def on_model_ready(self, message: m.ModelReady) -> None:
        source = message.source
        self.source = source
        if self._main_gone():
            return
        # follow the run's new checkpoints from the untrained model, from the run's choice (best, else newest), and when following already
        # (a follow load is the only one that does not interrupt; the listing may not show its file yet)
        self.checkpoint_panel.follow_best = source.path is None or not message.interrupt or \
            policy.is_choice_of_run(source.path, self.run_checkpoints)
        self.show_generation_status()
        self.refresh_bindings()
        if source.path is None and self._pending_open is None and not self._training_soon:
            self.generation.note("No checkpoint yet: press space to train. Until then an untrained model writes noise.")
        if message.interrupt or not self.generation.busy:
            self.generation.start_sample()

    def on_model_failed(self, message: m.ModelFailed) -> None:
        keep = f"; still generating from {self.source.describe()}" if self.source is not None else ""
        self._error(message.error + keep)

    # ------------------------------------------------------------ training

    def on_training_started(self, message: m.TrainingStarted) -> None:
        self.training.started(message.event)

    def on_training_paused(self, message: m.TrainingPaused) -> None:
        self.training.paused(message.event)

    def on_training_guarded(self, message: m.TrainingGuarded) -> None:
        """Validation stayed worse than its best: overfitting (training goes on; the panel shows it) is news,
        a rollback or a stop is a warning."""
        if message.event.action == "overfit":
            self.notify(message.event.message, title="Overfitting", timeout=10)
        else:
            self.notify(message.event.message, title="Validation got worse", severity="warning", timeout=10)

    def on_checkpoint_written(self, message: m.CheckpointWritten) -> None:
        if self._main_gone():
            return  # the last checkpoint of a quit: it is on disk; there is no panel left to list it
        self.checkpoint_panel.checkpoint_written(message.event)

    def on_training_finished(self, message: m.TrainingFinished) -> None:
        event = message.event
        process = self.training.finished(event)
        if process is not None:
            if self._main_gone():
                process.wait(15.0)  # as TrainingPanel.close_process: the child exits right after its last event
                process.close()
            else:
                self.training_panel.close_process(process)
        if event.reason in ("diverged", "error"):
            self._error(say(event.hint or event.message))  # core's hints in this app's flags
        elif not self.training.quitting:
            self.notify(event.message.capitalize(), timeout=5)
        if self.training.quitting:
            self.exit()
        elif self._pending_open is not None:
            self.main_screen.open_corpus(self._pending_open)

    def _training_changed(self) -> None:
        """The training session moved: the panel's status line and the keys follow it."""
        for panel in self.query(TrainingPanel):  # (none yet while the App is built)
            panel.show_state()
        self.refresh_bindings()

    @property
    def train_state(self) -> TrainingState:
        return self.training.state

    def shutdown_training(self, timeout: float | None = None) -> None:
        """Stop a still-running training process and wait for its checkpoint (used on any exit path)."""
        process = self.training.detach()
        if process is not None:
            if not process.finished:
                process.stop(self.settings.stop_timeout_s if timeout is None else timeout)
            process.close()

    def on_unmount(self) -> None:
        handle_stop_signals(self._on_stop_signal, False)
        self.shutdown_training()

    # ------------------------------------------------------------ plumbing

    def _error(self, text: str) -> None:
        self.errors.append(text)
        # plain text: an error may quote a corpus line or a file name ([ ], control characters)
        self.notify(fmt.printable(text), title="Error", severity="error", timeout=12, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker(event)

    def report_worker(self, event: Worker.StateChanged) -> None:
        """The one place worker failures end up (every owner of workers hands its state changes here):
        reported, and the app keeps running."""
        worker = event.worker
        if event.state != WorkerState.ERROR:
            return
        detail = one_line(worker.error) if worker.error is not None else "unknown error"
        self._error(f"{worker.name or worker.group} failed: {detail}")
        if worker.group in ("sample", "columns"):  # generation stopped: say so where the tweets were, not only in a toast
            self.generation.note(f"Generation stopped: {detail}. Press r to try again.")
        if worker.group == "sample":
            self.generation.sampling = False

    def on_failed(self, message: m.Failed) -> None:
        self._error(f"{message.what} failed: {message.error}")
