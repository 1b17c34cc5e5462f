"""Generation panel: the tweet being written now, and the ones before it.

Generated text is shown as plain :class:`rich.text.Text`, never parsed as markup, so a
``[`` or an emoji in a sample renders as itself. The panel owns the sampling worker
(:meth:`GenerationPanel.start_sample`): a thread that streams one tweet, checking for
cancellation before every character, and posts its chunks (at most one per frame) to this
panel; chunks of a sample that has been replaced are ignored by id.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import Worker, get_current_worker

from core.model.scoring import bits_per_char
from core.store import policy
from tui import messages as m
from tui.format import printable, prob_legend, prob_text, visible
from tui.services.generation_stream import GeneratorSource, stream_chunks
from tui.widgets.unit_colours import RGB, ColourMode, UnitChoice, palette_of, scale_legend, unit_text

if TYPE_CHECKING:
    from tui.app import TweetgenApp

MAX_HISTORY = 200
MIN_TIMER_S = 0.01  # Textual's Timer divides by its interval: no timer is set shorter than this
CURSOR = "▌"


@dataclass
class SampleRecord:
    """One sample as shown: where it came from, what it says so far, and, once finished, what the model
    thought of it (bits/char) and whether it is new (novelty against the training texts)."""

    sample_id: int
    temperature: float
    source: str
    text: str = ""  # prime included
    complete: bool | None = None  # None while streaming; False when cut short
    prime: str = ""
    probs: list[float] = field(default_factory=list)  # of each written character (text[len(prime):]), at T=1
    eos_prob: float | None = None  # the model ended the text (None: cut at max_len)
    cfg: Any = None  # the core.model.sampler.SampleConfig it was written with (seed included)
    checkpoint: Path | None = None
    step: int | None = None
    label: str | None = None  # a column's title instead of the header ("T 1.5", "step 20")
    novelty: Any = None  # core.model.novelty.NoveltyResult once checked
    novelty_note: str = ""  # why there is none yet ("indexing…")
    exported: bool = False
    unit: int | None = None  # the hidden unit whose state after each written character ``acts`` holds (key u)
    acts: list[float] = field(default_factory=list)

    @property
    def written(self) -> str:
        return self.text[len(self.prime):]

    @property
    def bits_per_char(self) -> float:
        return bits_per_char(self.probs, self.eos_prob)

    def settings(self) -> str:
        """T, and top-k / top-p when on."""
        cfg = self.cfg
        parts = [f"T {self.temperature:.1f}"]
        if cfg is not None and cfg.top_k:
            parts.append(f"k {cfg.top_k}")
        if cfg is not None and cfg.top_p < 1.0:
            parts.append(f"p {cfg.top_p:g}")
        return " ".join(parts)

    def header(self) -> Text:
        return Text(f"{self.settings()} · {printable(self.source)}", style="dim", no_wrap=True, overflow="ellipsis")

    def body(self, cursor: bool = False, probs: bool = False, colours: tuple[int, ColourMode, RGB] | None = None) -> Text:
        """The text; ``colours`` (unit, mode, base): on the backgrounds of that unit's states, when it streamed with them."""
        if colours is not None and colours[0] == self.unit:
            text = unit_text(self.written, self.acts, colours[1], colours[2], prime=self.prime)
        elif probs:
            text = prob_text(self.prime, self.written, self.probs)
        else:
            text = visible(self.text)  # control and zero-width characters as a dim <U+XXXX>
        if cursor:
            text.append(CURSOR, style="dim")
        elif self.complete is False:
            text.append(" … (cut short)", style="dim italic")
        elif not self.text:
            text.append("(empty sample)", style="dim italic")
        return text

    def score(self) -> Text | None:
        """Under a finished sample: bits/char under the model, and its novelty."""
        if not self.complete:
            return None
        out = Text(f"{self.bits_per_char:.2f} bits/char", style="dim")
        if not self.eos_prob:
            out.append(" · cut at max length", style="dim")
        out.append(" · ", style="dim")
        found = self.novelty
        if found is None:
            out.append(f"novelty: {self.novelty_note or 'not checked'}", style="dim italic")
        elif found.copied:
            what = "the whole of" if found.whole else f"{found.longest} chars from"
            out.append(f"COPIED {what} training text #{found.source}", style="bold reverse red")
            out.append(" · o shows it", style="dim")
        else:
            out.append(f"longest shared run {found.longest} chars", style="dim")
        return out

    def view(self, cursor: bool = False, probs: bool = False, header: bool = True,
             colours: tuple[int, ColourMode, RGB] | None = None) -> Group | Text:
        """What a widget shows of it: (header,) body (, score); the body alone as one Text."""
        parts: list[Text] = [self.header()] if header else []
        parts.append(self.body(cursor=cursor, probs=probs, colours=colours))
        score = self.score()
        if score is not None:
            parts.append(score)
        return parts[0] if len(parts) == 1 else Group(*parts)


