"""The geometry of the console's charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.console.charts import HEAT_LEVELS, bars, heat_grid, step_chart

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_bars_are_scaled_to_the_largest_value() -> None:
    found = bars([("a", 50.0), ("b", 200.0), ("c", 0.0), ("d", -5.0)], "{:.0f}".format)
    assert [(b.label, b.length, b.shown) for b in found] == [
        ("a", 25.0, "50"),
        ("b", 100.0, "200"),
        ("c", 0.0, "0"),
        ("d", 0.0, "-5"),
    ]
    assert [b.length for b in bars([("x", 0.0)])] == [0.0]
    assert bars([]) == []


def test_heat_grid_shades_by_count_and_fills_missing_cells() -> None:
    grid = heat_grid({(5, 1): 10, (5, 2): 1, (1, 1): 5}, rows=(5, 1), columns=(1, 2))
    assert [[(c.row, c.column, c.count, c.level) for c in row] for row in grid] == [
        [(5, 1, 10, HEAT_LEVELS - 1), (5, 2, 1, 1)],
        [(1, 1, 5, 2), (1, 2, 0, 0)],
    ]
    assert all(cell.level == 0 for row in heat_grid({}, (1,), (1, 2)) for cell in row)


def test_step_chart_holds_each_value_until_the_next_point() -> None:
    chart = step_chart(
        [(T0, 100), (T0 + timedelta(days=50), 40)], T0 + timedelta(days=100), width=100, height=100
    )
    assert chart is not None
    # From (0, y=0) flat to x=50, down to y=60 (score 40), flat to the end.
    assert chart.path == "M0.0,0.0H50.0V60.0H100.0"
    assert chart.dots == [(0.0, 0.0), (50.0, 60.0)]
    assert [t.label for t in chart.y_ticks] == ["0", "25", "50", "75", "100"]
    assert chart.x_ticks[0].label == "2025-01-01"
    assert chart.x_ticks[-1].at == 100.0


def test_step_chart_labels_hours_over_a_short_span() -> None:
    chart = step_chart([(T0, 100), (T0 + timedelta(hours=6), 40)], T0 + timedelta(hours=8))
    assert chart is not None
    assert [t.label for t in chart.x_ticks] == [
        "01-01 00:00",
        "01-01 02:00",
        "01-01 04:00",
        "01-01 06:00",
        "01-01 08:00",
    ]
    still = step_chart([(T0, 100)], T0 + timedelta(seconds=90))
    assert still is not None
    assert [t.label for t in still.x_ticks] == ["01-01 00:00", "01-01 00:01"]  # no label twice in a row


def test_step_chart_of_one_point_and_of_none() -> None:
    chart = step_chart([(T0, 70)], T0 - timedelta(days=1), width=10, height=10)
    assert chart is not None
    assert chart.path == "M0.0,3.0H0.0"  # `until` before the point: drawn up to the point
    assert step_chart([], T0) is None
