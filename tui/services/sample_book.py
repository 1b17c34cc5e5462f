"""The session's samples: every tweet written, for export (``e``), and the novelty index they are checked against.

No Textual here: the App keeps one :class:`SampleBook` (``app.samples``); the views that write a
sample hand it here when it starts (:meth:`SampleBook.keep`), the main screen checks it once it has
finished (:meth:`SampleBook.check`) and draws the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.store import policy

if TYPE_CHECKING:
    from core.model.novelty import NoveltyIndex
    from tui.widgets.generation_panel import SampleRecord

MAX_SESSION = 10_000  # samples kept for export (e); the oldest go first
INDEXING = "indexing…"  # why a finished sample has no novelty yet


class SampleBook:
    """Every sample of the session by id (single view and columns), in the order they started, and
    the novelty index over the training texts (None until it is built, or when it cannot be)."""

    def __init__(self) -> None:
        self.records: dict[int, SampleRecord] = {}  # by sample id
        self.session: list[SampleRecord] = []  # the same, in the order they started (export: e)
        self.novelty: NoveltyIndex | None = None
        self.novelty_note = INDEXING  # why there is no index (yet)

    def keep(self, record: SampleRecord) -> None:
        """A sample started: kept for the novelty check and export (the oldest go past MAX_SESSION)."""
        self.records[record.sample_id] = record
        self.session.append(record)
        if len(self.session) > MAX_SESSION:
            old = self.session.pop(0)
            self.records.pop(old.sample_id, None)

    # ------------------------------------------------------------ novelty

    def reindex(self) -> None:
        """Another corpus was opened: its texts are being indexed."""
        self.novelty, self.novelty_note = None, INDEXING

    def index_ready(self, index: NoveltyIndex | None) -> list[SampleRecord]:
        """The index is built (None: there are no texts to check against). Returns the finished
        samples that have waited for it."""
        self.novelty = index
        if index is None:
            self.novelty_note = "no training texts to check against"
        return [r for r in self.session if r.complete and r.novelty is None]

    def check(self, record: SampleRecord, *, applies: bool) -> None:
        """Check a finished sample against the training texts. ``applies`` False: its checkpoint never
        saw them (:func:`core.store.policy.novelty_applies`), and a shared run would mean nothing."""
        if not applies:
            record.novelty_note = policy.NOT_TRAINED_ON_IT
        elif self.novelty is None:
            record.novelty_note = self.novelty_note
        else:
            record.novelty = self.novelty.check(record.text)

    @staticmethod
    def source_record(shown: list[SampleRecord]) -> SampleRecord | None:
        """The tweet among ``shown`` whose source ``o`` shows: one flagged as copied, else the longest shared run."""
        checked = [r for r in shown if r.novelty is not None and r.novelty.source is not None]
        return max(checked, key=lambda r: (r.novelty.copied, r.novelty.longest), default=None)

    # ------------------------------------------------------------ copy (y) and export (e)

    @staticmethod
    def copy_text(shown: list[SampleRecord]) -> str:
        """What ``y`` copies: the tweet, or each column's labelled by what differs."""
        if len(shown) == 1:
            return shown[0].text
        return "\n".join(f"{r.label or r.settings()}: {r.text}" for r in shown)

    @property
    def exportable(self) -> bool:
        """A finished sample to export (or exported already: ``e`` then says where)."""
        return any(r.complete for r in self.session)

    def export(self, path: Path) -> int | None:
        """Append the finished samples not exported yet to ``path`` (JSON lines). Returns how many were
        written; None when there were none. Raises OSError (nothing is marked exported then)."""
        from core.model.sampler import Written
        from core.store.export import append_jsonl, sample_record

        todo = [r for r in self.session if r.complete and not r.exported and r.cfg is not None]
        if not todo:
            return None
        records = [sample_record(Written(r.text, r.eos_prob is not None, r.bits_per_char, ()), r.cfg,
                                 checkpoint=r.checkpoint, step=r.step, novelty=r.novelty) for r in todo]
        n = append_jsonl(path, records)
        for r in todo:
            r.exported = True
        return n