class GenerationPanel(Vertical):
    """History of samples above, the current stream below, settings on top."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current: SampleRecord | None = None
        self.history: list[SampleRecord] = []
        self._views: deque[Static] = deque()  # the history's widgets, oldest first (one per record of history)
        self.probs_view = False  # colour each character by the model's probability of it (key p)
        self.unit_view: UnitChoice | None = None  # colour each character's background by this unit's state (key u)
        self._palette: tuple[ColourMode, RGB] | None = None
        self.sample_id = 0  # of the newest sample started here (the columns count from tui.app.COLUMN_IDS)
        self.sampling = False  # the worker streams sample_id now
        self._next_sample: Timer | None = None  # the next tweet, --gap seconds after one ends

    def compose(self) -> ComposeResult:
        yield Static(id="gen-status")
        legend = Static(prob_legend(), id="gen-legend")
        legend.display = False
        yield legend
        yield VerticalScroll(id="history")
        yield Static(Text("loading the model…", style="dim"), id="current")

    def on_mount(self) -> None:
        self.border_title = "Generation"

    # ------------------------------------------------------------ messages of the workers

    def on_sample_chunk(self, message: m.SampleChunk) -> None:
        message.stop()
        self.append(message.sample_id, message.text, message.probs, message.acts)

    def on_sample_finished(self, message: m.SampleFinished) -> None:
        self.finish(message.sample_id, message.complete, message.eos_prob)  # and on to the App (novelty)
        if message.sample_id != self.sample_id:
            return
        self.sampling = False
        gap = self.tweetgen.settings.gap_s
        if message.complete and gap is not None:
            # a 0 s Timer divides by zero inside Textual (and ended generation after one tweet): --gap 0 waits a frame
            self._next_sample = self.set_timer(max(gap, MIN_TIMER_S), self.start_sample)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.tweetgen.report_worker(event)

    # ------------------------------------------------------------ sampling

    @property
    def tweetgen(self) -> TweetgenApp:
        return cast("TweetgenApp", self.app)

    @property
    def busy(self) -> bool:
        """A tweet is being written, or the next one is scheduled."""
        return self.sampling or self._next_sample is not None

    def start_sample(self) -> None:
        """Stop the current tweet (if any) and start a new one with the app's settings now."""
        self.stop_sampling()
        app = self.tweetgen
        source = app.source
        if source is None or app.closing or app.columns_screen is not None:
            return  # (the columns cover the single view: it starts again when they close)
        self.sample_id += 1
        # without --seed each tweet still gets a seed of its own, drawn, so an exported tweet can be written again
        seed = random.SystemRandom().randrange(2**31) if app.settings.seed is None else app.settings.seed + self.sample_id - 1
        cfg = app.sample_config(app.temperature, seed)
        if self.unit_view is not None:  # the neuron view's unit colours it: the sampler keeps each state
            cfg = dataclasses.replace(cfg, keep_state=True)
        record = self.begin(self.sample_id, app.temperature, source.describe(), prime=cfg.prime, cfg=cfg,
                            checkpoint=source.path, step=source.step)
        app.samples.keep(record)
        self.sampling = True
        self._sample(self.sample_id, source, cfg, app.settings.pace, record.unit)

    def stop_sampling(self) -> None:
        """No tweet is written, and none is scheduled, until :meth:`start_sample`."""
        if self._next_sample is not None:
            self._next_sample.stop()
            self._next_sample = None
        self.workers.cancel_group(self, "sample")

    @work(thread=True, group="sample", exclusive=True, exit_on_error=False, name="sample")
    def _sample(self, sample_id: int, source: GeneratorSource, cfg: Any, pace: float, unit: int | None = None) -> None:
        worker = get_current_worker()
        eos = None
        for chunk in stream_chunks(source, cfg, pace, lambda: worker.is_cancelled, unit=unit):
            self.post_message(m.SampleChunk(sample_id, chunk.text, chunk.probs, chunk.acts))
            eos = chunk.eos_prob
        self.post_message(m.SampleFinished(sample_id, complete=not worker.is_cancelled, eos_prob=eos))

    def on_no_model(self, message: m.NoModel) -> None:
        message.stop()
        self.show_notice(message.reason)

    # ------------------------------------------------------------ updates from the App

    def show_settings(self) -> None:
        """The status line: the App's sampling settings and the model in use (when it is the run's best, so
        it says; the run name last, where a narrow terminal cuts it)."""
        app = self.tweetgen
        source = app.source.describe() if app.source is not None else None
        if source is not None and app.source is not None and app.source.step is not None and \
                policy.is_best_of_run(app.source.path, app.run_checkpoints):
            source = f"best step {app.source.step:,} · {app.source.label}"
        self.set_status(app.temperature, source, app.settings.pace, top_k=app.top_k, top_p=app.top_p, prime=app.prime)

    def set_status(self, temperature: float, source: str | None, pace: float, *, top_k: int = 0,
                   top_p: float = 1.0, prime: str = "") -> None:
        line = Text.assemble(("temp ", "dim"), (f"{temperature:.1f}", "bold"), no_wrap=True, overflow="ellipsis")
        if top_k:
            line.append_text(Text.assemble((" · top-k ", "dim"), (f"{top_k}", "bold")))
        if top_p < 1.0:
            line.append_text(Text.assemble((" · top-p ", "dim"), (f"{top_p:g}", "bold")))
        if prime:
            line.append(" · prime ", style="dim")
            line.append_text(visible(prime if len(prime) <= 12 else prime[:11] + "…", style="bold"))
        line.append(" · ", style="dim")
        line.append(source or "no model", style="bold" if source else "dim")
        self.query_one("#gen-status", Static).update(line)
        self.border_subtitle = "as fast as it writes" if pace <= 0 else f"{pace:g} chars/s"

    def set_probs_view(self, on: bool) -> None:
        """Colour every sample shown (history included) by the model's probability of each character
        (one colouring at a time: it turns the unit's off)."""
        self.probs_view = on
        if on and self.unit_view is not None:
            self.set_unit_view(None)
        else:
            self._redraw_all()

    # ------------------------------------------------------------ the neuron view's unit (u; U: off)

    def set_unit_view(self, choice: UnitChoice | None) -> None:
        """Colour the samples streamed with ``choice``'s unit by its state (None: plain again). The new samples
        stream with it (:meth:`start_sample`); the others are shown as they would be without it."""
        self.unit_view = choice
        self._palette = palette_of(self) if choice is not None else None
        self._redraw_all()
        self.app.refresh_bindings()  # U is enabled while a unit colours the generation

    def unit_chosen(self, choice: UnitChoice | None) -> None:
        """Back from the neuron view (its dismiss callback): coloured by the unit picked, from a new tweet."""
        app = self.tweetgen
        if app.closing:
            return
        if choice is not None and app.probs_view:
            app.probs_view = False  # one colouring at a time
        changed = choice != self.unit_view
        self.set_unit_view(choice)
        current = self.current
        if changed and choice is not None and (current is None or current.unit != choice.unit):
            self.start_sample()

    def colours(self) -> tuple[int, ColourMode, RGB] | None:
        """What :meth:`SampleRecord.view` colours by now: (unit, mode, base), or None."""
        if self.unit_view is None or self._palette is None:
            return None
        return (self.unit_view.unit, *self._palette)

    def _redraw_all(self) -> None:
        legend = self.query_one("#gen-legend", Static)
        choice = self.unit_view
        if choice is not None and self._palette is not None:
            line = scale_legend(*self._palette, compact=True)
            line.append(f" unit {choice.unit} · {printable(choice.feature_label)} · U: plain", style="dim")
            legend.update(line)
        else:
            legend.update(prob_legend())
        legend.display = choice is not None or self.probs_view
        for record, view in zip(self.history, self._views):
            view.update(record.view(probs=self.probs_view, colours=self.colours()))
        if self.current is not None:
            self._draw_current()

    def redraw(self, record: SampleRecord) -> None:
        """``record`` changed (its novelty arrived): draw it again wherever it is shown."""
        if record is self.current:
            self._draw_current()
            return
        for shown, view in zip(reversed(self.history), reversed(self._views)):
            if shown is record:
                view.update(record.view(probs=self.probs_view, colours=self.colours()))
                return

    def show_notice(self, notice: str) -> None:
        """A message in place of the current sample (no model yet, what to press)."""
        if self.current is not None:
            self._retire(complete=False)
        current = self.query_one("#current", Static)
        current.border_title = None
        current.update(Text(notice, style="italic"))

    def note(self, text: str) -> None:
        """A line in the history between samples (what the app is doing, what to press)."""
        history = self.query_one("#history", VerticalScroll)
        if not history.is_attached:
            return
        history.mount(Static(Text(text, style="italic"), classes="note"))
        history.scroll_end(animate=False, immediate=False)

    def begin(self, sample_id: int, temperature: float, source: str, **details: Any) -> SampleRecord:
        """A new sample starts; the one on screen moves up into the history. ``details``: more
        :class:`SampleRecord` fields (prime, cfg, checkpoint, step). Returns the new record."""
        if self.current is not None:
            self._retire(complete=None)
        record = SampleRecord(sample_id, temperature, source, **details)
        record.text = record.prime
        record.unit = self.unit_view.unit if self.unit_view is not None else None
        self.current = record
        self._draw_current()
        return record

    def append(self, sample_id: int, text: str, probs: tuple[float, ...] = (), acts: tuple[float, ...] = ()) -> None:
        if self.current is None or self.current.sample_id != sample_id or self.current.complete is not None:
            return  # a chunk of a stream that was already replaced
        self.current.text += text
        self.current.probs.extend(probs)
        self.current.acts.extend(acts)
        self._draw_current()

    def finish(self, sample_id: int, complete: bool, eos_prob: float | None = None) -> None:
        if self.current is None or self.current.sample_id != sample_id:
            return
        if self.current.complete is None:
            self.current.complete = complete
            self.current.eos_prob = eos_prob
        self._draw_current()

    # ------------------------------------------------------------ internals

    def _draw_current(self) -> None:
        record = self.current
        assert record is not None
        current = self.query_one("#current", Static)
        current.border_title = record.header()
        current.update(record.view(cursor=record.complete is None, probs=self.probs_view, header=False,
                                   colours=self.colours()))

    def _retire(self, complete: bool | None) -> None:
        """Move the current sample into the history (``complete`` None: keep what it says)."""
        record = self.current
        self.current = None
        if record is None:
            return
        if record.complete is None:
            record.complete = False if complete is None else complete
        self.history.append(record)
        history = self.query_one("#history", VerticalScroll)
        if not history.is_attached:  # the app is closing
            return
        at_end = history.scroll_y >= history.max_scroll_y - 1
        view = Static(record.view(probs=self.probs_view, colours=self.colours()), classes="sample")
        self._views.append(view)
        history.mount(view)
        if len(self.history) > MAX_HISTORY:
            del self.history[0]
            self._views.popleft().remove()
        if at_end:
            history.scroll_end(animate=False, immediate=False)
