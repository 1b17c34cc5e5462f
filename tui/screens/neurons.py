"""The neuron view (key u; issue 19): which hidden units track a URL, a mention, quotes, the end of a tweet.

For the checkpoint generating now, :class:`NeuronScreen` shows the unit finder's report
(:mod:`core.neurons.finder`, computed by :class:`tui.widgets.neuron_watch.NeuronWatch` in a worker,
cached beside the checkpoint):

- a table, one row per feature: the best unit (or, on the selected row, the unit picked with
  left/right among its ranked units), its AUC (or r), sign, score on each half of the texts,
  the same unit in the untrained model, the linear probe on all units, and a verdict:
  ``tracker``, ``probe only`` (decodable from all the units together, by no single one) or none;
- the legend of the selected unit ("unit 137 · inside URL · AUC 0.97 (+) · halves 0.96/0.97 ·
  untrained 0.58") and the colour scale;
- the tweet on screen and the validation tweets where the unit fires most (in the feature's
  direction), each character on the background of the unit's state after it
  (:mod:`tui.widgets.unit_colours`);
- across training, when each feature first got a tracker in the run.

up/down pick the feature, left/right the unit; escape (or u) goes back, and the generation is
then coloured by that unit as it streams (U turns it off). The App's keys u and U call
:meth:`NeuronScreen.open` and :meth:`NeuronScreen.enabled`; the screen follows the checkpoint
generating (:meth:`NeuronScreen.follow`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Static
from textual.worker import get_current_worker

from tui import format as fmt
from tui.widgets.footer import AppFooter, fit_footer
from tui.widgets.generation_panel import GenerationPanel
from tui.widgets.neuron_watch import NeuronWatch, ReportsChanged
from tui.widgets.unit_colours import ColourMode, UnitChoice, palette_of, scale_legend, unit_text

if TYPE_CHECKING:
    from tui.app import TweetgenApp
    from tui.services.generation_stream import GeneratorSource

TOP_SHOWN = 5  # of them shown (the box scrolls at 80x24)


@dataclass
class TextStates(Message):
    """The states of the texts the view colours, from the screen's worker: ``sample`` (the tweet on screen)
    and ``pool`` (validation texts), each (text, (len(text), H) tensor); ``highest``/``lowest``: (N, H), each
    pool text's highest and lowest state of every unit (so picking a unit costs the UI no pass over the pool)."""

    path: Path
    sample: tuple[str, Any] | None
    pool: list[tuple[str, Any]]
    error: str | None = None
    highest: Any = None
    lowest: Any = None


def feature_labels() -> dict[str, str]:
    from core.neurons.features import FEATURES

    return dict(FEATURES)


def _num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if x is not None and math.isfinite(x) else "-"


def probe_raw(report: Any, feature: str) -> float:
    """The probe ceiling in the unit columns' scale: an AUC for a binary feature (0.5 + score/2), |r| else."""
    from core.neurons.features import CONTINUOUS

    score = report.probe.get(feature, math.nan)
    if score is None or not math.isfinite(score):
        return math.nan
    return score if feature in CONTINUOUS else 0.5 + score / 2


def report_table(report: Any, selected: str, picks: dict[str, int]) -> Table:
    """The ranked table: one row per feature, the selected row showing the unit picked among its ranked units."""
    from core.neurons.finder import verdict

    table = Table(box=None, padding=(0, 1, 0, 0), expand=False, show_edge=False, header_style="bold dim")
    table.add_column("feature", no_wrap=True, overflow="ellipsis", max_width=20)
    table.add_column("unit", justify="right", no_wrap=True)
    table.add_column("AUC/r", justify="right", no_wrap=True)
    table.add_column("halves", justify="center", no_wrap=True)
    table.add_column("untr", justify="right", no_wrap=True)
    table.add_column("probe", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, overflow="ellipsis")
    for feature, label in feature_labels().items():
        ranked = report.ranked.get(feature, [])
        chosen = feature == selected
        row_style = "reverse" if chosen else ""
        if not ranked:
            table.add_row(Text(label), "-", "-", "-", "-", _num(probe_raw(report, feature)),
                          Text("not in the texts", style="dim"), style=row_style)
            continue
        index = min(picks.get(feature, 0), len(ranked) - 1) if chosen else 0
        u = ranked[index]
        unit = f"‹{u.unit}›" if chosen else str(u.unit)
        sign = "+" if u.sign > 0 else "−"
        word = verdict(report, feature)
        if u.tracker:
            note = Text("tracker", style="bold green")
        elif word == "spread":
            note = Text("probe only", style="yellow")
        else:
            note = Text("")
        table.add_row(Text(label), unit, f"{_num(u.auc_or_r)} {sign}",
                      f"{_num(u.halves_raw[0])}/{_num(u.halves_raw[1])}", _num(u.untrained_raw),
                      _num(probe_raw(report, feature)), note, style=row_style)
    return table


