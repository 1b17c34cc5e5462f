"""Checkpoint panel: the demo checkpoint and every checkpoint of the run, newest first.

Rows are keyed by the checkpoint's path. Selecting a row (enter or click) is handled by
the App, which loads that checkpoint and switches the generator to it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from core.policy import path_key
from tui import format as fmt

if TYPE_CHECKING:
    from core.events import CheckpointReason
    from core.registry import CheckpointInfo

ACTIVE = "▶"
PICKED = "●"  # marked with space for the comparison (v)
MAX_ROWS = 50  # a run with a checkpoint every step has thousands: the table shows the newest (and the active one)
# a checkpoint's first tag is why it was written (core.events.CheckpointReason); an unknown tag shows as it is
REASONS: dict[CheckpointReason, str] = {"request": "saved", "stop": "stop", "final": "final", "periodic": "auto"}


def row_key(path: Path) -> str:
    """A row's key: the checkpoint's resolved path (:func:`core.policy.path_key`)."""
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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.infos: list[CheckpointInfo] = []
        self.active: str | None = None
        self.demo: str | None = None
        self.empty_hint = "no checkpoints yet (space trains, s saves one)"
        self.total = 0  # checkpoints listed, of which self.infos are shown
        self.run_name: str | None = None
        self.marked: list[str] = []  # row keys marked with space for the comparison (v), in marking order

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
