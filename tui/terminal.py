"""Textual's terminal driver, made safe against a terminal that goes away.

When the terminal is closed (or an ssh session drops) the tty hangs up: every write to
it fails with EIO. Textual's writer thread dies on the first such error, its bounded
queue fills, and the app's event loop then blocks forever in the next write: it never
handles the SIGHUP that would save the training and exit, and the process is left
behind, hung. Here the output stream drops writes once the terminal has gone, so the
app keeps running long enough to stop training with a checkpoint and exit.
"""

from __future__ import annotations

from typing import IO, Any

from textual.driver import Driver


class HangupSafeOutput:
    """A file for Textual's writer thread that turns the first write error into 'discard from now on'."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except (OSError, ValueError):  # EIO from a hung-up tty, or a closed file
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self.gone = True

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...
        return getattr(self._file, name)


def hangup_safe(driver_class: type[Driver]) -> type[Driver]:
    """The driver class, with its output wrapped in HangupSafeOutput where it has one (LinuxDriver)."""

    class HangupSafeDriver(driver_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            output = getattr(self, "_file", None)
            if output is not None and not isinstance(output, HangupSafeOutput):
                self._file = HangupSafeOutput(output)

    HangupSafeDriver.__name__ = HangupSafeDriver.__qualname__ = f"HangupSafe{driver_class.__name__}"
    return HangupSafeDriver
