"""The named groups the portfolio analyses speak in: size and tenure bands, revenue trends, RFM segments.

Pure: the SQL computes numbers (employees, years, quintiles); these functions name them, in one place, so
that the API, the console and the tests agree.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

__all__ = [
    "RfmSegment",
    "Trend",
    "rfm_segment",
    "size_band",
    "tenure_band",
    "trend",
]


def size_band(employees: int | None) -> str:
    """The EU size classes by headcount: micro (< 10), small (< 50), medium (< 250), large."""
    if employees is None:
        return "unknown"
    if employees < 10:
        return "micro (<10)"
    if employees < 50:
        return "small (10-49)"
    if employees < 250:
        return "medium (50-249)"
    return "large (250+)"


def tenure_band(years: float | None) -> str:
    """Years as a customer, in bands."""
    if years is None or years < 0:
        return "unknown"
    if years < 1:
        return "<1 year"
    if years < 3:
        return "1-3 years"
    if years < 5:
        return "3-5 years"
    if years < 10:
        return "5-10 years"
    return "10+ years"


class Trend(StrEnum):
    """Revenue of the last filed annual accounts against the year before."""

    GROWING = "growing"
    STABLE = "stable"
    SHRINKING = "shrinking"
    UNKNOWN = "unknown"


TREND_THRESHOLD = Decimal("0.05")
"""A change of revenue within ±5 % is stable."""


def trend(latest: Decimal | int | None, previous: Decimal | int | None) -> Trend:
    """Growing (> +5 %), shrinking (< -5 %) or stable; unknown without two years of revenue."""
    if latest is None or previous is None or previous <= 0:
        return Trend.UNKNOWN
    change = (Decimal(latest) - Decimal(previous)) / Decimal(previous)
    if change > TREND_THRESHOLD:
        return Trend.GROWING
    if change < -TREND_THRESHOLD:
        return Trend.SHRINKING
    return Trend.STABLE


class RfmSegment(StrEnum):
    """The usual names of RFM segments, from the recency and frequency quintiles (5 = best)."""

    CHAMPIONS = "champions"
    LOYAL = "loyal"
    POTENTIAL_LOYALISTS = "potential loyalists"
    NEW = "new customers"
    PROMISING = "promising"
    NEEDS_ATTENTION = "needs attention"
    ABOUT_TO_SLEEP = "about to sleep"
    AT_RISK = "at risk"
    CANNOT_LOSE = "cannot lose them"
    HIBERNATING = "hibernating"
    LOST = "lost"


def rfm_segment(recency: int, frequency: int) -> RfmSegment:
    """The segment of a customer from its recency and frequency quintiles (1-5, 5 = most recent, most
    frequent), after the widely used RFM grid."""
    for name in (recency, frequency):
        if not 1 <= name <= 5:
            raise ValueError(f"quintiles are 1 to 5, got {name}")
    r, f = recency, frequency
    if r >= 4 and f >= 4:
        return RfmSegment.CHAMPIONS if r == 5 else RfmSegment.LOYAL
    if r >= 4 and f >= 2:
        return RfmSegment.POTENTIAL_LOYALISTS
    if r == 5 and f == 1:
        return RfmSegment.NEW
    if r == 4 and f == 1:
        return RfmSegment.PROMISING
    if r == 3 and f == 3:
        return RfmSegment.NEEDS_ATTENTION
    if r == 3:
        return RfmSegment.ABOUT_TO_SLEEP if f <= 2 else RfmSegment.LOYAL
    if r <= 2 and f == 5:
        return RfmSegment.CANNOT_LOSE
    if r <= 2 and f >= 3:
        return RfmSegment.AT_RISK
    if r == 2:
        return RfmSegment.HIBERNATING
    return RfmSegment.LOST
