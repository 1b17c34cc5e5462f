"""The command palette, made safe against keys that arrive while it closes.

Textual's palette closes by calling ``dismiss()`` from its message handlers; a second
enter (or an escape) typed before it has gone is handled by the same palette and
dismisses it again, which pops the screen *below* it: the app's only screen
(``ScreenStackError``, the app exits) or a screen the first command just opened. Each
palette is opened without Textual's fixed id, so a new one can be pushed while the
last one is still being removed (``DuplicateIds``).
"""

from __future__ import annotations

from typing import Any

from textual.await_complete import AwaitComplete
from textual.command import CommandPalette


class SafeCommandPalette(CommandPalette):
    """A command palette whose ``dismiss`` only ever closes itself."""

    def dismiss(self, result: Any = None) -> AwaitComplete:
        if not self.is_active:  # already closed (or something opened over it): nothing of ours to pop
            return AwaitComplete.nothing()
        return super().dismiss(result)