class NeuronScreen(Screen[None]):
    """The neuron view of one checkpoint (``source``); ``sample``: the tweet on screen when it opened."""

    shows_neuron_reports = True  # NeuronWatch posts ReportsChanged to screens that say so

    BINDINGS = [
        Binding("up", "feature(-1)", "Feature", key_display="↑↓", tooltip="the feature above"),
        Binding("down", "feature(1)", "Feature", show=False, tooltip="the feature below"),
        Binding("left", "unit(-1)", "Unit", key_display="←→", tooltip="the better-ranked unit of this feature"),
        Binding("right", "unit(1)", "Unit", show=False, tooltip="the next unit of this feature"),
        Binding("escape", "close", "Back", tooltip="back to the generation, coloured by this unit"),
        Binding("u", "close", "Back", show=False),
    ]

    DEFAULT_CSS = """
    NeuronScreen #neuron-status { height: auto; max-height: 3; color: $text-muted; padding: 0 1; }
    NeuronScreen #neuron-table { height: auto; padding: 0 1; }
    NeuronScreen #neuron-legend { height: auto; max-height: 2; padding: 0 0 0 1; }
    NeuronScreen #neuron-texts {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    NeuronScreen #neuron-history { height: auto; max-height: 2; color: $text-muted; padding: 0 1; }
    """

    @staticmethod
    def enabled(app: TweetgenApp, action: str) -> bool | None:
        """The App's check_action for u ("neurons": a checkpoint generates, no columns open) and U ("unit_off":
        a unit colours the generation)."""
        if action == "unit_off":
            unit = app.main_screen.query_one(GenerationPanel).unit_view  # (app.generation: only while main is shown)
            return True if unit is not None else None
        source = app.source
        return True if source is not None and source.path is not None and app.columns_screen is None else None

    @classmethod
    def open(cls, app: TweetgenApp) -> None:
        """Key u: the view of the checkpoint generating, over the tweet on screen (the current one once finished,
        else the one before); the run's checkpoints are scored from now on. Closing it colours the generation
        by the unit picked (:meth:`tui.widgets.generation_panel.GenerationPanel.unit_chosen`)."""
        source = app.source
        if cls.enabled(app, "neurons") is not True or source is None or isinstance(app.screen, NeuronScreen):
            return
        watch = app.main_screen.query_one(NeuronWatch)
        run = [i.path for i in app.run_checkpoints]
        watch.activate(source.path, [(i.path, i.step) for i in app.run_checkpoints])
        panel = app.generation
        shown = next((r for r in ([panel.current] if panel.current else []) + panel.history[::-1] if r.complete),
                     panel.current)
        app.push_screen(cls(watch, source, shown.text if shown is not None else "", run), panel.unit_chosen)

    @staticmethod
    def follow(app: TweetgenApp, source: GeneratorSource) -> None:
        """The app generates from ``source`` now: an open view shows it (:meth:`show_source`)."""
        for screen in app.screen_stack:
            if isinstance(screen, NeuronScreen):
                screen.show_source(source)

    def __init__(self, watch: NeuronWatch, source: GeneratorSource, sample: str, run: list[Path]) -> None:
        super().__init__()
        self.watch = watch
        self.book = watch.book
        self.source = source
        self.path: Path | None = source.path
        self.sample = sample
        self.run = run  # the run's checkpoints, for when each feature first got a tracker
        self.states: TextStates | None = None
        selection = self.book.selection
        self.feature: str | None = selection[0] if selection is not None else None  # None: chosen once the report is in
        self.picks: dict[str, int] = dict(selection[1]) if selection is not None else {}
        self.mode: ColourMode = "full"
        self.base = (0x1E, 0x1E, 0x1E)
        self._reading = False  # the states' worker was started

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="neuron-status")
        yield Static(id="neuron-table")
        yield Static(id="neuron-legend")
        with VerticalScroll(id="neuron-texts", can_focus=False):  # the arrow keys are the view's, not a scroll's
            yield Static(id="neuron-text-body")
        yield Static(id="neuron-history")
        yield AppFooter(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"neurons · {fmt.printable(self.source.describe())}"
        fit_footer(self.query_one(AppFooter), self.app.size.width)
        self.mode, self.base = palette_of(self.query_one("#neuron-texts"))
        self.redraw()
        self._read_states()

    def _read_states(self) -> None:
        """Once the checkpoint's validation texts are in (they come with its report): their states, in a worker."""
        path = self.path
        if path is None or self.states is not None or self._reading:
            return
        if path in self.book.errors:
            self.states = TextStates(path, None, [], self.book.errors[path])
        elif path in self.book.reports:
            self._reading = True
            self._text_states(path, self.source, self.sample, self.book.texts.get(path))

    def show_source(self, source: GeneratorSource) -> None:
        """The app now generates from ``source`` (it follows the run's new checkpoints as training writes them):
        the view shows that checkpoint, scored first, with the same feature and unit rank picked."""
        if source.path is None or source.path == self.path:
            return
        self.source, self.path, self.states, self._reading = source, source.path, None, False
        self.workers.cancel_group(self, "neuron-texts")
        self.watch.want(source.path, first=True)
        self.sub_title = f"neurons · {fmt.printable(source.describe())}"
        self._read_states()
        self.redraw()

    def on_worker_state_changed(self, event: Any) -> None:
        cast("TweetgenApp", self.app).report_worker(event)  # the App's one failure handler

    @property
    def report(self) -> Any:
        return self.book.reports.get(self.path) if self.path is not None else None

    # ------------------------------------------------------------ keys

    def action_feature(self, delta: int) -> None:
        features = list(feature_labels())
        current = features.index(self.feature) if self.feature is not None else -delta % len(features)
        self.feature = features[(current + delta) % len(features)]
        self._selection_changed()

    def action_unit(self, delta: int) -> None:
        report = self.report
        ranked = report.ranked.get(self.feature, []) if report is not None and self.feature is not None else []
        if not ranked:
            return
        index = min(self.picks.get(self.feature, 0), len(ranked) - 1)
        self.picks[self.feature] = max(0, min(len(ranked) - 1, index + delta))
        self._selection_changed()

    def action_close(self) -> None:
        self.dismiss(self.choice())

    def _selection_changed(self) -> None:
        if self.feature is not None:
            self.book.selection = (self.feature, dict(self.picks))
        self.redraw()

    def choice(self) -> UnitChoice | None:
        """The unit selected now (None: no report, or a feature absent from the texts)."""
        from core.neurons.finder import legend

        report = self.report
        ranked = report.ranked.get(self.feature, []) if report is not None and self.feature is not None else []
        if not ranked:
            return None
        u = ranked[min(self.picks.get(self.feature, 0), len(ranked) - 1)]
        index = min(self.picks.get(self.feature, 0), len(ranked) - 1)
        return UnitChoice(u.unit, self.feature, feature_labels()[self.feature], legend(u), report.step,
                          rank=(index + 1, len(ranked)))

    # ------------------------------------------------------------ updates

    def on_reports_changed(self, message: ReportsChanged) -> None:
        message.stop()
        self._read_states()
        self.redraw()

    def on_text_states(self, message: TextStates) -> None:
        message.stop()
        if message.path == self.path:
            self.states = message
            self.redraw()

    def redraw(self) -> None:
        self.query_one("#neuron-status", Static).update(self._status())
        report = self.report
        if self.feature is None and report is not None:  # first open: the first feature with a tracker
            tracked = [f for f in feature_labels() if report.trackers(f)]
            self.feature = tracked[0] if tracked else next(iter(feature_labels()))
        table = self.query_one("#neuron-table", Static)
        table.update(report_table(report, self.feature or "", self.picks) if report is not None else "")
        choice = self.choice()
        legend = Text(fmt.printable(choice.legend) if choice is not None else "")
        self.query_one("#neuron-legend", Static).update(legend)
        texts = self.query_one("#neuron-texts", VerticalScroll)
        texts.border_title = scale_legend(self.mode, self.base)
        rank = f"unit {choice.rank[0]} of {choice.rank[1]} · " if choice is not None else ""
        texts.border_subtitle = f"{rank}↑↓ feature · ←→ unit · esc: back, coloured live"
        self.query_one("#neuron-text-body", Static).update(self._texts(report, choice))
        self.query_one("#neuron-history", Static).update(self._history())

    def _status(self) -> Text:
        path = self.path
        if path is None:
            return Text("an untrained model: train (space) and open this on a checkpoint", style="italic")
        if path in self.book.errors:
            error = self.book.errors[path]
            error = error[len(f"{path}: "):] if error.startswith(f"{path}: ") else error  # the title names it
            return Text(f"no units found: {fmt.printable(error)}", style="bold red")
        report = self.report
        if report is None:
            return Text(f"finding units in {fmt.printable(self.source.describe())}… (once per checkpoint; "
                        "the app stays usable)", style="italic")
        return Text(f"step {report.step:,} · {report.hidden} units · {report.n_texts:,} validation texts, "
                    f"{report.n_chars:,} chars", no_wrap=True, overflow="ellipsis")

    def _texts(self, report: Any, choice: UnitChoice | None) -> Group | Text:
        states = self.states
        if report is None or choice is None:
            if report is not None and self.feature is not None:
                return Text(f"{feature_labels()[self.feature]}: not in the validation texts", style="dim italic")
            return Text("")
        if states is None:
            return Text("reading the texts…", style="dim italic")
        unit = choice.unit
        parts: list[Text] = []
        if states.error:
            parts.append(Text(fmt.printable(states.error), style="dim italic"))
        if states.sample is not None:
            text, acts = states.sample
            parts.append(Text("the tweet on screen:", style="bold dim"))
            parts.append(unit_text(text, acts[:, unit].tolist(), self.mode, self.base))
        sign = next((u.sign for u in report.ranked.get(choice.feature, []) if u.unit == unit), 1)
        peaks: list[int] = []
        if states.pool:
            column = (states.highest[:, unit] if sign > 0 else -states.lowest[:, unit]).tolist()  # (N,)
            peaks = sorted(range(len(column)), key=lambda i: (-column[i], i))[:TOP_SHOWN]
        if peaks:
            where = "highest" if sign > 0 else "lowest"  # in the feature's direction
            parts.append(Text(f"where unit {unit} is {where} ({len(states.pool)} validation texts):", style="bold dim"))
        for i in peaks:
            text, acts = states.pool[i]
            parts.append(unit_text(text, acts[:, unit].tolist(), self.mode, self.base))
        return Group(*parts) if parts else Text("")

    def _history(self) -> Text:
        """When each feature first got a tracker in the run: the selected feature's first, in the issue's words
        ("inside URL: unit 41 from step 600"), then the others grouped by step."""
        labels = feature_labels()
        out = Text("across training: ", style="dim")
        if not self.run:
            out.append("no checkpoints of this run yet", style="dim italic")
            return out
        first = self.book.first_trackers(self.run)
        done = sum(1 for p in self.run if p in self.book.reports or p in self.book.errors)
        if self.feature in first:
            step, unit = first[self.feature]
            out.append(f"{labels[self.feature]}: unit {unit} from step {step:,}", style="bold")
        elif self.feature is not None:
            out.append(f"{labels[self.feature]}: no tracker yet")
        by_step: dict[int, list[str]] = {}
        for feature, (step, _) in first.items():
            if feature != self.feature:
                by_step.setdefault(step, []).append(labels.get(feature, feature))
        for step in sorted(by_step):
            out.append(f" · from step {step:,}: {', '.join(by_step[step])}")
        if done < len(self.run):
            out.append(f" (scored {done} of {len(self.run)} checkpoints…)", style="dim italic")
        return out

    # ------------------------------------------------------------ the worker

    @work(thread=True, group="neuron-texts", exclusive=True, exit_on_error=False, name="neuron texts")
    def _text_states(self, path: Path, source: GeneratorSource, sample: str, texts: list[str] | None) -> None:
        """The states of the tweet on screen and of the checkpoint's validation texts (one GRU call each: torch
        work, which leaves the GIL to the UI; ``texts`` None: they were not found)."""
        import torch

        from core.neurons.finder import activations

        worker = get_current_worker()
        error = None if texts is not None else "its validation texts were not found: only the tweet on screen is shown"
        pool: list[tuple[str, Any]] = []
        for text in texts or []:
            if worker.is_cancelled:
                return
            if text.strip():
                pool.append((text, activations(source.model, source.vocab, text)))  # (len(text), H)
        shown = (sample, activations(source.model, source.vocab, sample)) if sample else None
        highest = torch.stack([acts.max(dim=0).values for _, acts in pool]) if pool else None  # (N, H)
        lowest = torch.stack([acts.min(dim=0).values for _, acts in pool]) if pool else None  # (N, H)
        if not worker.is_cancelled:
            try:
                self.post_message(TextStates(path, shown, pool, error, highest, lowest))
            except RuntimeError:
                pass
