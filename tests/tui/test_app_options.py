"""tweetgen-tui's options: the same run-name check and numeric bounds as tweetgen, from one table
(core.cli.flags.NUMBERS), refused in one line; and hints worded in the app's own flags."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from core.cli.flags import EXIT_USAGE, NUMBERS
from core.cli.main import build_parser as cli_parser
from tui.__main__ import build_parser as app_parser
from tui.__main__ import settings_from_args
from tui.settings import TEMPERATURE_MAX, TEMPERATURE_MIN

REPO = Path(__file__).resolve().parents[2]


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def _numeric_actions(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    """(command, action) for every option that takes a number, subcommands included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                found += [(command, a) for _, a in _numeric_actions(sub)]
        elif action.option_strings and getattr(action.type, "__name__", "") in ("int", "float"):
            found.append(("", action))
    return found


APP_NUMERIC = [a.option_strings[-1] for _, a in _numeric_actions(app_parser())]


def test_the_app_numeric_option_list_is_complete() -> None:
    expected = {"--epochs", "--minutes", "--max-steps", "--hidden", "--layers", "--embed", "--batch-size", "--lr",
                "--threads", "--seed", "--val-every", "--ckpt-every", "--keep-last", "--keep-best", "--max-tweet-len",
                "--temperature", "--pace", "--gap", "--max-len", "--copy-threshold"}
    assert expected <= set(APP_NUMERIC), expected - set(APP_NUMERIC)


@pytest.mark.parametrize("parser", [cli_parser, app_parser], ids=["tweetgen", "tweetgen-tui"])
def test_every_numeric_option_of_both_front_ends_takes_its_bounds_from_the_one_table(parser) -> None:
    for command, action in _numeric_actions(parser()):
        setting = getattr(action.type, "setting", None)
        assert setting in NUMBERS and NUMBERS[setting] is action.type, (command, action.option_strings)


def test_the_same_setting_has_the_same_bounds_in_both_front_ends() -> None:
    cli = {getattr(a.type, "setting", None) for _, a in _numeric_actions(cli_parser())}
    app = {getattr(a.type, "setting", None) for _, a in _numeric_actions(app_parser())}
    shared = cli & app
    assert {"epochs", "hidden_size", "threads", "batch_size", "seed", "keep_last", "max_tweet_len"} <= shared


def test_the_app_temperature_bounds_are_the_keys_range() -> None:
    parse = NUMBERS["app_temperature"]
    assert parse(str(TEMPERATURE_MIN)) == TEMPERATURE_MIN and parse(str(TEMPERATURE_MAX)) == TEMPERATURE_MAX
    for outside in (TEMPERATURE_MIN / 2, TEMPERATURE_MAX * 2):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(str(outside))


