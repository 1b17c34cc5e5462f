"""core.humanize.age: one rounding for `tweetgen list` and the app's checkpoint table."""

from __future__ import annotations

import pytest

from core.humanize import age


@pytest.mark.parametrize(("secs", "text"), [
    (0, "0s"), (42.7, "42s"), (59.9, "59s"), (60, "1m"), (119, "1m"), (3599, "59m"),
    (3600, "1h"), (2 * 3600 - 1, "1h"), (86400 * 2.9, "2d"), (-5, "0s"),
])
def test_ages_count_whole_units_down(secs: float, text: str) -> None:
    assert age(1000.0, now=1000.0 + secs, suffix=False) == text
    assert age(1000.0, now=1000.0 + secs) == f"{text} ago"


def test_the_app_and_the_cli_say_the_same_age(monkeypatch: pytest.MonkeyPatch) -> None:
    from tui import format as fmt

    monkeypatch.setattr(fmt, "now", lambda: 1000.0 + 6000)  # 1 h 40 min: the CLI rounded it to "2h", the app said "1h"
    assert fmt.age(1000.0) == age(1000.0, now=1000.0 + 6000) == "1h ago"
