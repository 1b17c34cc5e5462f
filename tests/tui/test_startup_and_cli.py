"""`tweetgen-tui` start-up: no torch before the first frame, every flag explained, flags to settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.assets import demo_checkpoint_path, demo_corpus_path
from tui.__main__ import build_parser, main, settings_from_args

NO_TORCH = """
import sys
import tui, tui.__main__, tui.app, tui.messages, tui.settings
import tui.widgets.generation_panel, tui.widgets.training_panel, tui.widgets.checkpoint_panel, tui.widgets.loss_chart, tui.screens.help
assert 'torch' not in sys.modules, 'torch imported at start-up'
app = tui.app.TweetgenApp(tui.__main__.settings_from_args(tui.__main__.build_parser().parse_args([])))
assert 'torch' not in sys.modules, 'torch imported by building the app'
print('ok')
"""


def test_the_app_builds_without_importing_torch() -> None:
    """The first frame must not wait for torch: it is imported by the boot worker after it."""
    out = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for action in build_parser()._actions:
        for flag in action.option_strings:
            assert flag in text, flag
        if action.option_strings and action.help != "==SUPPRESS==":
            assert action.help, f"{action.option_strings} has no help"


def test_no_arguments_means_the_demo_corpus_and_checkpoint() -> None:
    s = settings_from_args(build_parser().parse_args([]))
    assert s.data_path == demo_corpus_path() and s.is_demo_corpus
    assert s.demo_checkpoint == demo_checkpoint_path()
    assert s.run_name() == "demo-run" and s.data_label == "demo corpus"
    assert s.temperature == 0.8
    assert not {"epochs", "minutes", "max_steps"} & set(s.train), "the app trains until it is paused or quit"


def test_the_apps_training_defaults_are_cores() -> None:
    """tweetgen-tui sets no training defaults of its own: what it leaves out, core.defaults decides
    (one set of defaults for both front ends), and its help quotes them."""
    from core import defaults

    parser = build_parser()
    s = settings_from_args(parser.parse_args([]))
    assert s.train == {} and s.model == {}
    help_text = " ".join(parser.format_help().split())
    assert f"default {defaults.VAL_EVERY})" in help_text and f"default {defaults.CKPT_EVERY};" in help_text
    assert f"default {defaults.HIDDEN_SIZE}; {defaults.SMALL_HIDDEN_SIZE} on a corpus under {defaults.SMALL_CORPUS:,} texts)" in help_text


def test_flags_reach_the_settings(tmp_path: Path) -> None:
    data = tmp_path / "my tweets!.csv"
    args = build_parser().parse_args(["--data", str(data), "--minutes", "3", "--hidden", "32", "--temperature", "1.5",
                                      "--pace", "0", "--seed", "4", "--ckpt-every", "50", "--threads", "1"])
    s = settings_from_args(args)
    assert s.data_path == data and not s.is_demo_corpus and s.run_name() == "my-tweets"
    assert s.train == {"ckpt_every": 50, "minutes": 3.0}
    assert s.model == {"hidden_size": 32} and s.temperature == 1.5 and s.pace == 0 and s.seed == 4 and s.threads == 1
    assert s.run_dir() == Path(os.environ["TWEETGEN_HOME"]) / "runs" / "my-tweets"  # set per test by tests/conftest.py


@pytest.mark.parametrize("bad", [["--temperature", "9"], ["--temperature", "0"], ["--pace", "-1"], ["--epochs", "0"]])
def test_out_of_range_flags_are_refused(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(bad)
    assert exit_info.value.code == 2
    assert "must be" in capsys.readouterr().err


def test_a_checkpoint_directory_is_the_run_directory(tmp_path: Path) -> None:
    s = settings_from_args(build_parser().parse_args(["--checkpoint", str(tmp_path)]))
    assert s.run_dir() == tmp_path
    named = settings_from_args(build_parser().parse_args(["--checkpoint", str(tmp_path), "--run", "other", "--home", str(tmp_path)]))
    assert named.run_dir() == tmp_path / "runs" / "other"