@pytest.mark.parametrize("option", APP_NUMERIC)
def test_every_numeric_app_option_refuses_absurd_values_in_one_line(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("1e30", "1" + "0" * 30, "1e300", "-1" + "0" * 30, "inf", "nan", "18446744073709551615"):
        with pytest.raises(SystemExit) as exc:
            app_parser().parse_args([f"{option}={value}"])
        assert exc.value.code == EXIT_USAGE, (option, value)
        line = _one_line(capsys)
        assert line.startswith("tweetgen-tui: error: ") and f"argument {option}" in line, line


@pytest.mark.parametrize("argv", [["--epochs", "1000000000000000000000000000000"], ["--hidden", "1000000000"],
                                  ["--threads", "100000000"], ["--batch-size", "100000000000000000000"],
                                  ["--seed", "18446744073709551615"], ["--seed", "-1"], ["--gap", "1e300"],
                                  ["--pace", "1e300"], ["--max-len", "1000000000000000"],
                                  ["--copy-threshold", "1000000000000"]])
def test_the_reported_absurd_values_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        app_parser().parse_args(argv)
    assert exc.value.code == EXIT_USAGE
    assert f"argument {argv[0]}: must be" in _one_line(capsys)


def test_values_at_the_bounds_are_taken() -> None:
    args = app_parser().parse_args(["--seed", str(2**63 - 1), "--threads", "4096", "--hidden", str(2**20),
                                    "--keep-last", "3", "--keep-best", "2", "--epochs", str(10**9)])
    settings = settings_from_args(args)
    assert settings.seed == 2**63 - 1 and settings.threads == 4096 and settings.model["hidden_size"] == 2**20
    assert settings.train["keep_last"] == 3 and settings.train["keep_best"] == 2


BAD_RUN_NAMES = ["../../escape", "..", ".", "a/b", "/abs", "", "  ", "a\\b", "x\x00y", "../x", "a\nb", "tab\there",
                 "x" * 256, "é" * 128]


@pytest.mark.parametrize("name", BAD_RUN_NAMES, ids=[repr(n)[:16] for n in BAD_RUN_NAMES])
def test_the_app_refuses_run_names_the_cli_refuses(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    for parser, argv, prog in ((cli_parser(), ["train", "x.txt", "--run", name], "tweetgen train"),
                               (app_parser(), ["--run", name], "tweetgen-tui")):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(argv)
        assert exc.value.code == EXIT_USAGE, (prog, name)
        line = _one_line(capsys)
        assert line.startswith(f"{prog}: error: argument --run: "), line
        assert "is not a run name" in line or "a run name is at most 255 bytes" in line, line
        if prog == "tweetgen-tui" and "is not a run name" in line:  # the app words the hint in its own flags
            assert "--out" not in line and "--checkpoint DIR" in line, line


def test_a_plain_run_name_still_goes_under_the_home(tmp_path: Path) -> None:
    for name in ("evening-2", "é" * 127, "x" * 255, "2024 run"):
        settings = settings_from_args(app_parser().parse_args(["--run", name, "--home", str(tmp_path)]))
        assert settings.run_dir() == tmp_path / "runs" / name
        settings.run_dir().mkdir(parents=True)  # a name taken is one the file system takes


def test_a_bound_is_said_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        app_parser().parse_args(["--seed", "18446744073709551615"])
    assert "must be between 0 and 9223372036854775807, got 18446744073709551615" in _one_line(capsys)


# ---------------------------------------------------------------- hints in the app's own flags


def _app_flags() -> set[str]:
    return {s for a in app_parser()._actions for s in a.option_strings}


# Messages that name a flag but cannot reach the app, each with the reason.
NOT_SHOWN_BY_THE_APP = {
    ("core/store/provenance.py", "--check-novelty"): "find_recorded's lines are read by `tweetgen sample --check-novelty` "
                                                "only; the app indexes the corpus it trains on",
}


def _literals(path: Path) -> list[str]:
    """The string literals of a module (the constant parts of f-strings too), docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            out.append(node.value)
    return out


def _app_shown_sources() -> list[Path]:
    """Everything whose messages the app can show: core (but the CLI's own package) and tui (but its --help),
    every subpackage included (a test below checks the walk reaches them)."""
    core = [p for p in sorted((REPO / "core").rglob("*.py")) if "cli" not in p.relative_to(REPO / "core").parts[:-1]]
    tui = [p for p in sorted((REPO / "tui").rglob("*.py")) if p.name != "__main__.py"]
    return core + tui


def test_the_message_walk_reaches_every_package() -> None:
    """core and tui are packages of packages: a walk of their top folders alone missed most messages."""
    walked = {p.parent.relative_to(REPO).as_posix() for p in _app_shown_sources()}
    assert {"core/data", "core/model", "core/train", "core/store", "tui/screens", "tui/widgets", "tui/services"} <= walked
    assert not any(w.startswith("core/cli") for w in walked)


def test_every_flag_a_message_of_the_app_names_is_one_of_the_apps_flags() -> None:
    """Collect the messages the app can show (core's and its own) and check that every flag written in
    one is a flag tweetgen-tui has (core names settings in hints instead, worded by each front end: the
    tests below); a backquoted `tweetgen ...` command names the CLI's."""
    have = _app_flags()
    wrong = []
    for path in _app_shown_sources():
        rel = str(path.relative_to(REPO))
        for text in _literals(path):
            worded = text
            outside = "".join(worded.split("`")[0::2])  # backquoted commands are the CLI's, and say so
            for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", outside):
                if flag not in have and (rel, flag) not in NOT_SHOWN_BY_THE_APP:
                    wrong.append(f"{rel}: {flag} in {worded!r}")
    assert not wrong, "\n".join(wrong)


def _raised(call) -> BaseException:
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the error under test
        return exc
    raise AssertionError("no error")


def test_core_hints_are_worded_in_the_apps_flags(tmp_path: Path) -> None:
    """The same errors as tweetgen words them and as the app does: each setting in the app's own flag."""
    import errno

    from core.store import checkpoints, runlock
    from core.train.limits import check_memory
    from core.train.setup import MEMORY_HINT
    from tui.settings import say

    full = OSError(errno.ENOSPC, "No space left on device")
    exc = checkpoints.CheckpointError("/r/step-1.pt: cannot write checkpoint (No space left on device)",
                                      checkpoints._write_hint(full))
    assert str(exc) == "/r/step-1.pt: cannot write checkpoint (No space left on device); free some space or choose another --out directory"
    assert say(exc) == "/r/step-1.pt: cannot write checkpoint (No space left on device); free some space or choose another --checkpoint directory"

    (tmp_path / "x.txt").write_text("x" * 300 + "\n", encoding="utf-8")
    from core.data.corpus import load_corpus
    exc = _raised(lambda: load_corpus(tmp_path / "x.txt"))
    assert str(exc).endswith("(too_long 1); try --max-len 560") and say(exc).endswith("(too_long 1); try --max-tweet-len 560")

    run = tmp_path / "r"
    run.mkdir()
    (run / "step-00000001.pt").write_bytes(b"")
    exc = _raised(lambda: runlock.acquire(run, fresh=True))
    assert str(exc).endswith(f"continue it with --resume {run}, or choose another --run or --out for a new run"), str(exc)
    assert say(exc).endswith(f"continue it with --checkpoint {run}, or choose another --run or --checkpoint for a new run")

    exc = _raised(lambda: check_memory(10**18, "training this model", MEMORY_HINT))
    assert str(exc).endswith("use a smaller --hidden, --embed, --layers or --batch-size, or a lower --max-len")
    assert say(exc).endswith("use a smaller --hidden, --embed, --layers or --batch-size, or a lower --max-tweet-len")

    # what the training process sends: the line as a hint, worded by the app when shown
    assert say(exc.as_hint()) == say(exc)


# ---------------------------------------------------------------- hints keyed by setting (core.errors)

# Settings core's hints name that the app has no words for, each with the reason it never shows them.
APP_NEVER_SHOWS = {
    "allow_unknown": "RunRequest's default hint; TrainJob passes the app's own",
    "until_stopped": "until_stopped is set by TrainJob only when no budget is given",
    "budget": "said only with --until-stopped",
    "check_novelty": "find_recorded's lines are read by `tweetgen sample --check-novelty` only",
}


def _settings_core_names() -> dict[str, str]:
    """Every {setting} in a hint template written in core (hint(...), Hint(...) calls), with where."""
    import string

    found: dict[str, str] = {}
    for path in sorted((REPO / "core").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("hint", "_hint", "Hint") and node.args:
                parts = node.args[0].values if isinstance(node.args[0], ast.JoinedStr) else [node.args[0]]
                for part in parts:  # an f-string's constant part holds "{setting}" (written "{{setting}}")
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        for _, name, _, _ in string.Formatter().parse(part.value):
                            if name:
                                found.setdefault(name, str(path.relative_to(REPO)))
    return found


def test_every_setting_core_names_in_a_hint_has_words_in_both_front_ends() -> None:
    from core.cli.flags import CLI_WORDS
    from tui.settings import APP_WORDS

    named = _settings_core_names()
    assert {"max_tweet_len", "keep_retweets", "column", "run_dir"} <= set(named), named  # the scan finds them
    assert not set(named) - set(CLI_WORDS), set(named) - set(CLI_WORDS)
    missing = set(named) - set(APP_WORDS) - set(APP_NEVER_SHOWS)
    assert not missing, {s: named[s] for s in missing}


def test_each_front_ends_words_name_only_its_own_flags() -> None:
    from core.cli.flags import CLI_WORDS
    from tui.settings import APP_WORDS

    cli = {s for a in cli_parser()._actions for s in a.option_strings}
    for sub in next(a for a in cli_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices.values():
        cli |= {s for a in sub._actions for s in a.option_strings}
    for setting, words in CLI_WORDS.items():
        assert set(re.findall(r"--[a-z][a-z-]*", words)) <= cli, setting
    for setting, words in APP_WORDS.items():
        outside = "".join(words.split("`")[0::2])  # a backquoted `tweetgen ...` command names the CLI's
        assert set(re.findall(r"--[a-z][a-z-]*", outside)) <= _app_flags(), setting


def test_the_open_corpus_screen_words_the_reports_hints_in_the_apps_flags(tmp_path: Path) -> None:
    """A note saying how to keep long texts names --max-tweet-len on the open-corpus screen (it named
    tweetgen train's --max-len there before: the screen showed the notes unreworded)."""
    from core.data.corpus import FilterConfig, load_corpus
    from tui.screens.open_corpus import report_text

    path = tmp_path / "long.txt"
    path.write_text("".join(f"a tweet {i}\n" for i in range(40)) + "x" * 300 + "\n" + "y" * 333 + "\n" + "z" * 290 + "\n",
                    encoding="utf-8")
    _, report = load_corpus(path, FilterConfig())
    shown = report_text(report, "long.txt").plain
    assert "try --max-tweet-len 340 to keep them" in shown and "--max-len" not in shown, shown
