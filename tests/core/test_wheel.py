"""The wheel installs as a tool: ``pip install .`` (or ``pipx``/``uv tool install .``) gives a
working ``tweetgen`` and ``tweetgen-tui`` that carry the demo corpus and checkpoint.

The wheel is built offline from a copy of the working tree (without build isolation: setuptools
comes from the ``test`` extra), installed with ``constraints.txt`` into a fresh venv, and both
console scripts are run from a folder outside the repository, so nothing can be found through
the checkout.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")]

REPO = Path(__file__).resolve().parents[2]
# The pty harness of the end-to-end test, imported rather than copied (it may move to tests/tui).
_HARNESS = next((d for d in (REPO / "tests" / "tui", REPO / "tests" / "functional") if (d / "test_e2e_pty.py").exists()))
if str(_HARNESS) not in sys.path:
    sys.path.insert(0, str(_HARNESS))
from test_e2e_pty import ESCAPES, _read_to_exit, _reap, _spawn, read_until  # noqa: E402

# What is left out of the copy the wheel is built from: .gitignore's build outputs and caches.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                    ".hypothesis", "runs", "results")
DEMO_FILES = ("core/_assets/demo.pt", "core/_assets/demo_tweets.txt")


@dataclass
class Installed:
    wheel: Path
    venv: Path
    outside: Path  # a folder outside the repository: the cwd and TWEETGEN_HOME of every run

    def script(self, name: str) -> Path:
        return self.venv / "bin" / name

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        return dict(env, TWEETGEN_HOME=str(self.outside), PYTHONWARNINGS="ignore")

    def run(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(a) for a in args], cwd=self.outside, env=self.env(), capture_output=True, text=True,
                              timeout=timeout)


def _cannot_build_offline() -> str | None:
    """Why the wheel cannot be built here without a network, or None when it can."""
    spec = importlib.util.find_spec("setuptools")
    if spec is None:
        return "setuptools is not installed in the test environment (it comes with pip install -e '.[test]')"
    from setuptools import __version__ as setuptools_version

    major, minor = (int(x) for x in re.findall(r"\d+", setuptools_version)[:2])
    if (major, minor) < (70, 1) and importlib.util.find_spec("wheel") is None:
        return f"setuptools {setuptools_version} needs the 'wheel' package to build a wheel, and it is not installed"
    return None


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    reason = _cannot_build_offline()
    if reason:
        pytest.skip(f"cannot build the wheel offline: {reason}")
    root = tmp_path_factory.mktemp("wheel")
    src, dist, venv, outside = root / "src", root / "dist", root / "venv", root / "outside"
    outside.mkdir()
    shutil.copytree(REPO, src, ignore=NOT_COPIED)  # the build writes build/ and *.egg-info beside its sources
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, f"building the wheel failed:\n{built.stdout}{built.stderr}"
    (wheel,) = dist.glob("tweetgen-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    inst = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "install", "-q",
                           "-c", str(REPO / "constraints.txt"), str(wheel)],
                          cwd=outside, capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, f"installing the wheel failed:\n{inst.stdout}{inst.stderr}"
    return Installed(wheel, venv, outside)


def test_the_wheel_carries_the_demo_corpus_and_checkpoint(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert set(DEMO_FILES) <= names, f"missing from {installed.wheel.name}: {sorted(set(DEMO_FILES) - names)}"
    assert not any(n.startswith(("assets/", "tests/", "bench/")) for n in names), sorted(names)


def test_the_installed_package_finds_its_own_demo_files_and_version(installed: Installed) -> None:
    probe = ("import core, core.assets as a; print(core.__file__); print(a.demo_checkpoint_path()); "
             "print(a.demo_corpus_path()); print(core.__version__)")
    out = installed.run(installed.script("python"), "-c", probe)
    assert out.returncode == 0, out.stderr
    *paths, version = out.stdout.splitlines()
    core_file, checkpoint, corpus = (Path(p) for p in paths)
    site = installed.venv.resolve()
    for path in (core_file, checkpoint, corpus):
        assert path.resolve().is_relative_to(site), f"{path} is not the installed copy (in {site})"
        assert not path.resolve().is_relative_to(REPO), f"{path} comes from the repository"
        assert path.is_file(), path
    assert checkpoint.stat().st_size == (REPO / "assets" / "demo.pt").stat().st_size
    pyproject_version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    assert pyproject_version and version == pyproject_version[1]
    shown = installed.run(installed.script("tweetgen"), "--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"tweetgen {pyproject_version[1]}", shown


def test_the_installed_tweetgen_samples_from_the_installed_demo_checkpoint(installed: Installed) -> None:
    found = installed.run(installed.script("python"), "-c",
                          "from core.assets import demo_checkpoint_path; print(demo_checkpoint_path())")
    checkpoint = Path(found.stdout.strip())
    assert found.returncode == 0 and checkpoint.is_file(), found
    out = installed.run(installed.script("tweetgen"), "sample", checkpoint, "-n", "3", "--seed", "0")
    assert out.returncode == 0, out.stderr
    tweets = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(tweets) == 3 and all(len(t) >= 5 for t in tweets), out.stdout
    assert "Traceback" not in out.stderr


def test_the_installed_tweetgen_tui_opens_on_the_demo_and_quits_on_q(installed: Installed,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(installed.outside)  # _spawn runs the app in the current folder, with os.environ
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        monkeypatch.delenv(name, raising=False)
    proc, master = _spawn([str(installed.script("tweetgen-tui"))], installed.outside)
    try:
        # the demo corpus is read (its tweet count) and the demo checkpoint writes (the generation panel's title)
        opened = re.compile(r"demo corpus · [\d,]+ tweets")
        read_until(master, proc, lambda screen: bool(opened.search(screen)) and "· demo · step" in screen, timeout=60)
        os.write(master, b"q")
        tail = _read_to_exit(master, proc, timeout=60)
        text = ESCAPES.sub("", tail.decode("utf-8", "replace"))
        assert proc.poll() == 0, f"exit code {proc.poll()}; tail: {text[-800:]!r}"
        assert "Traceback" not in text
    finally:
        _reap(proc, master)
