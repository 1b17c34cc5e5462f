"""The tweetgen App: the wiring between the services, the screens and the keys.

- Keys: :mod:`tui.keys` lists them (``KEYS``); ``check_action`` says which are enabled now (a disabled
  key shows greyed out in the Footer); each ``action_*`` hands its key to the owner of what it changes.
  A new key: a Binding in ``KEYS``, a line in ``check_action`` unless always enabled, an ``action_`` here.
- What every screen reads: ``settings``, the reactive sampling settings (temperature, top-k, top-p,
  prime, the probability view), the model in use (``source``), the run (``run_dir``, ``run_checkpoints``).
- Services (no Textual): ``training`` (:class:`TrainingSession`, the one state machine of training) and
  ``samples`` (:class:`SampleBook`, the session's samples and the novelty index).
- One error handler, :meth:`TweetgenApp.show_error`; :meth:`TweetgenApp.report_worker` hands it every
  worker's failure.

The work is done where its output is shown, each worker with a group and ``exit_on_error=False``:
:class:`~tui.screens.main.MainScreen` (start-up, what its panels report, training and quitting while
it trains, another corpus, the prime, the columns, o/y/e),
:class:`~tui.widgets.generation_panel.GenerationPanel` (the ``sample`` worker),
:class:`~tui.screens.columns.ColumnsScreen` (the sweep and the comparison),
:class:`~tui.widgets.checkpoint_panel.CheckpointPanel` (listing, model loads, following the run's
best checkpoint), :class:`~tui.widgets.training_panel.TrainingPanel` (the training process, its events),
:class:`~tui.widgets.neuron_watch.NeuronWatch` (on the main screen: the unit finder per checkpoint) and
:class:`~tui.screens.neurons.NeuronScreen` (the neuron view, u, and the states of the texts it colours).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App, SystemCommand
from textual.await_complete import AwaitComplete
from textual.driver import Driver
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from core import defaults
from core.events import TrainingState
from core.store import policy
from tui import format as fmt
from tui import messages as m
from tui.keys import KEYS, TOP_K_STEPS, TOP_P_STEPS, next_step
from tui.lifecycle import handle_stop_signals, hangup_safe
from tui.screens.columns import ColumnsScreen
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.neurons import NeuronScreen
from tui.screens.palette import SafeCommandPalette, key_commands
from tui.services.generation_stream import GeneratorSource
from tui.services.sample_book import SampleBook
from tui.services.training_session import TrainingSession
from tui.settings import TEMPERATURE_MAX, TEMPERATURE_MIN, AppSettings, clamp_temperature, say
from tui.widgets.checkpoint_panel import CheckpointPanel
from tui.widgets.footer import AppFooter, fit_footer
from tui.widgets.generation_panel import GenerationPanel
from tui.widgets.training_panel import TrainingPanel

if TYPE_CHECKING:
    from core.store.registry import CheckpointInfo


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
        self.samples = SampleBook()  # every sample of the session, and the novelty index
        self.errors: list[str] = []  # every error shown, newest last
        self._exiting = False  # exit() called: every key is disabled from then on

    # ------------------------------------------------------------ screens and panels

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

    @property
    def columns_screen(self) -> ColumnsScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, ColumnsScreen):
                return screen
        return None

    # ------------------------------------------------------------ keys: which are enabled now

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
            return True if self.samples.novelty is not None else None
        if action == "copy_tweet":  # (not "has text yet": the footer would recompose as each tweet starts)
            return True if self.columns_screen is not None or self.generation.current is not None else None
        if action == "export":
            return True if self.run_dir is not None and self.samples.exportable else None
        if action in ("neurons", "unit_off"):
            return NeuronScreen.enabled(self, action)
        if action == "open_corpus":
            busy = not training.can("open") or self.main_screen.pending_open is not None
            return None if busy or columns is not None or self.run_dir is None else True
        return True

    _SAMPLE_KEYS = ("copy_tweet", "export", "show_source")

    def refresh_sample_keys(self) -> None:
        """y, e and o depend on the samples shown: refresh the footer only when one of them changes
        (a refresh recomposes the footer: five columns finishing together must not cost five)."""
        states = tuple(self.check_action(a, ()) for a in self._SAMPLE_KEYS)
        if states != getattr(self, "_sample_key_states", None):
            self._sample_key_states = states
            self.refresh_bindings()

    # ------------------------------------------------------------ keys: what each does (in KEYS order)

    def action_resample(self) -> None:
        columns = self.columns_screen
        if columns is not None:
            columns.restart()
        else:
            self.generation.start_sample()

    def action_temperature(self, delta: float) -> None:
        self.temperature = clamp_temperature(self.temperature + delta)

    def action_start_training(self) -> None:
        self.main_screen.start_training()

    def action_pause_training(self) -> None:
        self.training.pause()

    def action_resume_training(self) -> None:
        self.training.resume()

    def action_save_checkpoint(self) -> None:
        if self.training.request_save():
            self.notify("Saving a checkpoint…", timeout=2)

    def action_focus_checkpoints(self) -> None:
        self.checkpoint_panel.table.focus()

    def action_toggle_probs(self) -> None:
        self.probs_view = not self.probs_view

    def action_sweep(self) -> None:
        self.main_screen.toggle_columns("sweep")

    def action_compare(self) -> None:
        self.main_screen.toggle_columns("compare")

    def action_leave_columns(self) -> None:  # escape on the columns
        screen = self.columns_screen
        if screen is not None:
            screen.leave()

    def action_prime(self) -> None:
        self.main_screen.ask_prime()

    def action_cycle_top_k(self) -> None:
        self.top_k = next_step(TOP_K_STEPS, self.top_k)
        self.notify(f"top-k {self.top_k or 'off'} from the next tweet", timeout=2)

    def action_cycle_top_p(self) -> None:
        self.top_p = next_step(TOP_P_STEPS, self.top_p)
        self.notify(f"top-p {self.top_p:g} from the next tweet" if self.top_p < 1 else "top-p off from the next tweet",
                    timeout=2)

    def action_show_source(self) -> None:
        self.main_screen.show_source()

    def action_copy_tweet(self) -> None:
        self.main_screen.copy_tweet()

    def action_export(self) -> None:
        self.main_screen.export_samples()

    def action_open_corpus(self) -> None:
        if self.check_action("open_corpus", ()) is True:
            self.main_screen.open_corpus()

    def action_neurons(self) -> None:
        NeuronScreen.open(self)

    def action_unit_off(self) -> None:
        self.generation.set_unit_view(None)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(KEYS))

    async def action_quit(self) -> None:
        self.main_screen.quit()  # (while training: once its checkpoint is written)

    def action_command_palette(self) -> None:  # ctrl+p
        if self.use_command_palette and not self._exiting and not isinstance(self.screen, SafeCommandPalette):
            self.push_screen(SafeCommandPalette())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette offers every key's action that is enabled right now."""
        yield from super().get_system_commands(screen)
        yield from key_commands(self, KEYS)

    # ------------------------------------------------------------ the settings every screen reads

    def watch_temperature(self) -> None:
        self.generation.show_settings()

    watch_top_k = watch_top_p = watch_prime = watch_temperature  # the generation panel's status line shows them all

    def watch_probs_view(self, on: bool) -> None:
        self.generation.set_probs_view(on)
        for screen in self.screen_stack:
            if isinstance(screen, ColumnsScreen):
                screen.set_probs_view(on)

    def sample_config(self, temperature: float, seed: int | None) -> Any:
        """The :class:`core.model.sampler.SampleConfig` of a new sample: the app's settings now.

        The hard cut is --max-len, else a quarter past the current model's longest training text
        (a model trained on 280-character tweets gets room for them; the model ends on its own first)."""
        from core.model.sampler import SampleConfig, default_max_len

        max_len = self.settings.max_len or (default_max_len(self.source.model) if self.source is not None else defaults.SAMPLE_MAX_LEN)
        return SampleConfig(temperature=temperature, top_k=self.top_k, top_p=self.top_p, max_len=max_len,
                            prime=self.prime, seed=seed)

    def label_for(self, path: Path) -> str:
        return policy.label_for(path, run_dir=self.run_dir, demo=self.settings.demo_checkpoint)

    @property
    def train_state(self) -> TrainingState:
        return self.training.state

    # ------------------------------------------------------------ what crosses from one owner to another

    def on_sample_finished(self, message: m.SampleFinished) -> None:
        """After the view showing it (the single view or a column) has drawn it: its novelty."""
        if not self._main_gone():
            self.main_screen.sample_finished(message.sample_id)

    def on_checkpoint_written(self, message: m.CheckpointWritten) -> None:
        if not self._main_gone():  # else the last checkpoint of a quit: on disk, with no panel left to list it
            self.checkpoint_panel.checkpoint_written(message.event)  # (from the training panel)

    def _main_gone(self) -> bool:
        """The main screen's panels are gone: the app is closing, and a message that bubbled up from a
        panel (or a worker's) before that is still in the App's queue (NoMatches failed tests at load)."""
        return not self.query(CheckpointPanel)

    def _training_changed(self) -> None:
        """The training session moved: the panel's status line and the keys follow it."""
        for panel in self.query(TrainingPanel):  # (none yet while the App is built)
            panel.show_state()
        self.refresh_bindings()

    # ------------------------------------------------------------ the app's life: start, resize, signals, exit

    def on_mount(self) -> None:
        self.sub_title = self.settings.data_label
        handle_stop_signals(self._on_stop_signal, True)

    def on_resize(self, event: events.Resize) -> None:
        # the palette hint costs 11 columns: the keys come first in an 80-column terminal
        for screen in self.screen_stack:
            for footer in screen.query(AppFooter):
                fit_footer(footer, event.size.width)  # (self.size can still be the size before this event)

    def _on_stop_signal(self, name: str) -> None:
        self.log.warning(f"{name}: quitting")
        if not self._exiting and not self.training.quitting:
            self.call_later(self.action_quit)

    def get_driver_class(self) -> type[Driver]:
        return hangup_safe(super().get_driver_class())  # a closed terminal must not hang the app

    def pop_screen(self) -> AwaitComplete:
        """Textual's pop, except that popping the last screen (a second dismiss of a closing
        screen) is ignored instead of ending the app with ScreenStackError."""
        if len(self.screen_stack) <= 1:
            self.log.warning("pop_screen with one screen on the stack: ignored")
            return AwaitComplete.nothing()
        return super().pop_screen()

    @property
    def closing(self) -> bool:
        """exit() was called: nothing new starts (every key is disabled)."""
        return self._exiting

    def exit(self, result: None = None, return_code: int = 0, message: Any = None) -> None:
        self._exiting = True
        super().exit(result, return_code, message)

    def on_unmount(self) -> None:
        handle_stop_signals(self._on_stop_signal, False)
        self.training.shutdown(self.settings.stop_timeout_s)

    # ------------------------------------------------------------ errors: the one handler

    def show_error(self, text: str) -> None:
        """Every error the app shows: a toast, kept in ``errors``."""
        self.errors.append(text)
        # plain text: an error may quote a corpus line or a file name ([ ], control characters)
        self.notify(fmt.printable(text), title="Error", severity="error", timeout=12, markup=False)

    def report_worker(self, event: Worker.StateChanged) -> None:
        """The one place worker failures end up (every owner of workers hands its state changes here):
        reported, and the app keeps running."""
        worker = event.worker
        if event.state != WorkerState.ERROR:
            return
        detail = fmt.one_line(worker.error) if worker.error is not None else "unknown error"
        self.show_error(f"{worker.name or worker.group} failed: {detail}")
        if worker.group in ("sample", "columns"):  # generation stopped: say so where the tweets were, not only in a toast
            self.generation.note(f"Generation stopped: {detail}. Press r to try again.")
        if worker.group == "sample":
            self.generation.sampling = False

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.report_worker(event)

    def on_model_failed(self, message: m.ModelFailed) -> None:
        keep = f"; still generating from {self.source.describe()}" if self.source is not None else ""
        self.show_error(message.error + keep)

    def on_failed(self, message: m.Failed) -> None:
        self.show_error(f"{message.what} failed: {message.error}")
