"""The named groups of the portfolio analyses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.signals.bands import RfmSegment, Trend, rfm_segment, size_band, tenure_band, trend


@pytest.mark.parametrize(
    ("employees", "band"),
    [
        (None, "unknown"),
        (0, "micro (<10)"),
        (9, "micro (<10)"),
        (10, "small (10-49)"),
        (49, "small (10-49)"),
        (50, "medium (50-249)"),
        (249, "medium (50-249)"),
        (250, "large (250+)"),
    ],
)
def test_size_bands(employees: int | None, band: str) -> None:
    assert size_band(employees) == band


@pytest.mark.parametrize(
    ("years", "band"),
    [
        (None, "unknown"),
        (-1, "unknown"),
        (0, "<1 year"),
        (0.99, "<1 year"),
        (1, "1-3 years"),
        (3, "3-5 years"),
        (5, "5-10 years"),
        (10, "10+ years"),
    ],
)
def test_tenure_bands(years: float | None, band: str) -> None:
    assert tenure_band(years) == band


@pytest.mark.parametrize(
    ("latest", "previous", "expected"),
    [
        (106, 100, Trend.GROWING),
        (105, 100, Trend.STABLE),  # exactly +5 %: stable
        (95, 100, Trend.STABLE),
        (94, 100, Trend.SHRINKING),
        (None, 100, Trend.UNKNOWN),
        (100, None, Trend.UNKNOWN),
        (100, 0, Trend.UNKNOWN),
        (Decimal("1050000.01"), Decimal("1000000"), Trend.GROWING),
    ],
)
def test_trend(latest: Decimal | int | None, previous: Decimal | int | None, expected: Trend) -> None:
    assert trend(latest, previous) is expected


def test_every_rfm_cell_has_a_segment_and_the_corners_are_the_usual_ones() -> None:
    grid = {(r, f): rfm_segment(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert grid[5, 5] is RfmSegment.CHAMPIONS
    assert grid[4, 4] is RfmSegment.LOYAL
    assert grid[5, 1] is RfmSegment.NEW
    assert grid[1, 5] is RfmSegment.CANNOT_LOSE
    assert grid[2, 3] is RfmSegment.AT_RISK
    assert grid[2, 1] is RfmSegment.HIBERNATING
    assert grid[1, 1] is RfmSegment.LOST
    assert grid[3, 3] is RfmSegment.NEEDS_ATTENTION
    # More recent, other things equal, is never a worse-sounding segment than lost.
    assert all(grid[r, f] is not RfmSegment.LOST for r in range(2, 6) for f in range(1, 6))


@pytest.mark.parametrize(("r", "f"), [(0, 3), (3, 6)])
def test_quintiles_out_of_range(r: int, f: int) -> None:
    with pytest.raises(ValueError, match="quintiles"):
        rfm_segment(r, f)
