"""Open a corpus or a Twitter/X archive from inside the app (key ``d``, palette "Open corpus").

A newcomer who has watched the demo picks their own file here instead of quitting and
restarting with ``--data``. The screen offers Textual's :class:`DirectoryTree`, starting
in the current folder, and a box for a typed or pasted path (a folder typed there is
read as an unpacked archive). A file chosen is read by :func:`tui.settings.read_corpus`
(the reader the app's start-up uses for ``--data``) in a thread worker, and the load
report is shown *before* anything trains: items kept, drops by reason, and the two
choices that change it, the length limit (default, or a typed maximum) and retweets
(keep or drop). Changing a choice reads the file again. "Train on it" dismisses with a
:class:`CorpusChoice`; the App then starts a new run on it, named after the file, as
``tweetgen-tui --data FILE`` would. Escape dismisses with None and nothing changes.

Every problem (no such file, an unreadable corpus, a bad length) is one line on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DirectoryTree, Input, Static
from textual.worker import get_current_worker

from tui import format as fmt
from tui import messages as m

if TYPE_CHECKING:
    from core.data.corpus import LoadReport

MAX_LEN_LIMIT = 100_000  # the app's --max-tweet-len bound (tui/__main__.py)


@dataclass(frozen=True)
class CorpusChoice:
    """What the user chose to train on: the file, the corpus filters it was read with (FilterConfig
    fields, as ``AppSettings.filters``), and what that read gave (the App indexes ``texts`` for the
    novelty check and builds the untrained model from them, without reading the file again)."""

    path: Path
    filters: dict[str, Any]
    texts: list[str] = field(repr=False)
    summary: str


def report_text(report: LoadReport, label: str) -> Text:
    """The load report as the screen shows it: kept of read, then each reason for a drop, then notes."""
    out = Text()
    out.append(f"{label}: ", style="bold")
    out.append(f"{report.kept:,} of {report.read:,} kept", style="bold")
    if report.format:
        out.append(f" ({report.format}{', ' + report.encoding if report.encoding else ''})", style="dim")
    if report.dropped:
        out.append("\ndropped: " + " · ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in
                                              sorted(report.dropped.items(), key=lambda kv: -kv[1])))
    from core.errors import render
    from tui.settings import APP_WORDS

    for note in report.notes:  # a note's hint in the app's flags (--max-tweet-len, not train's --max-len)
        out.append("\n")
        out.append_text(fmt.visible(render(note, APP_WORDS), style="dim"))
    return out


def drops_retweets(filters: dict[str, Any], report: LoadReport) -> bool:
    """Whether a read with these filters dropped retweets: as chosen, else as the source decides
    (:class:`core.data.corpus.FilterConfig`: Twitter/X's own exports drop them, other files keep them)."""
    from core.data.corpus import ARCHIVE_FORMATS

    chosen = filters.get("drop_retweets")
    return bool(chosen) if chosen is not None else report.format in ARCHIVE_FORMATS


def retweets_label(drop: bool) -> str:
    """The retweet choice says its state in words (a checkbox's mark differs only by colour)."""
    return "retweets ('RT @…'): dropped" if drop else "retweets ('RT @…'): kept"


class OpenCorpusScreen(ModalScreen["CorpusChoice | None"]):
    """Pick a corpus, see what loading it keeps, choose the length limit and retweets, train on it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", tooltip="close without opening anything")]

    def __init__(self, start: Path, filters: dict[str, Any], note: str = "") -> None:
        """``start``: the folder the tree shows; ``filters``: the choices to begin with (the app's);
        ``note``: what confirming will also do (e.g. stop the training in progress)."""
        super().__init__()
        self.start = start
        self.filters = {k: v for k, v in filters.items() if k in ("max_len", "drop_retweets") and v is not None}
        self.note = note
        self.path: Path | None = None  # the file whose report is shown (or being read)
        self.read_filters: dict[str, Any] | None = None  # the filters the report shown was read with
        self.texts: list[str] | None = None
        self.report: LoadReport | None = None
        self.error = ""  # the one line shown, "" when none

    def compose(self) -> ComposeResult:
        with Vertical(id="open-box"):
            yield Static("A file or an archive (zip or folder): pick it below, or type or paste its path and "
                         "press enter. Escape: cancel.", id="open-help", markup=False)
            yield Input(placeholder="path to a corpus file, archive zip or unpacked archive folder", compact=True,
                        id="open-path")
            yield DirectoryTree(self.start, id="open-tree")
            with Vertical(id="open-result"):
                yield Static(id="open-report", markup=False)
                with Horizontal(id="open-options"):
                    yield Static("max length", id="open-max-len-label")
                    yield Input(str(self.filters.get("max_len", "")), placeholder="default", type="integer",
                                max_length=6, compact=True, id="open-max-len")
                    yield Checkbox(retweets_label(False), False, compact=True, id="open-retweets")
                with Horizontal(id="open-buttons"):
                    yield Button("Train on it", variant="primary", compact=True, id="open-start")
                    yield Static(self.note, id="open-note", markup=False)
            yield Static(id="open-error", markup=False)

    def on_mount(self) -> None:
        box = self.query_one("#open-box")
        box.border_title = "Open a corpus"
        box.border_subtitle = "escape: cancel"
        self.query_one("#open-result").display = False
        self.query_one("#open-error").display = False
        self.query_one(DirectoryTree).focus()

    # ------------------------------------------------------------ choosing a file

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.query_one("#open-path", Input).value = str(event.path)
        self.read(event.path)

    @on(DirectoryTree.DirectorySelected)
    def _directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        """A folder opens in the tree; its path goes in the box, where enter reads it as an unpacked archive."""
        event.stop()
        self.query_one("#open-path", Input).value = str(event.path)

    @on(Input.Submitted, "#open-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        typed = event.value.strip().strip("'\"")  # a pasted path often comes quoted
        if not typed:
            self.show_error("type a path, or pick a file in the tree")
            return
        path = Path(typed).expanduser()
        self.read(path if path.is_absolute() else self.start / path)

    @on(Input.Submitted, "#open-max-len")
    def _max_len_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._reread()

    @on(Checkbox.Changed, "#open-retweets")
    def _retweets_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        event.checkbox.label = retweets_label(event.value)
        self._reread()

    @on(Button.Pressed, "#open-start")
    def _start_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.confirm()

    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "open-corpus")
        if self.is_active:
            self.dismiss(None)

    # ------------------------------------------------------------ reading and the report

    def chosen_filters(self) -> dict[str, Any] | None:
        """The filters the options ask for now; None (and the error shown) when the length is not a number."""
        filters: dict[str, Any] = {}
        typed = self.query_one("#open-max-len", Input).value.strip()
        if typed:
            try:
                max_len = int(typed)
            except ValueError:
                max_len = 0
            if not 1 <= max_len <= MAX_LEN_LIMIT:
                self.show_error(f"max length must be a whole number from 1 to {MAX_LEN_LIMIT:,}; empty: the default")
                return None
            filters["max_len"] = max_len
        if self.report is not None:
            drop = self.query_one("#open-retweets", Checkbox).value
            if drop != drops_retweets({}, self.report):  # the source's own choice stays implicit
                filters["drop_retweets"] = drop
        elif "drop_retweets" in self.filters:
            filters["drop_retweets"] = self.filters["drop_retweets"]
        return filters

    def _reread(self) -> None:
        if self.path is None:
            return
        filters = self.chosen_filters()
        if filters is not None:
            self.read(self.path, filters)

    def read(self, path: Path, filters: dict[str, Any] | None = None) -> None:
        """Read ``path`` in a worker (the newest request wins); the report replaces the one shown."""
        if filters is None:
            filters = self.chosen_filters() if self.path is not None and self.report is not None else dict(self.filters)
            if filters is None:
                return
        self.path = path
        self.read_filters = None
        self.show_error("")
        self.query_one("#open-start", Button).disabled = True
        self.query_one("#open-report", Static).update(Text(f"reading {fmt.printable(path.name)}…", style="dim italic"))
        self.query_one("#open-result").display = True
        self._read(path, dict(filters))

    @work(thread=True, group="open-corpus", exclusive=True, exit_on_error=False, name="read the corpus to open")
    def _read(self, path: Path, filters: dict[str, Any]) -> None:
        from core.data.corpus import CorpusError
        from tui.settings import read_corpus, say

        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if total and not worker.is_cancelled:
                self._post(m.CorpusProgress(path.name, done, total))

        try:
            texts, report = read_corpus(path, filters, progress=progress)
        except CorpusError as exc:
            self._post(m.CorpusReport(path, filters, None, None, say(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - whatever it is, one line on screen and the app goes on
            self._post(m.CorpusReport(path, filters, None, None, f"{path}: {type(exc).__name__}: {exc}"))
            return
        if not worker.is_cancelled:
            self._post(m.CorpusReport(path, filters, texts, report))

    def _post(self, message: m.CorpusReport | m.CorpusProgress) -> None:
        try:
            self.post_message(message)
        except RuntimeError:  # the app has shut down
            pass

    def on_corpus_progress(self, message: m.CorpusProgress) -> None:
        message.stop()
        if self.read_filters is None and message.total:
            self.query_one("#open-report", Static).update(
                Text(f"reading {fmt.printable(message.label)}… {message.done / message.total:.0%}", style="dim italic"))

    def on_corpus_report(self, message: m.CorpusReport) -> None:
        message.stop()
        if message.path != self.path:
            return  # an older read (another file chosen since)
        if message.error is not None or message.report is None:
            self.texts = self.report = None
            self.query_one("#open-result").display = False
            self.show_error(message.error or "could not read it")
            return
        report: LoadReport = message.report  # type: ignore[assignment]
        self.texts, self.report, self.read_filters = message.texts, report, message.filters
        self.query_one("#open-report", Static).update(report_text(report, fmt.printable(message.path.name)))
        box = self.query_one("#open-retweets", Checkbox)
        with box.prevent(Checkbox.Changed):
            box.value = drops_retweets(message.filters, report)
        box.label = retweets_label(box.value)
        start = self.query_one("#open-start", Button)
        start.disabled = False
        start.focus()

    def show_error(self, text: str) -> None:
        """One line, or none: the newest problem, cut to the screen's width with an ellipsis."""
        self.error = text.splitlines()[0] if text else ""
        line = self.query_one("#open-error", Static)
        line.update(Text(fmt.printable(self.error), no_wrap=True, overflow="ellipsis"))
        line.display = bool(self.error)

    def confirm(self) -> None:
        """Train on the file whose report is shown, with the options shown; options changed since the
        report was read are read first (the report always says what training gets)."""
        if self.path is None or self.report is None or self.texts is None or self.read_filters is None:
            return
        filters = self.chosen_filters()
        if filters is None:
            return
        if filters != self.read_filters:
            self.read(self.path, filters)
            return
        if self.is_active:
            from tui.settings import APP_WORDS

            self.dismiss(CorpusChoice(self.path, filters, self.texts, self.report.summary(APP_WORDS)))
