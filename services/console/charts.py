"""The console's charts as geometry for server-rendered SVG: no chart script, so they work offline, without
JavaScript and under the Content-Security-Policy, and each template shows the figures as a table beside.

Pure functions: figures in, coordinates and labels out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HEAT_LEVELS = 5
"""Shades of the heat grid (`heat-0` … `heat-4` in the stylesheet)."""


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    shown: str
    length: float
    """Percent of the longest bar."""


def bars(items: Sequence[tuple[str, float]], shown: Callable[[float], str] = str) -> list[Bar]:
    """Horizontal bars in the given order, scaled to the largest value (negative values count as 0)."""
    top = max((value for _, value in items), default=0)
    return [
        Bar(label, value, shown(value), round(100 * max(value, 0) / top, 2) if top > 0 else 0.0)
        for label, value in items
    ]


@dataclass(frozen=True, slots=True)
class HeatCell:
    row: int
    column: int
    count: int
    level: int
    """0 (none) to HEAT_LEVELS - 1 (the fullest cell)."""


def heat_grid(
    counts: Mapping[tuple[int, int], int], rows: Sequence[int], columns: Sequence[int]
) -> list[list[HeatCell]]:
    """A grid of counts (the RFM grid: recency rows, frequency columns) with a shade per cell."""
    top = max(counts.values(), default=0)

    def level(count: int) -> int:
        if count <= 0 or top <= 0:
            return 0
        return max(1, min(HEAT_LEVELS - 1, -(-count * (HEAT_LEVELS - 1) // top)))

    return [
        [HeatCell(r, c, counts.get((r, c), 0), level(counts.get((r, c), 0))) for c in columns] for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class LineChart:
    """A step line in a `width` x `height` box (y grows downwards, as in SVG)."""

    width: int
    height: int
    path: str
    dots: list[tuple[float, float]]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def step_chart(
    points: Sequence[tuple[datetime, int]],
    until: datetime,
    *,
    low: int = 0,
    high: int = 100,
    width: int = 640,
    height: int = 200,
    ticks: int = 4,
) -> LineChart | None:
    """A value that holds from each point to the next (a score), drawn up to `until`; None without points.

    Points must be in time order; `until` before the last point is taken as the last point.
    """
    if not points:
        return None
    start, end = points[0][0], max(until, points[-1][0])
    span = (end - start).total_seconds() or 1.0

    def x(moment: datetime) -> float:
        return round(width * (moment - start).total_seconds() / span, 2)

    def y(value: int) -> float:
        clamped = min(max(value, low), high)
        return round(height * (high - clamped) / (high - low), 2)

    steps = [f"M{x(points[0][0])},{y(points[0][1])}"]
    for moment, value in points[1:]:
        steps.append(f"H{x(moment)}V{y(value)}")
    steps.append(f"H{x(end)}")
    # Days over a long span, hours over a short one; a label equal to the one before is left out.
    shown = "%Y-%m-%d" if span >= 4 * 86400 else "%m-%d %H:%M"
    x_ticks: list[Tick] = []
    for moment in (start + timedelta(seconds=span * i / ticks) for i in range(ticks + 1)):
        label = moment.strftime(shown)
        if not x_ticks or x_ticks[-1].label != label:
            x_ticks.append(Tick(x(moment), label))
    y_ticks = [Tick(y(value), str(value)) for value in range(low, high + 1, max((high - low) // ticks, 1))]
    return LineChart(
        width, height, "".join(steps), [(x(at), y(value)) for at, value in points], x_ticks, y_ticks
    )
