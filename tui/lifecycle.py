"""The app's life against its environment: stop signals, a terminal that goes away, the
multiprocessing helper that must survive a hangup.

SIGTERM and SIGHUP quit as q does (:func:`handle_stop_signals`). Textual's terminal driver
is made safe against a terminal that goes away (:func:`hangup_safe`).

When the terminal is closed (or an ssh session drops) the tty hangs up: every write to
it fails with EIO. Textual's writer thread dies on the first such error, its bounded
queue fills, and the app's event loop then blocks forever in the next write: it never
handles the SIGHUP that would save the training and exit, and the process is left
behind, hung. Here the output stream drops writes once the terminal has gone, so the
app keeps running long enough to stop training with a checkpoint and exit.

A hangup has three more effects on Textual's Linux driver, each handled here:

- The kernel sends SIGCONT along with the SIGHUP, and the driver's SIGCONT handler
  "resumes" application mode although nothing suspended it: a second input thread
  starts (not a daemon) beside the first. On exit only the newer one is joined, and the
  event that ends them is set only while it is joined (about 0.1 s); an older thread
  not scheduled in that window (a busy machine) runs forever and the interpreter
  waits for it at exit: the app hangs after saving. SIGCONT now resumes only after the
  driver's own SIGTSTP suspend, and never once the terminal has gone.
- A hung-up tty reads as end-of-file at once, forever: the input thread spins on it,
  competing with the event loop for the GIL. It is told to stop once the terminal has
  gone (the first failed write).
- A read racing the hangup fails with EIO; Textual treats that as a crash of the input
  thread (panic: exit status 1, a traceback printed to the dead terminal). The input
  thread now just ends.
"""

from __future__ import annotations

import asyncio
import errno
import signal
from collections.abc import Callable
from typing import IO, Any

from textual.driver import Driver


class HangupSafeOutput:
    """A file for Textual's writer thread that turns the first write error into 'discard from now on'."""

    def __init__(self, file: IO[str], on_gone: Callable[[], None] | None = None) -> None:
        self._file = file
        self._on_gone = on_gone
        self.gone = False

    def _went(self) -> None:
        self.gone = True
        if self._on_gone is not None:
            on_gone, self._on_gone = self._on_gone, None
            try:
                on_gone()
            except Exception:  # noqa: BLE001 - the writer thread must not die of it
                pass

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except (OSError, ValueError):  # EIO from a hung-up tty, or a closed file
                self._went()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except (OSError, ValueError):
                self._went()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding...
        return getattr(self._file, name)


def hangup_safe(driver_class: type[Driver]) -> type[Driver]:
    """The driver class, with its output wrapped in HangupSafeOutput where it has one (LinuxDriver)."""

    class HangupSafeDriver(driver_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._resume_on_sigcont = False  # before super(): it installs the signal handlers below
            super().__init__(*args, **kwargs)
            output = getattr(self, "_file", None)
            if output is not None and not isinstance(output, HangupSafeOutput):
                self._file = HangupSafeOutput(output, on_gone=self._terminal_gone)

        @property
        def terminal_gone(self) -> bool:
            output = getattr(self, "_file", None)
            return isinstance(output, HangupSafeOutput) and output.gone

        def _terminal_gone(self) -> None:
            """Called once, from the writer thread: stop the input thread, which would spin on EOF."""
            exit_event = getattr(self, "exit_event", None)
            if exit_event is not None:
                exit_event.set()

        def _sigtstp_application(self, *args: Any) -> None:
            if getattr(self, "_auto_restart", False):
                self._resume_on_sigcont = True  # the driver suspends itself: the next SIGCONT resumes it
            super()._sigtstp_application(*args)

        def _sigcont_application(self, *args: Any) -> None:
            # A SIGCONT that follows no suspend of ours (the one a hangup sends, a stray `kill -CONT`) must not
            # start application mode a second time: a second input thread would outlive the app.
            if not self._resume_on_sigcont or self.terminal_gone:
                return
            self._resume_on_sigcont = False
            super()._sigcont_application(*args)

        def run_input_thread(self) -> None:
            try:
                super().run_input_thread()
            except OSError as exc:
                if exc.errno != errno.EIO:
                    raise  # Textual's own report (panic)
                self._terminal_gone()  # the terminal hung up under a read: no more input, and no crash

    HangupSafeDriver.__name__ = HangupSafeDriver.__qualname__ = f"HangupSafe{driver_class.__name__}"
    return HangupSafeDriver


def handle_stop_signals(on_stop: Callable[[str], None], install: bool) -> None:
    """Install (or remove) ``on_stop(name)`` for SIGTERM and SIGHUP, on the running event loop. SIGTERM and SIGHUP (a closed terminal, a dropped ssh session) quit as q does: training stops
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
                loop.add_signal_handler(sig, on_stop, name)
            else:
                loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass


def start_resource_tracker_immune_to_sighup() -> None:
    """multiprocessing's resource tracker (a helper process the training queues need) ignores SIGINT
    and SIGTERM but dies of the SIGHUP a closed terminal sends the whole process group, and then
    prints tracebacks while the app saves and exits. Started with SIGHUP blocked, it inherits the
    block (it unblocks only SIGINT and SIGTERM). Blocked, not ignored, here: a hangup that arrives
    meanwhile stays pending and is handled once unblocked, instead of being lost (the app would
    then never quit on it)."""
    from multiprocessing import resource_tracker

    from core.train.process import real_std_streams  # Textual's stderr has no file descriptor to pass on

    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    except (AttributeError, ValueError, OSError):  # no SIGHUP or no signal masks here
        return
    try:
        with real_std_streams():
            resource_tracker.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
