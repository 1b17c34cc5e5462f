"""Corpus files as they come: every line ending (CR, LF, CRLF, mixed) gives one item per line, and what is not a
regular file (a FIFO, a device, a socket) is refused in one line without hanging (issue 12).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from corehelpers import REPO, TINY_CLI, TINY_TWEETS, one_error_line, train_tiny

from core.data.corpus import load_corpus

TINY = TINY_CLI
GB = 10**9
_train, _one_line = train_tiny, one_error_line


# ---------------------------------------------------------------- line endings


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("suffix", [".txt", ".text", ".dat"])
def test_every_line_ending_gives_one_item_per_line(newline: str, suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"corpus{suffix}"
    path.write_bytes(newline.join(TINY_TWEETS[:5]).encode() + newline.encode())
    texts, report = load_corpus(path)
    assert texts == TINY_TWEETS[:5] and report.read == 5


def test_mixed_line_endings_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"one\rtwo\r\nthree\nfour")
    assert load_corpus(path)[0] == ["one", "two", "three", "four"]


# ---------------------------------------------------------------- files that are not regular files


_NON_REGULAR = """
import json, os, socket, sys
from core.cli.main import main
from core.data.corpus import CorpusError, load_corpus
tmp = sys.argv[1]
os.mkfifo(os.path.join(tmp, "fifo"))
sock = socket.socket(socket.AF_UNIX); sock.bind(os.path.join(tmp, "sock"))
results = []
for data in (os.path.join(tmp, "fifo"), "/dev/zero", os.path.join(tmp, "sock")):
    results.append(["train", data, main(["train", data, "--out", os.path.join(tmp, "run"), "--quiet"])])
    results.append(["eval", data, main(["eval", sys.argv[2], data])])
    try:
        load_corpus(data)  # what the app's --data and its training child call
        results.append(["load_corpus", data, 0])
    except CorpusError as exc:
        results.append(["load_corpus", data, str(exc)])
results.append(["sample", "fifo", main(["sample", os.path.join(tmp, "fifo")])])
results.append(["sample", "/dev/zero", main(["sample", "/dev/zero"])])
print(json.dumps(results))
"""


@pytest.mark.slow
def test_fifos_devices_and_sockets_are_refused_in_one_line_without_hanging(trained: Path, tmp_path: Path) -> None:
    """In a child with a time limit: before the fix the FIFO blocked forever and /dev/zero ate memory."""
    import resource

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (12 * GB, 12 * GB))

    proc = subprocess.run([sys.executable, "-c", _NON_REGULAR, str(tmp_path), str(trained)], capture_output=True, text=True,
                          timeout=120, cwd=REPO, preexec_fn=limit_memory)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.splitlines()[-1])
    errors = proc.stderr.splitlines()
    assert "Traceback" not in proc.stderr
    assert len(errors) == 8 and all("not a regular file" in e for e in errors), errors
    for command, data, outcome in results:
        if command == "load_corpus":
            assert isinstance(outcome, str) and outcome.startswith(f"{data}: not a regular file"), outcome
        else:
            assert outcome == 1, (command, data)
    assert not (tmp_path / "run").exists()
