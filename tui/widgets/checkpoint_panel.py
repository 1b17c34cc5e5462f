"""Checkpoint panel: the demo checkpoint and every checkpoint of the run, newest first.

Rows are keyed by the checkpoint's path. The panel owns the work behind its rows: the
``listing`` worker (re-listing after a checkpoint is written, throttled, and when files
change behind the app) and the ``model`` worker that loads a checkpoint, picked by hand or
followed (the run's best, as training writes better ones). Selecting a row (enter or
click) sends :class:`CheckpointPanel.Selected`; a loaded model is :class:`tui.messages.ModelReady`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Static
from textual.worker import Worker, get_current_worker

from core.store import policy
from core.store.policy import path_key
from tui import format as fmt
from tui import messages as m
from tui.services.generation_stream import load_source
from tui.settings import say

if TYPE_CHECKING:
    from core.events import CheckpointReason
    from core.events import CheckpointEvent
    from core.store.registry import CheckpointInfo
    from tui.app import TweetgenApp

ACTIVE = "▶"
PICKED = "●"  # marked with space for the comparison (v)
MAX_ROWS = 50  # a run with a checkpoint every step has thousands: the table shows the newest (and the active one)
# a checkpoint's first tag is why it was written (core.events.CheckpointReason); an unknown tag shows as it is
REASONS: dict[CheckpointReason, str] = {"request": "saved", "stop": "stop", "final": "final", "periodic": "auto"}
LIST_MIN_INTERVAL_S = 2.0  # checkpoints are re-listed at most this often, however fast they are written
LIST_DUTY = 0.03  # ... and the listing thread (it competes with the UI for the GIL) is busy at most this share of the time
STALE_CHECK_S = 2.0  # how often the run directory is checked (one stat) for files changed behind the app
MIN_TIMER_S = 0.01  # Textual's Timer divides by its interval: no timer is set shorter than this


def row_key(path: Path) -> str:
    """A row's key: the checkpoint's resolved path (:func:`core.store.policy.path_key`)."""
    return path_key(path)


def _matcher(key: str | None) -> Callable[[Path], bool]:
    """``row_key(path) == key`` for many paths: a path is resolved only when its name matches."""
    if key is None:
        return lambda _path: False
    name = os.path.basename(key)
    return lambda path: path.name == name and row_key(path) == key


class CheckpointPanel(Vertical):
    """A table of checkpoints with step, validation bits/char and age; the active one is marked."""

    BINDINGS = [
        Binding("escape", "leave", "Back", tooltip="leave the checkpoint list"),
        Binding("space", "toggle_mark", "Mark", tooltip="mark this checkpoint (or unmark it) for v: compare the marked ones"),
    ]

    class MarksChanged(Message):
        """Checkpoints were marked or unmarked (the App enables v with two or more)."""

        def __init__(self, marked: list[str]) -> None:
            super().__init__()
            self.marked = marked

    class Selected(Message):
        """A row was chosen (enter or click): the App switches the generator to that checkpoint."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.infos: list[CheckpointInfo] = []
        self.active: str | None = None
        self.demo: str | None = None
        self.empty_hint = "no checkpoints yet (space trains, s saves one)"
        self.total = 0  # checkpoints listed, of which self.infos are shown
        self.run_name: str | None = None
        self.marked: list[str] = []  # row keys marked with space for the comparison (v), in marking order
        self.listed = False  # a listing has been shown
        self.follow_best = False  # switch to the run's best checkpoint whenever a better one is written (from the next tweet)
        self.follow_new_run = False  # space pressed while another run's model generates: follow this run once it has a checkpoint
        self._follow_pending: Path | None = None  # the checkpoint to follow next, once the load in flight is done
        self._follow_loading = False
        self._listing_timer: Timer | None = None
        self._last_listing = float("-inf")  # time.monotonic() of the last listing started
        self._listing_cost = 0.0  # seconds the last listing took
        self._listed_mtime: int | None = None  # the run directory's mtime when it was last listed

    def compose(self) -> ComposeResult:
        table: DataTable[Text | str] = DataTable(cursor_type="row", zebra_stripes=False, id="checkpoint-table")
        table.add_column("", key="mark", width=1)
        table.add_column("", key="pick", width=1)
        table.add_column("ckpt", key="name")
        table.add_column("step", key="step")
        table.add_column("val", key="val")
        table.add_column("age", key="age")
        yield table
        yield Static(Text(self.empty_hint, style="dim italic"), id="checkpoint-empty")

    def on_mount(self) -> None:
        self.border_title = "Checkpoints"
        self.set_interval(10.0, self.refresh_ages)
        self.set_interval(STALE_CHECK_S, self._check_stale_listing)
        # The table's height is "auto": it follows the rows, which DataTable measures only when idle.
        # On a busy machine the panel was laid out before that and the table kept height 0 with its
        # rows listed (an empty panel until the next resize); lay the panel out again when they are measured.
        self.watch(self.table, "virtual_size", self._table_measured, init=False)

    def _table_measured(self) -> None:
        # DataTable sets its size while idle, after the idle step that would lay its parent out again;
        # a layout asked for from outside its idle handler is carried out at once.
        self.call_later(self.table.refresh, layout=True)

    @property
    def tweetgen(self) -> TweetgenApp:
        return cast("TweetgenApp", self.app)

    @property
    def table(self) -> DataTable[Text | str]:
        return self.query_one(DataTable)

    def action_leave(self) -> None:
        self.screen.focus_next()

    def action_toggle_mark(self) -> None:
        """Mark the row under the cursor for the comparison, or unmark it."""
        table = self.table
        if not table.row_count:
            return
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # no valid cursor
            return
        if key is None:
            return
        if key in self.marked:
            self.marked.remove(key)
        else:
            self.marked.append(key)
        table.update_cell(key, "pick", PICKED if key in self.marked else "")
        self._render_subtitle()
        self.post_message(self.MarksChanged(list(self.marked)))

    def marked_infos(self) -> list[CheckpointInfo]:
        """The marked checkpoints still listed, in the list's order (newest first)."""
        return [i for i in self.infos if row_key(i.path) in self.marked]

    # ------------------------------------------------------------ listing (the listing worker)

    def list_now(self, run_dir: Path | None = None) -> None:
        """List the run's checkpoints plus the demo and any --checkpoint; posts CheckpointsListed here.
        Called in a thread (this panel's listing worker, or the App's boot worker with ``run_dir``
        before the App has taken it; default: the App's)."""
        app = self.tweetgen
        run_dir = run_dir or app.run_dir
        if run_dir is None:
            return
        self._listed_mtime = self._run_dir_mtime(run_dir)  # before listing: a change during it is seen next time
        started = time.monotonic()
        infos = policy.listing(run_dir, demo=app.settings.demo_checkpoint, checkpoint=app.settings.checkpoint)
        self._listing_cost = time.monotonic() - started
        self.post_message(m.CheckpointsListed(infos))

    @work(thread=True, group="listing", exit_on_error=False, name="list checkpoints")
    def _list_checkpoints(self) -> None:
        self.list_now()

    def request_listing(self) -> None:
        """Re-list the checkpoints soon: at once if the last listing is old enough, else once when it is.
        Any number of requests meanwhile (a checkpoint every step) makes one listing."""
        if self._listing_timer is not None or self.tweetgen.closing:
            return
        interval = max(LIST_MIN_INTERVAL_S, self._listing_cost / LIST_DUTY)  # thousands of files take longer to list
        delay = max(MIN_TIMER_S, self._last_listing + interval - time.monotonic())  # a 0 s Timer divides by 0
        self._listing_timer = self.set_timer(delay, self._start_listing)

    def _start_listing(self) -> None:
        self._listing_timer = None
        if self.tweetgen.closing:
            return
        self._last_listing = time.monotonic()
        self._list_checkpoints()

    def _run_dir_mtime(self, run_dir: Path | None = None) -> int | None:
        run_dir = run_dir or self.tweetgen.run_dir
        try:
            return run_dir.stat().st_mtime_ns if run_dir is not None else None
        except OSError:
            return None

    def _check_stale_listing(self) -> None:
        """Files deleted (or added) behind the app change the run directory's mtime: list again."""
        if self.listed and self._run_dir_mtime() != self._listed_mtime:
            self.request_listing()

    def checkpoint_written(self, event: CheckpointEvent) -> None:
        if event.reason == "request":
            self.notify(f"Saved a checkpoint at step {event.step:,}", timeout=3)
        self.request_listing()

    def of_run(self, infos: Sequence[CheckpointInfo]) -> list[CheckpointInfo]:
        """The checkpoints of the App's run among ``infos``."""
        run_dir = self.tweetgen.run_dir
        return [i for i in infos if run_dir is not None and i.path.parent == run_dir]

    def on_checkpoints_listed(self, message: m.CheckpointsListed) -> None:
        """Show the listing and follow the run's best; then on to the App (the run's checkpoints, the keys)."""
        app = self.tweetgen
        self.set_checkpoints(message.infos, app.settings.demo_checkpoint)
        of_run = self.of_run(message.infos)
        if self.follow_new_run and of_run:  # the run being trained has a checkpoint: show its tweets
            self.follow_new_run = False
            self.follow_best = True
        if self.follow_best and app.source is not None:
            target = policy.follow_target(app.source.path, of_run)
            if target is not None:
                self._follow(target)
        self.call_after_refresh(setattr, self, "listed", True)  # listed once the rows are drawn

    # ------------------------------------------------------------ switching and following (the model worker)

    @work(thread=True, group="model", exclusive=True, exit_on_error=False, name="load model")
    def _load_model(self, path: Path, interrupt: bool) -> None:
        from core.store.checkpoints import CheckpointError

        worker = get_current_worker()
        try:
            source = load_source(path, self.tweetgen.label_for(path))
        except CheckpointError as exc:
            self.post_message(m.ModelFailed(path, say(exc)))
            return
        finally:
            if not interrupt:
                self.post_message(m.FollowLoaded(path))
        if not worker.is_cancelled:  # a newer switch (exclusive group) wins
            self.post_message(m.ModelReady(source, interrupt))

    def on_model_ready(self, message: m.ModelReady) -> None:
        self.set_active(message.source.path)  # and on to the App, which generates from it

    def _follow(self, path: Path) -> None:
        """Switch to ``path`` (the run's best) from the next tweet; one load at a time, the latest request wins."""
        if self._follow_loading:
            self._follow_pending = path
            return
        self._follow_loading = True
        self._load_model(path, False)

    def on_follow_loaded(self, message: m.FollowLoaded) -> None:
        message.stop()
        self._follow_loading = False
        path, self._follow_pending = self._follow_pending, None
        if path is not None and self.follow_best:
            self._follow(path)

    def switch_to(self, path: Path) -> None:
        """Generate from this checkpoint: the current tweet stops once it is loaded."""
        self.follow_new_run = False  # the user's choice stands
        self._load_model(path, True)

    @on(DataTable.RowSelected, "#checkpoint-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(Path(event.row_key.value)))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.tweetgen.report_worker(event)

    # ------------------------------------------------------------ updates from the App

    def set_run(self, run_dir: Path) -> None:
        self.run_name = run_dir.name
        self._render_subtitle()

    def _render_subtitle(self) -> None:
        if self.run_name is None:
            return
        shown = f" · newest {len(self.infos):,} of {self.total:,}" if self.total > len(self.infos) else ""
        marked = f" · {len(self.marked)} marked, v compares" if self.marked else ""
        self.border_subtitle = f"run {self.run_name}{shown}{marked} · val in bits/char"

    def set_checkpoints(self, infos: Sequence[CheckpointInfo], demo: Path | None) -> None:
        """Replace the rows, keeping the cursor on the same checkpoint when it is still there."""
        self.demo = row_key(demo) if demo is not None else None
        is_demo = _matcher(self.demo)
        ordered = sorted(infos, key=lambda i: (not is_demo(i.path), -i.step, -i.created))
        self.total = len(ordered)
        if len(ordered) > MAX_ROWS:  # every row costs the UI thread time on each listing
            is_active = _matcher(self.active)
            active = [i for i in ordered[MAX_ROWS - 1:] if is_active(i.path)]
            ordered = ordered[:MAX_ROWS - len(active[:1])] + active[:1]
        self.infos = ordered
        listed = {row_key(i.path) for i in ordered}
        self.marked = [k for k in self.marked if k in listed]  # a deleted checkpoint cannot be compared
        self._render_subtitle()
        table = self.table
        keep = None
        if table.row_count:
            try:
                keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:  # no valid cursor yet
                keep = None
        table.clear()
        for info in ordered:
            key = row_key(info.path)
            table.add_row(*self._cells(info, key), key=key)
        self.query_one("#checkpoint-empty").display = not ordered
        table.display = bool(ordered)
        keys = [row_key(i.path) for i in ordered]
        target = keep if keep in keys else self.active if self.active in keys else None
        if target is not None:
            table.move_cursor(row=keys.index(target), animate=False)

    def set_active(self, path: Path | None) -> None:
        previous, self.active = self.active, row_key(path) if path is not None else None
        table = self.table
        for key in (previous, self.active):
            if key is not None and key in table.rows:
                table.update_cell(key, "mark", ACTIVE if key == self.active else "")

    def refresh_ages(self) -> None:
        table = self.table
        for info in self.infos:
            key = row_key(info.path)
            if key in table.rows:
                table.update_cell(key, "age", fmt.age(info.created, suffix=False))

    # ------------------------------------------------------------ internals

    def _cells(self, info: CheckpointInfo, key: str) -> tuple[str | Text, ...]:
        if key == self.demo:
            name = Text("demo", style="bold")
        elif info.tags:
            name = Text(REASONS.get(cast("CheckpointReason", info.tags[0]), info.tags[0]))
        else:
            name = fmt.visible(info.path.name)
        return (
            ACTIVE if key == self.active else "",
            PICKED if key in self.marked else "",
            name,
            Text(f"{info.step:,}", justify="right"),
            Text(fmt.bpc(info.val_bpc), justify="right"),
            fmt.age(info.created, suffix=False),
        )
