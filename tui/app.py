"""The tweetgen App: key bindings, workers, and the handlers that feed the panels.

Keys live in ``TweetgenApp.BINDINGS`` just below; ``check_action`` decides which are
enabled right now (a disabled key is still shown in the Footer, greyed out).

How work is split:

- ``boot`` (thread worker): imports torch, finds the run directory, loads the first
  model (explicit checkpoint, newest of the run, demo, else an untrained model over
  the corpus), lists checkpoints and reads the corpus. The first frame never waits
  for it.
- ``sample`` (thread worker, exclusive in its group): streams one tweet, checking for
  cancellation before every character; chunks are posted at most once per frame.
- ``model`` (thread worker, exclusive in its group): loads a checkpoint to switch to.
- ``training`` (thread worker): drains the events of the :class:`TrainingProcess`
  (a separate process, so training never holds this process' GIL) into messages.
- ``listing`` (thread worker): re-lists checkpoints after one is written.

Workers post only the messages of :mod:`tui.messages`; their failures all arrive in
:meth:`TweetgenApp.on_worker_state_changed`. Groups differ, so no worker cancels
another kind.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events, on, work
from textual.actions import parse as parse_action
from textual.app import App, ComposeResult, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.driver import Driver
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Header
from textual.worker import Worker, WorkerState, get_current_worker

from core import policy
from core.background import TrainingProcess, TrainJob
from core.events import DoneEvent
from tui import format as fmt
from tui import messages as m
from tui.checkpoint_panel import CheckpointPanel
from tui.footer import ALL_KEYS_FIT, AppFooter
from tui.generation_stream import GeneratorSource, load_source, setup_torch, stream_chunks, untrained_source
from tui.generation_panel import GenerationPanel
from tui.help_screen import HelpScreen
from tui.palette import SafeCommandPalette
from tui.terminal import hangup_safe
from tui.settings import (
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    TEMPERATURE_STEP,
    AppSettings,
    app_flags,
    clamp_temperature,
)
from tui.training_panel import TrainingPanel

if TYPE_CHECKING:
    from core.registry import CheckpointInfo

LIST_MIN_INTERVAL_S = 2.0  # checkpoints are re-listed at most this often, however fast they are written
LIST_DUTY = 0.03  # ... and the listing thread (it competes with the UI for the GIL) is busy at most this share of the time
STALE_CHECK_S = 2.0  # how often the run directory is checked (one stat) for files changed behind the app
DRAIN_FRAME_S = 1 / 30  # training events are taken in bursts at most this often
_Handler = TypeVar("_Handler", bound=Callable[..., None])


def while_running(handler: _Handler) -> _Handler:
    """For handlers of worker messages: a message can still be delivered while the app
    shuts down, after its widgets are gone; it is dropped then."""

    @functools.wraps(handler)
    def wrapper(self: App[None], message: Message) -> None:
        if self.is_running:
            handler(self, message)

    return wrapper  # type: ignore[return-value]


def _start_resource_tracker_immune_to_sighup() -> None:
    """multiprocessing's resource tracker (a helper process the training queues need) ignores SIGINT
    and SIGTERM but dies of the SIGHUP a closed terminal sends the whole process group, and then
    prints tracebacks while the app saves and exits. Started with SIGHUP blocked, it inherits the
    block (it unblocks only SIGINT and SIGTERM). Blocked, not ignored, here: a hangup that arrives
    meanwhile stays pending and is handled once unblocked, instead of being lost (the app would
    then never quit on it)."""
    from multiprocessing import resource_tracker

    from core.background import _real_std_streams  # Textual's stderr has no file descriptor to pass on

    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    except (AttributeError, ValueError, OSError):  # no SIGHUP or no signal masks here
        return
    try:
        with _real_std_streams():
            resource_tracker.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class TweetgenApp(App[None]):
    """Train a character GRU in the background and watch it write tweets."""

    CSS_PATH = Path(__file__).parent / "app.tcss"
    TITLE = "tweetgen"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]

    # Every key of the app. `space` has one binding per state; check_action shows the one that applies.
    BINDINGS = [
        Binding("r", "resample", "Resample", tooltip="stop this tweet and generate a new one"),
        Binding("plus,equals_sign", f"temperature({TEMPERATURE_STEP})", "Temp+", key_display="+",
                tooltip="temperature up by 0.1 (max 5.0), from the next tweet"),
        Binding("minus,underscore", f"temperature({-TEMPERATURE_STEP})", "Temp-", key_display="-",
                tooltip="temperature down by 0.1 (min 0.1), from the next tweet"),
        Binding("space", "start_training", "Train", tooltip="start training (resumes from the run's newest checkpoint)"),
        Binding("space", "pause_training", "Pause", tooltip="pause training"),
        Binding("space", "resume_training", "Resume", tooltip="resume training"),
        Binding("s", "save_checkpoint", "Save", tooltip="save a checkpoint of the current training step now"),
        Binding("c", "focus_checkpoints", "Checkpoints", tooltip="go to the checkpoint list (enter switches the generator)"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this list of keys"),
        Binding("q", "quit", "Quit", tooltip="quit (saves a checkpoint first when training)"),
    ]

    train_state: reactive[str] = reactive("idle", bindings=True, init=False)
    """idle | starting | running | paused | stopping"""
    temperature: reactive[float] = reactive(0.8, bindings=True, init=False)

    def __init__(self, settings: AppSettings) -> None:
        super().__init__()
        self.settings = settings
        self.set_reactive(TweetgenApp.temperature, settings.temperature)
        self.source: GeneratorSource | None = None
        self.run_dir: Path | None = None
        self.run_checkpoints: list[CheckpointInfo] = []
        self.follow_best = False  # switch to the run's best checkpoint whenever a better one is written (from the next tweet)
        self.training: TrainingProcess | None = None
        self.last_done: DoneEvent | None = None
        self.corpus_error: str | None = None
        self.corpus_size: int | None = None
        self.checkpoints_listed = False
        self.sample_id = 0
        self.sampling = False
        self._next_sample: Timer | None = None
        self._quitting = False  # q pressed while training: exit once the final checkpoint is written
        self.errors: list[str] = []  # every error shown, newest last
        self._exiting = False  # exit() called: every key is disabled from then on
        self.stop_signal: str | None = None  # "SIGTERM"/"SIGHUP" when one asked the app to quit
        self._listing_timer: Timer | None = None
        self._last_listing = float("-inf")  # time.monotonic() of the last listing started
        self._listing_cost = 0.0  # seconds the last listing took
        self._listed_mtime: int | None = None  # the run directory's mtime when it was last listed
        self._follow_pending: Path | None = None  # the newest checkpoint to follow once the load in flight is done
        self._follow_loading = False

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield GenerationPanel(id="generation")
            with Vertical(id="side"):
                yield TrainingPanel(id="training")
                yield CheckpointPanel(id="checkpoints")
        yield AppFooter(compact=True)

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
        width = event.size.width  # (self.size can still be the size before this event)
        footer = self.query_one(AppFooter)
        footer.show_command_palette = width >= 100
        footer.narrow = width < ALL_KEYS_FIT  # ? Help and q Quit first, not cut off

    def on_mount(self) -> None:
        self.sub_title = self.settings.data_label
        self._show_generation_status()
        self.training_panel.set_corpus(self.settings.data_label)
        self.training_panel.set_state("idle", "loading…")
        self._boot()
        self.set_interval(STALE_CHECK_S, self._check_stale_listing)
        self._handle_signals(True)

    def _handle_signals(self, install: bool) -> None:
        """SIGTERM and SIGHUP (a closed terminal, a dropped ssh session) quit as q does: training stops
        with a checkpoint, the terminal is restored, and the exit status is 0. Without this the default
        action killed the app at once (status 143) and left the terminal in the app's screen mode."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for name in ("SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                if install:
                    loop.add_signal_handler(sig, self._on_stop_signal, name)
                else:
                    loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
                pass

    def _on_stop_signal(self, name: str) -> None:
        self.log.warning(f"{name}: quitting")
        self.stop_signal = name
        if not self._exiting and not self._quitting:
            self.call_later(self.action_quit)

    # ------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """True: enabled. None: shown disabled. False: hidden (the other `space` bindings)."""
        if self._exiting:
            return None  # keys typed while the app closes must not touch its widgets
        state = self.train_state
        if action == "resample":
            return True if self.source is not None else None
        if action == "temperature":
            delta = float(parameters[0]) if parameters else 0.0  # type: ignore[arg-type]
            blocked = self.temperature >= TEMPERATURE_MAX if delta > 0 else self.temperature <= TEMPERATURE_MIN
            return None if blocked else True
        if action == "start_training":
            if state in ("idle", "stopping"):
                return True if state == "idle" and self.run_dir is not None else None
            return False
        if action == "pause_training":
            return state in ("starting", "running")
        if action == "resume_training":
            return state == "paused"
        if action == "save_checkpoint":
            return True if state in ("running", "paused") else None
        if action == "focus_checkpoints":
            return True if self.checkpoint_panel.infos else None
        return True

    def action_resample(self) -> None:
        self.start_sample()

    def action_temperature(self, delta: float) -> None:
        self.temperature = clamp_temperature(self.temperature + delta)

    def watch_temperature(self) -> None:
        self._show_generation_status()

    def action_start_training(self) -> None:
        run_dir = self.run_dir
        if run_dir is None or self.train_state != "idle" or self._exiting:
            return  # e.g. a palette command chosen twice: one training process at a time
        s = self.settings
        resume = policy.resume_from(run_dir, checkpoint=s.checkpoint)
        job = TrainJob(s.data_path, run_dir, resume_from=resume, train=dict(s.train), model=dict(s.model),
                       filters=dict(s.filters), threads=s.threads, log_path=run_dir / "train.log")
        process = TrainingProcess(job)
        try:
            _start_resource_tracker_immune_to_sighup()
            process.start()
        except Exception as exc:  # noqa: BLE001 - whatever it is, the app keeps running and says why
            process.close()
            self._error(f"could not start the training process: {type(exc).__name__}: {exc}")
            return
        self.training = process
        self.train_state = "starting"
        self.training_panel.set_state("starting", "starting the training process…")
        self._drain_training(process)

    def action_pause_training(self) -> None:
        if self.training is not None:
            self.training.pause()

    def action_resume_training(self) -> None:
        if self.training is not None:
            self.training.resume()

    def action_save_checkpoint(self) -> None:
        if self.training is not None:
            self.training.request_save()
            self.notify("Saving a checkpoint…", timeout=2)

    def action_focus_checkpoints(self) -> None:
        self.checkpoint_panel.table.focus()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self._key_bindings()))

    async def action_quit(self) -> None:
        """Quit; while training, stop it first and leave when its final checkpoint is written."""
        process = self.training
        if process is None or process.finished:
            self.exit()
            return
        if self._quitting:
            self.notify("Still saving the checkpoint…", timeout=2)
            return
        self._quitting = True
        self.train_state = "stopping"
        self.training_panel.set_state("stopping", "saving a checkpoint before quitting…")
        self.notify("Saving a checkpoint before quitting…", timeout=self.settings.stop_timeout_s)
        process.request_stop()
        self.set_timer(self.settings.stop_timeout_s, self._give_up_stopping)

    def get_driver_class(self) -> type[Driver]:
        return hangup_safe(super().get_driver_class())  # a closed terminal must not hang the app

    def exit(self, result: None = None, return_code: int = 0, message: Any = None) -> None:
        self._exiting = True
        super().exit(result, return_code, message)

    def _give_up_stopping(self) -> None:
        if self.training is not None:
            self.training.close()
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

    def start_sample(self) -> None:
        """Stop the current tweet (if any) and start a new one with the current settings."""
        if self._next_sample is not None:
            self._next_sample.stop()
            self._next_sample = None
        source = self.source
        if source is None or self._exiting:
            return
        self.sample_id += 1
        seed = None if self.settings.seed is None else self.settings.seed + self.sample_id - 1
        self.generation.begin(self.sample_id, self.temperature, source.describe())
        self.sampling = True
        self._sample(self.sample_id, source, self.temperature, seed)

    @work(thread=True, group="sample", exclusive=True, exit_on_error=False, name="sample")
    def _sample(self, sample_id: int, source: GeneratorSource, temperature: float, seed: int | None) -> None:
        worker = get_current_worker()
        s = self.settings
        for chunk in stream_chunks(source, temperature, s.max_len, seed, s.pace, lambda: worker.is_cancelled):
            self._post(m.SampleChunk(sample_id, chunk))
        self._post(m.SampleFinished(sample_id, complete=not worker.is_cancelled))

    @while_running
    def on_sample_chunk(self, message: m.SampleChunk) -> None:
        self.generation.append(message.sample_id, message.text)

    @while_running
    def on_sample_finished(self, message: m.SampleFinished) -> None:
        if message.sample_id != self.sample_id:
            return
        self.sampling = False
        self.generation.finish(message.sample_id, message.complete)
        if message.complete and self.settings.gap_s is not None:
            self._next_sample = self.set_timer(self.settings.gap_s, self.start_sample)

    def _show_generation_status(self) -> None:
        source = self.source.describe() if self.source is not None else None
        if source is not None and self.source is not None and self.source.step is not None and \
                policy.is_best_of_run(self.source.path, self.run_checkpoints):
                # says which checkpoint generates and that it is the run's best; the run name last, where a
                # narrow terminal cuts it
                source = f"best step {self.source.step:,} · {self.source.label}"
        self.generation.set_status(self.temperature, source, self.settings.pace)

    # ------------------------------------------------------------ models and checkpoints

    @work(thread=True, group="boot", exit_on_error=False, name="boot")
    def _boot(self) -> None:
        from core.checkpoints import CheckpointError

        s = self.settings
        setup_torch(1)
        run_dir = s.run_dir()
        self.run_dir = run_dir
        self._post(m.RunResolved(run_dir))

        plan = policy.plan_boot(run_dir, checkpoint=s.checkpoint, demo=s.demo_checkpoint)
        for path, problem in plan.problems:
            self._post(m.ModelFailed(path, problem))
        newest_of_run = plan.newest_of_run
        source = None
        for path in plan.candidates:
            try:
                source = load_source(path, self._label_for(path))
            except CheckpointError as exc:
                self._post(m.ModelFailed(path, str(exc)))
                continue
            self._post(m.ModelReady(source, interrupt=True))
            break
        self._list_now()
        if newest_of_run is not None:
            self._post_run_history(newest_of_run.path)
        texts = self._read_corpus()
        if source is None:
            if texts:
                self._post(m.ModelReady(untrained_source(texts, s.model), interrupt=True))
            else:
                self._post(m.NoModel("nothing to generate from: no checkpoint could be loaded and the corpus is unreadable"))
        # torch and Textual leave a few hundred thousand long-lived objects; a full collection walking them
        # all took ~200 ms of the UI thread every so often (measured by bench/ui_lag.py). Frozen objects are
        # skipped by the collector from now on.
        gc.freeze()

    def _read_corpus(self) -> list[str] | None:
        from core.corpus import CorpusError, load_corpus

        path = self.settings.data_path
        try:
            texts, report = load_corpus(path, self.settings.corpus_filters())
        except CorpusError as exc:
            self._post(m.CorpusFailed(path, app_flags(str(exc))))
            return None
        self._post(m.CorpusLoaded(path, len(texts), report.summary()))
        return texts

    def _post_run_history(self, path: Path) -> None:
        from core.checkpoints import CheckpointError, load_checkpoint

        try:
            history = load_checkpoint(path).metrics.get("history") or []
        except CheckpointError:
            return
        self._post(m.RunHistory(list(history)))

    def _label_for(self, path: Path) -> str:
        return policy.label_for(path, run_dir=self.run_dir, demo=self.settings.demo_checkpoint)

    def _list_now(self) -> None:
        """List the run's checkpoints plus the demo and any --checkpoint; posts CheckpointsListed."""
        if self.run_dir is None:
            return
        self._listed_mtime = self._run_dir_mtime()  # before listing: a change during it is seen next time
        started = time.monotonic()
        infos = policy.listing(self.run_dir, demo=self.settings.demo_checkpoint, checkpoint=self.settings.checkpoint)
        self._listing_cost = time.monotonic() - started
        self._post(m.CheckpointsListed(infos))

    @work(thread=True, group="listing", exit_on_error=False, name="list checkpoints")
    def _list_checkpoints(self) -> None:
        self._list_now()

    def request_listing(self) -> None:
        """Re-list the checkpoints soon: at once if the last listing is old enough, else once when it is.
        Any number of requests meanwhile (a checkpoint every step) makes one listing."""
        if self._listing_timer is not None or self._exiting:
            return
        interval = max(LIST_MIN_INTERVAL_S, self._listing_cost / LIST_DUTY)  # thousands of files take longer to list
        delay = max(0.01, self._last_listing + interval - time.monotonic())  # a 0 s Timer divides by 0
        self._listing_timer = self.set_timer(delay, self._start_listing)

    def _start_listing(self) -> None:
        self._listing_timer = None
        if self._exiting:
            return
        self._last_listing = time.monotonic()
        self._list_checkpoints()

    def _run_dir_mtime(self) -> int | None:
        try:
            return self.run_dir.stat().st_mtime_ns if self.run_dir is not None else None
        except OSError:
            return None

    def _check_stale_listing(self) -> None:
        """Files deleted (or added) behind the app change the run directory's mtime: list again."""
        if self.checkpoints_listed and self._run_dir_mtime() != self._listed_mtime:
            self.request_listing()

    @work(thread=True, group="model", exclusive=True, exit_on_error=False, name="load model")
    def _load_model(self, path: Path, interrupt: bool) -> None:
        from core.checkpoints import CheckpointError

        worker = get_current_worker()
        try:
            source = load_source(path, self._label_for(path))
        except CheckpointError as exc:
            self._post(m.ModelFailed(path, str(exc)))
            return
        finally:
            if not interrupt:
                self._post(m.FollowLoaded(path))
        if not worker.is_cancelled:  # a newer switch (exclusive group) wins
            self._post(m.ModelReady(source, interrupt))

    def _follow(self, path: Path) -> None:
        """Switch to the run's newest checkpoint from the next tweet; one load at a time, the newest wins."""
        if self._follow_loading:
            self._follow_pending = path
            return
        self._follow_loading = True
        self._load_model(path, False)

    @while_running
    def on_follow_loaded(self, _message: m.FollowLoaded) -> None:
        self._follow_loading = False
        path, self._follow_pending = self._follow_pending, None
        if path is not None and self.follow_best:
            self._follow(path)

    def switch_to(self, path: Path) -> None:
        """Generate from this checkpoint: the current tweet stops once it is loaded."""
        self._load_model(path, True)

    @on(DataTable.RowSelected, "#checkpoint-table")
    def _checkpoint_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.switch_to(Path(event.row_key.value))

    @while_running
    def on_run_resolved(self, message: m.RunResolved) -> None:
        self.checkpoint_panel.set_run(message.run_dir)
        if self.train_state == "idle":
            self.training_panel.set_state("idle", "idle · press space to train")
        self.refresh_bindings()

    @while_running
    def on_run_history(self, message: m.RunHistory) -> None:
        self.training_panel.chart.load_history(message.history)

    @while_running
    def on_corpus_loaded(self, message: m.CorpusLoaded) -> None:
        self.corpus_error = None
        self.corpus_size = message.n_texts
        self.training_panel.set_corpus(f"{self.settings.data_label} · {message.n_texts:,} tweets")

    @while_running
    def on_corpus_failed(self, message: m.CorpusFailed) -> None:
        self.corpus_error = message.error
        self.training_panel.set_state("error", f"corpus: {message.error}")
        self._error(message.error)

    @while_running
    def on_checkpoints_listed(self, message: m.CheckpointsListed) -> None:
        infos = message.infos
        self.checkpoints_listed = True
        self.run_checkpoints = [i for i in infos if self.run_dir is not None and i.path.parent == self.run_dir]
        self.checkpoint_panel.set_checkpoints(infos, self.settings.demo_checkpoint)
        if self.source is not None:
            self.checkpoint_panel.set_active(self.source.path)
        self.refresh_bindings()  # `c` is enabled once there is a checkpoint to go to
        if self.follow_best and self.source is not None:
            target = policy.follow_target(self.source.path, self.run_checkpoints)
            if target is not None:
                self._follow(target)
        self._show_generation_status()  # "best" may have moved

    @while_running
    def on_model_ready(self, message: m.ModelReady) -> None:
        source = message.source
        self.source = source
        # follow the run's new checkpoints from the untrained model, from the newest, and when following already
        # (a follow load is the only one that does not interrupt; the listing may not show its file yet)
        self.follow_best = source.path is None or not message.interrupt or policy.is_choice_of_run(source.path, self.run_checkpoints)
        self.checkpoint_panel.set_active(source.path)
        self._show_generation_status()
        self.refresh_bindings()
        if source.path is None:
            self.generation.note("No checkpoint yet: press space to train. Until then an untrained model writes noise.")
        if message.interrupt or (not self.sampling and self._next_sample is None):
            self.start_sample()

    @while_running
    def on_model_failed(self, message: m.ModelFailed) -> None:
        keep = f"; still generating from {self.source.describe()}" if self.source is not None else ""
        self._error(message.error + keep)

    @while_running
    def on_no_model(self, message: m.NoModel) -> None:
        self.generation.show_notice(message.reason)

    # ------------------------------------------------------------ training

    @work(thread=True, group="training", exit_on_error=False, name="training events")
    def _drain_training(self, process: TrainingProcess) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            event = process.get_event(timeout=0.2)
            if event is None:
                continue
            batch = [event]  # everything already waiting: a burst becomes one batch of messages
            while len(batch) < 10_000 and not isinstance(batch[-1], DoneEvent):
                more = process.get_event(timeout=0)
                if more is None:
                    break
                batch.append(more)
            for kept in m.coalesce(batch):
                self._post(m.training_message(kept))
            if isinstance(batch[-1], DoneEvent):
                process.wait(15.0)  # the child exits right after its last event
                process.close()
                return
            time.sleep(DRAIN_FRAME_S)  # let the next burst gather: at most one batch per frame

    @while_running
    def on_training_note(self, message: m.TrainingNote) -> None:
        self.log.info(f"training: {message.event.text}")

    @while_running
    def on_training_other(self, message: m.TrainingOther) -> None:
        self.log.info(f"training event: {message.event!r}")

    @while_running
    def on_training_started(self, message: m.TrainingStarted) -> None:
        event = message.event
        if self.train_state == "starting":
            self.train_state = "running"
        self.training_panel.started(event)
        resumed = f" from step {event.step:,}" if event.resumed_from is not None else ""
        self._show_training_state(f"training on {event.device}{resumed}")

    @while_running
    def on_training_progress(self, message: m.TrainingProgress) -> None:
        self.training_panel.progress(message.event)

    @while_running
    def on_training_evaluated(self, message: m.TrainingEvaluated) -> None:
        self.training_panel.evaluated(message.event)

    @while_running
    def on_training_paused(self, message: m.TrainingPaused) -> None:
        if self.train_state == "stopping":
            return
        self.train_state = "paused" if message.event.paused else "running"
        self._show_training_state(
            f"paused at step {message.event.step:,} · space to resume" if message.event.paused
            else f"training on {self.training_panel.device}"
        )

    @while_running
    def on_training_sample(self, message: m.TrainingSample) -> None:
        self.log.info(f"training sample at step {message.event.step}: {message.event.text!r}")

    @while_running
    def on_training_guarded(self, message: m.TrainingGuarded) -> None:
        """Validation stayed worse than its best: training rolled back (or will stop); say so loudly."""
        self.notify(message.event.message, title="Validation got worse", severity="warning", timeout=10)

    @while_running
    def on_checkpoint_written(self, message: m.CheckpointWritten) -> None:
        event = message.event
        if event.reason == "request":
            self.notify(f"Saved a checkpoint at step {event.step:,}", timeout=3)
        self.request_listing()

    @while_running
    def on_training_finished(self, message: m.TrainingFinished) -> None:
        event = message.event
        self.last_done = event
        self.training = None  # the drain worker closes the process
        self.train_state = "idle"
        self.training_panel.reached(event.step)
        if event.reason in ("diverged", "error"):
            self.training_panel.set_state("error", app_flags(event.message))
            self._error(app_flags(event.message))
        else:
            self.training_panel.set_state("idle", f"{event.message} · space to train more")
            if not self._quitting:
                self.notify(event.message.capitalize(), timeout=5)
        if self._quitting:
            self.exit()

    def _show_training_state(self, detail: str) -> None:
        self.training_panel.set_state(self.train_state, detail)

    def shutdown_training(self, timeout: float | None = None) -> None:
        """Stop a still-running training process and wait for its checkpoint (used on any exit path)."""
        process, self.training = self.training, None
        if process is not None:
            if not process.finished:
                process.stop(self.settings.stop_timeout_s if timeout is None else timeout)
            process.close()

    def on_unmount(self) -> None:
        self._handle_signals(False)
        self.shutdown_training()

    # ------------------------------------------------------------ plumbing

    def _post(self, message: Message) -> None:
        """Post from a worker thread; quietly does nothing once the app has shut down."""
        try:
            self.post_message(message)
        except RuntimeError:  # event loop already closed
            pass

    def _error(self, text: str) -> None:
        self.errors.append(text)
        # plain text: an error may quote a corpus line or a file name ([ ], control characters)
        self.notify(fmt.printable(text), title="Error", severity="error", timeout=12, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures end up: reported, and the app keeps running."""
        worker = event.worker
        if event.state != WorkerState.ERROR:
            return
        error = worker.error
        detail = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        self._error(f"{worker.name or worker.group} failed: {detail}")
        if worker.group == "sample":
            self.sampling = False
        elif worker.group == "training" and self.training is not None:
            self.shutdown_training(timeout=10)
            self.train_state = "idle"
            self.training_panel.set_state("error", "lost the training process; see train.log in the run directory")
