"""The unit finder's child process (tui/services/neuron_process.py): the same report as in-process, validation texts,
one-line errors, a job given up on does not answer the next one, and close() ends the child."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from neuronhelpers import NeuronAssets, neuron_assets  # noqa: F401 - fixture

from core.neurons.finder import cache_path, report_for_checkpoint
from tui.services.neuron_process import FinderProcess


def test_the_child_answers_as_the_finder_does(neuron_assets: NeuronAssets, tmp_path: Path) -> None:
    """A report equal to report_for_checkpoint's, with the checkpoint's validation texts; a job given up on
    (cancelled while the child computes) is skipped, so the next job gets its own answer."""
    run = neuron_assets.home / "runs" / "grow"
    first, second = tmp_path / "step-00000400.pt", tmp_path / "step-00000200.pt"
    shutil.copy2(run / first.name, first)  # no cache beside the copies: the child computes
    shutil.copy2(run / second.name, second)
    shutil.copy2(neuron_assets.corpus, tmp_path / neuron_assets.corpus.name)
    finder = FinderProcess("give a corpus")
    try:
        started = time.monotonic()
        assert finder.score(first, 7, lambda: time.monotonic() - started > 0.5) is None  # given up on
        scored = finder.score(second, 7, lambda: False)
        assert scored is not None and scored.error is None
        assert scored.report.step == 200  # not the answer to the job given up on (step 400)
        assert scored.texts is not None and len(scored.texts) == 7
        assert cache_path(first).exists()  # the child finished the job given up on and cached it
        assert scored.report == report_for_checkpoint(second)  # in this process, from the cache: the same
        again = finder.score(first, 3, lambda: False)
        assert again is not None and again.report.step == 400 and len(again.texts) == 3
    finally:
        finder.close()


def test_errors_are_one_line_and_close_ends_the_child(tmp_path: Path) -> None:
    bad = tmp_path / "step-00000001.pt"
    bad.write_bytes(b"not a checkpoint")
    finder = FinderProcess("give a corpus")
    try:
        scored = finder.score(bad, 5, lambda: False)
        assert scored is not None and scored.report is None
        assert scored.error and "\n" not in scored.error and str(bad) in scored.error
        process = finder._process
        assert process is not None and process.is_alive()
    finally:
        finder.close()
    assert not process.is_alive()
