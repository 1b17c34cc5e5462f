"""The command palette: every key's action enabled now (:func:`key_commands`), and a palette
made safe against keys that arrive while it closes.

Textual's palette closes by calling ``dismiss()`` from its message handlers; a second
enter (or an escape) typed before it has gone is handled by the same palette and
dismisses it again, which pops the screen *below* it: the app's only screen
(``ScreenStackError``, the app exits) or a screen the first command just opened. Each
palette is opened without Textual's fixed id, so a new one can be pushed while the
last one is still being removed (``DuplicateIds``).

Each of those extra enters also *runs the chosen command again*: ctrl+p, ``t``, enter
x4 opened three theme pickers on top of each other (one escape closes one). A palette
here runs its command once; enters that reach it afterwards are ignored.

A palette closed while its search worker still runs (escape right after a letter) has lost
its widgets when that worker shows its last results: Textual's watchers then query them and
the worker fails with ``NoMatches``; here they do nothing once the widgets are gone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

from textual import on
from textual.actions import parse as parse_action
from textual.app import App, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.command import CommandList, CommandPalette
from textual.widgets import Button, Input


def key_commands(app: App[Any], bindings: Iterable[Binding]) -> Iterator[SystemCommand]:
    """A palette command for each key whose action the App enables right now (its ``check_action``)."""
    for binding in bindings:
        _, name, params = parse_action(binding.action)
        if app.check_action(name, params) is True:
            key = binding.key_display or binding.key
            yield SystemCommand(f"{binding.description} ({key})", binding.tooltip or binding.description,
                                functools.partial(_run_if_enabled, app, binding.action))


async def _run_if_enabled(app: App[Any], action: str) -> None:
    """Run a palette command if its key is enabled *now* (the palette lists what was enabled when it opened)."""
    _, name, params = parse_action(action)
    if app.check_action(name, params) is True:
        await app.run_action(action)


class SafeCommandPalette(CommandPalette):
    """A command palette whose ``dismiss`` only ever closes itself and whose command runs once."""

    _command_sent = False

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if not self.is_active:  # already closed (or something opened over it): nothing of ours to pop
            return AwaitComplete.nothing()
        return super().dismiss(result)

    @on(Input.Submitted)
    @on(Button.Pressed)
    def _select_or_command(self, event: Input.Submitted | Button.Pressed | None = None) -> None:
        if event is not None:
            event.prevent_default()  # CommandPalette's own handler (this method's base) must not run as well
        if self._command_sent:  # an enter that was typed before the palette had gone
            if event is not None:
                event.stop()
            return
        runs_command = not self._list_visible and self._selected_command is not None  # what the base class checks
        super()._select_or_command(event)
        if runs_command:
            self._command_sent = True

    def _widgets_gone(self) -> bool:
        """Being removed: its children are gone while its search worker may still run."""
        return not self.query(CommandList)

    def _watch__list_visible(self) -> None:
        if not self._widgets_gone():
            super()._watch__list_visible()

    async def _watch__show_busy(self) -> None:
        if not self._widgets_gone():
            await super()._watch__show_busy()
