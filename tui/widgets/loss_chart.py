"""A line chart of training and validation bits/char, drawn with braille dots.

Both series are in bits per character (the training loss arrives in nats and is
converted) so they share one axis. Each terminal cell holds 2x4 braille dots, which
gives a usable curve in a 40x8 panel. The y range ignores the first tenth of the run
once there is more than that, so the steep first drop does not flatten the part of the
curve people watch; values above the range are drawn on the top row.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable

from rich.text import Text
from textual.widget import Widget

from tui import messages as m

LN2 = math.log(2.0)
MAX_POINTS = 4000  # per series; older points are merged pairwise beyond this
_DOT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [row][col] bit of a braille cell
AXIS_WIDTH = 7  # "12.345┤"


class Series:
    """(step, value) points in step order, decimated pairwise when there are too many."""

    def __init__(self) -> None:
        self.steps: list[float] = []
        self.values: list[float] = []

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: float, value: float) -> None:
        if not math.isfinite(value):
            return
        if self.steps and step < self.steps[-1]:  # a restarted run: keep the chart monotonic
            cut = bisect_left(self.steps, step)
            del self.steps[cut:], self.values[cut:]
        self.steps.append(float(step))
        self.values.append(float(value))
        if len(self.steps) > MAX_POINTS:
            self.steps = [(a + b) / 2 for a, b in zip(self.steps[::2], self.steps[1::2])]
            self.values = [(a + b) / 2 for a, b in zip(self.values[::2], self.values[1::2])]

    def clear(self) -> None:
        self.steps.clear()
        self.values.clear()


class LossChart(Widget):
    """Training (every progress report) and validation (every evaluation) bits/char against step."""

    COMPONENT_CLASSES = {"loss-chart--train", "loss-chart--val", "loss-chart--axis"}
    DEFAULT_CSS = """
    LossChart { height: 1fr; min-height: 4; }
    LossChart > .loss-chart--train { color: $primary; }
    LossChart > .loss-chart--val { color: $warning; }
    LossChart > .loss-chart--axis { color: $text-muted; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.train = Series()
        self.val = Series()

    # ------------------------------------------------------------ data

    def add_train_loss(self, step: int, loss_nats: float) -> None:
        self.train.add(step, loss_nats / LN2)
        self.refresh()

    def add_val_bpc(self, step: int, val_bpc: float) -> None:
        self.val.add(step, val_bpc)
        self.refresh()

    def load_history(self, history: list[list[float]]) -> None:
        """Seed from a checkpoint's ``metrics["history"]``: rows of [step, train_bpc, val_bpc]."""
        self.train.clear()
        self.val.clear()
        for row in history:
            if len(row) >= 3:
                self.train.add(row[0], row[1])
                self.val.add(row[0], row[2])
        self.refresh()

    def on_run_history(self, message: m.RunHistory) -> None:
        message.stop()
        self.load_history(message.history)

    @property
    def point_count(self) -> int:
        return len(self.train) + len(self.val)

    # ------------------------------------------------------------ drawing

    def _y_range(self) -> tuple[float, float]:
        steps = self.train.steps + self.val.steps
        values = self.train.values + self.val.values
        lo_step, hi_step = min(steps), max(steps)
        skip = lo_step + 0.1 * (hi_step - lo_step)
        late = [v for s, v in zip(steps, values) if s >= skip] if len(values) > 20 else values
        late = late or values
        lo, hi = min(late), max(late)
        if hi - lo < 0.05:
            mid = (hi + lo) / 2
            lo, hi = mid - 0.05, mid + 0.05
        pad = 0.05 * (hi - lo)
        return max(0.0, lo - pad), hi + pad

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        train_style = self.get_component_rich_style("loss-chart--train")
        val_style = self.get_component_rich_style("loss-chart--val")
        axis_style = self.get_component_rich_style("loss-chart--axis")
        last_train = f" {self.train.values[-1]:.2f}" if self.train.values else ""
        last_val = f" {self.val.values[-1]:.2f}" if self.val.values else ""
        legend = Text.assemble(("━ ", train_style), (f"train{last_train}", axis_style),
                               ("  ━ ", val_style), (f"val{last_val}", axis_style), ("  bits/char", axis_style))
        legend.truncate(width)
        if not (self.train.steps or self.val.steps):
            return Text.assemble(legend, "\n", ("no points yet: press space to train", axis_style))
        plot_w, plot_h = width - AXIS_WIDTH, height - 2
        if plot_w < 4 or plot_h < 1:
            return legend
        lo, hi = self._y_range()
        x0 = min(self.train.steps[:1] + self.val.steps[:1])
        x1 = max(self.train.steps[-1:] + self.val.steps[-1:])
        span = max(x1 - x0, 1.0)
        dots_w, dots_h = plot_w * 2, plot_h * 4
        cells = [[0] * plot_w for _ in range(plot_h)]
        owner = [[0] * plot_w for _ in range(plot_h)]  # 1 train, 2 val (val drawn last wins)

        def to_x(step: float) -> int:
            return round((step - x0) / span * (dots_w - 1))

        def to_y(value: float) -> int:
            frac = (min(max(value, lo), hi) - lo) / (hi - lo)
            return round((1.0 - frac) * (dots_h - 1))

        for series, tag in ((self.train, 1), (self.val, 2)):
            previous: tuple[int, int] | None = None
            for x_col, mean in _column_means(series, to_x):
                point = (x_col, to_y(mean))
                for x, y in _line(previous or point, point):
                    row, col = y // 4, x // 2
                    cells[row][col] |= _DOT[y % 4][x % 2]
                    owner[row][col] = tag
                previous = point

        labels = {0: hi, plot_h - 1: lo}
        if plot_h >= 5:
            labels[(plot_h - 1) // 2] = (hi + lo) / 2
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(legend)
        for row in range(plot_h):
            out.append("\n")
            label = f"{labels[row]:.2f}" if row in labels else ""
            out.append(f"{label:>{AXIS_WIDTH - 1}}{'┤' if row in labels else '│'}", axis_style)
            for col in range(plot_w):
                bits = cells[row][col]
                if bits:
                    out.append(chr(0x2800 + bits), val_style if owner[row][col] == 2 else train_style)
                else:
                    out.append(" ")
        left, right = f"{x0:,.0f}", f"step {x1:,.0f}"
        gap = max(1, plot_w - len(left) - len(right))
        out.append("\n" + " " * AXIS_WIDTH + left + " " * gap + right, axis_style)
        return out


def _column_means(series: Series, to_x: Callable[[float], int]) -> list[tuple[int, float]]:
    """(dot column, mean value) for each column the series touches, left to right.

    Training reports come ten times a second and are noisy; drawing each one paints a
    solid band. The mean per column is the curve a person is looking for.
    """
    columns: dict[int, list[float]] = {}
    for step, value in zip(series.steps, series.values):
        columns.setdefault(to_x(step), []).append(value)
    return [(x, sum(values) / len(values)) for x, values in sorted(columns.items())]


def _line(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
    """Bresenham: the dots from a to b inclusive."""
    (x0, y0), (x1, y1) = a, b
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    points = []
    while True:
        points.append((x0, y0))
        if x0 == x1 and y0 == y1:
            return points
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy

