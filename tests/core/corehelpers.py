"""Small corpora and models for fast unit tests (all text here is written for the tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.store.checkpoints import Checkpoint
from core.train.trainer import TrainConfig, Trainer
from core.model.gru import new_model
from core.data.vocab import CharVocab

REPO = Path(__file__).resolve().parents[2]
DEV_CSV = REPO.parent / "shared" / "data" / "trump_tweets_dev.csv"  # third-party text: read, never copied

needs_dev_csv = pytest.mark.skipif(
    not DEV_CSV.exists(), reason=f"real-data test: {DEV_CSV} is absent (it lives in ../shared beside the checkout)"
)

TINY_TWEETS = [
    "the bakery opens at 7 today!",
    "rain again. the cat refuses to go out.",
    "new sourdough batch is ready #bread",
    "train 14 is running 5 minutes late",
    "sunny and 21C at noon, perfect for a walk",
    "@hikers meet at the north gate at 9",
    "coffee count: 3. it is only 10am",
    "the probe reports all systems nominal",
    "tomatoes are finally turning red",
    "library closes early on friday",
    "windy evening, hold on to your hats",
    "the cat found the warm laundry again",
]


def tiny_trainer(
    run_dir: Path,
    texts: list[str] | None = None,
    *,
    model_kwargs: dict[str, object] | None = None,
    resume_from: Checkpoint | None = None,
    **cfg: object,
) -> Trainer:
    """A 16-unit GRU on a dozen tweets: trains 20 steps in well under a second."""
    texts = texts or TINY_TWEETS
    vocab = CharVocab.build(texts)
    model = new_model(vocab, seed=0, **(model_kwargs or {"embed_dim": 8, "hidden_size": 16}))
    defaults: dict[str, object] = {"batch_size": 4, "max_steps": 20, "val_every": 0, "ckpt_every": 0, "warmup_steps": 2}
    defaults.update(cfg)
    return Trainer(model, vocab, texts, texts[:2], TrainConfig(**defaults), run_dir, resume_from=resume_from)  # type: ignore[arg-type]


def run_all(trainer: Trainer) -> list[object]:
    return list(trainer.run())


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def unwritable_prefix(directory: Path, how: str) -> list[str]:
    """A command prefix under which writing into ``directory`` really fails, as root too; skips when this machine cannot.

    ``how``: "permission" (EACCES: the folder is made 0555 by the caller; as root, where permission bits do not
    stop writes, the command runs without CAP_DAC_OVERRIDE, through ``setpriv``) or "read-only-mount" (EROFS: the
    folder is bind-mounted read-only in a mount namespace of the command's own, through ``unshare``; needs root,
    and the mount ends with the command). Unlike a patched ``open``, the kernel refuses the write.
    """
    if how == "permission":
        if os.geteuid() != 0:
            return []
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
        if shutil.which("setpriv") is None or not _works([*prefix, "true"]):
            pytest.skip("running as root without setpriv: permission bits cannot stop root's writes here")
        return prefix
    if how == "read-only-mount":
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        prefix = ["unshare", "--mount", "--", "sh", "-c", script, "sh", str(directory)]
        if os.geteuid() != 0 or shutil.which("unshare") is None or not _works([*prefix, "true"]):
            pytest.skip("cannot bind-mount a folder read-only here (needs root and mount namespaces)")
        return prefix
    raise ValueError(f"unknown way to deny writes: {how!r}")


# ---------------------------------------------------------------- the CLI on a tiny corpus (reliability tests)

TINY_CLI = ["--hidden", "8", "--embed", "8", "--batch-size", "4", "--val-every", "0", "--quiet"]


def tiny_corpus_file(tmp_path: Path) -> Path:
    """TINY_TWEETS twice, one a line, in ``tmp_path / "c.txt"``."""
    path = tmp_path / "c.txt"
    path.write_text("\n".join(TINY_TWEETS * 2) + "\n", encoding="utf-8")
    return path


def train_tiny(corpus: Path, out: Path, *extra: str) -> int:
    """``tweetgen train`` for 2 steps of a tiny model into ``out``; its exit status."""
    from core.cli.main import main

    return main(["train", str(corpus), "--out", str(out), "--max-steps", "2", *TINY_CLI, *extra])


def one_error_line(capsys: Any) -> str:
    """The single stderr line a refusal printed (no traceback)."""
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def many_checkpoints(run: Path, n: int = 1000) -> None:
    """Train one step into ``run``, then copy that checkpoint to steps 2..n (each with its own sidecar):
    a run folder of ``n`` checkpoints without training ``n`` steps (listing and retention at scale)."""
    import json

    from core.store import checkpoints

    run_all(tiny_trainer(run, max_steps=1, ckpt_every=1))
    source = run / "step-00000001.pt"
    data, meta = source.read_bytes(), json.loads(source.with_suffix(".json").read_text())
    for step in range(2, n + 1):
        target = run / checkpoints.checkpoint_name(step)
        target.write_bytes(data)
        target.with_suffix(".json").write_text(json.dumps({**meta, "file": target.name, "step": step}))


# ---------------------------------------------------------------- whole-text corpus readers (the streaming reference)
#
# Core reads every file a chunk at a time (core.data.decoding, core.data.readers). These read a text held
# whole, as core did before it streamed: test_corpus_stream checks the streamed reading against them.


def decode_bytes(raw: bytes, name: str, report: Any = None) -> str:
    """Bytes held whole -> str by ``bytes.decode``, with core.data.decoding's rules (BOMs, UTF-16 without a
    mark, binary refused, UTF-8, then Windows-1252/Latin-1; NULs removed): the reference for chunked decoding."""
    from core.data.decoding import BOMS, CP1252_UNDEFINED, bomless_utf16, refuse_binary
    from core.data.report import CorpusError

    def finish(text: str, enc: str) -> str:
        if report is not None:
            report.encoding = enc
        nul = text.count("\x00")
        if nul:
            text = text.replace("\x00", "")
            if report is not None:
                report.notes.append(f"removed {nul:,} NUL characters")
        return text

    for bom, enc in BOMS:
        if raw.startswith(bom):
            try:
                text = raw.decode(enc)
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{name}: has a {enc} byte-order mark but invalid {enc} at byte {exc.start}; re-save it as UTF-8") from None
            return finish(text, enc)
    if not raw:
        return ""
    sample = raw[:65536]
    utf16 = bomless_utf16(sample)
    if utf16 is not None:
        try:
            return finish(raw.decode(utf16), utf16)
        except UnicodeDecodeError:
            pass
    refuse_binary(sample, name)
    try:
        return finish(raw.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        cp1252 = not any(b in raw for b in CP1252_UNDEFINED)
        text = raw.decode("cp1252", errors="replace") if cp1252 else raw.decode("latin-1")
        if report is not None:
            report.notes.append("not valid UTF-8: decoded as Latin-1/Windows-1252")
        return finish(text, "latin-1")


def read_json(text: str, name: str) -> list[str]:
    from core.data.readers import iter_json_records, record_items

    return list(record_items(iter_json_records((text,), name), name))


def read_tweets_js(text: str, name: str) -> list[str]:
    """A Twitter archive's ``data/tweets.js``: ``window.YTD.tweets.part0 = [ ... ]``."""
    from core.data.readers import INVALID_TWEETS_JS, iter_json_records, record_items

    return list(record_items(iter_json_records((text,), name, INVALID_TWEETS_JS, assignment=True), name))


def read_jsonl(text: str, name: str) -> list[str]:
    from core.data.decoding import SPLITLINES_END, split_lines
    from core.data.readers import jsonl_items

    return list(jsonl_items(split_lines((text,), SPLITLINES_END), name))


def read_csv(text: str, name: str, column: str | None = None) -> list[str]:
    """CSV with a ``text`` column; without a header, the first column is the text."""
    from core.data.decoding import CSV_LINE_END, split_lines
    from core.data.readers import csv_items

    first_line = text.split("\n", 1)[0]
    tab = "\t" in first_line and "," not in first_line
    return list(csv_items(split_lines((text,), CSV_LINE_END), name, column, tab))


def read_lines(text: str) -> list[str]:
    """One item per line (LF, CRLF or CR-only endings); the newline that ends the last line does not make an empty item."""
    from core.data.decoding import CSV_LINE_END, split_lines
    from core.data.readers import line_items

    return list(line_items(split_lines((text,), CSV_LINE_END)))
